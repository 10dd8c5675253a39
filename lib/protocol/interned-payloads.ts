// Small results that repeat (true, 0, 'ok', a status code) are common: a million tasks that
// each return 'ok' would otherwise keep a million identical Buffers (~100 B each) in the
// owner until their refs go. Equal small payloads share one Buffer instead. Payloads are
// never written to once received, so sharing is safe.

/** Payloads up to this size are interned. */
const SMALL_PAYLOAD = 32;
const MAX_INTERNED = 1024;
const interned = new Map<string, Buffer>();

/** A copy of view that the caller may keep: for small payloads, one shared by equal ones. */
export function keepPayload(view: Buffer): Buffer {
  if (view.length > SMALL_PAYLOAD) return Buffer.from(view);
  const key = view.toString('latin1');
  let b = interned.get(key);
  if (b === undefined) {
    b = Buffer.from(view);
    if (interned.size >= MAX_INTERNED) interned.clear();
    interned.set(key, b);
  }
  return b;
}
