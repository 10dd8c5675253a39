// Streaming from a replica to its caller (a proxy writing an HTTP body, a handle iterating a
// generator method). A stream is pulled: the replica's first answer carries what was ready at
// once and a stream id; the caller then calls `pull(id)` on the replica, one call in flight
// per stream, and each pull returns as soon as at least one chunk is there, with every chunk
// ready by then (a generator actor method would send one object per chunk: not measured
// yet). Both ends meet only through `StreamRegistry` (replica) and `pullStream` (caller), so
// swapping the pulls for a generator changes these two and nothing else.

/** What a stream reads from: a body's reader (bytes) or a generator method's iterator (values). */
export interface StreamSource {
  read(): Promise<IteratorResult<unknown>>;
  cancel(reason?: unknown): unknown;
}

/** Bytes of one pull at most: a fast producer is sent in slices. */
const MAX_PULL_BYTES = 1 << 20;
const TICK = Symbol('tick');

interface Entry {
  source: StreamSource;
  bytes: boolean;
  pending?: Promise<IteratorResult<unknown>>;
  pulling: boolean;
  lastPull: number;
  onEnd: () => void;
}

/** A chunk: bytes for a body, an array of values for a generator. */
export type Chunk = Uint8Array | unknown[] | null;

/** The replica's open streams. */
export class StreamRegistry {
  private nextId = 1;
  private readonly streams = new Map<number, Entry>();
  private readonly reaper: ReturnType<typeof setInterval>;

  /** Streams nobody pulls for idleMs (their caller died) are cancelled. */
  constructor(private readonly idleMs = 60_000) {
    this.reaper = setInterval(() => this.reap(), Math.min(idleMs, 10_000));
    this.reaper.unref();
  }

  /**
   * Reads what the source has ready now. Returns it, and the id to pull the rest from (0: the
   * source is done and forgotten). `onEnd` runs once when the stream ends, fails or is cancelled.
   */
  async start(source: StreamSource, bytes: boolean, onEnd: () => void): Promise<[Chunk, number]> {
    const e: Entry = { source, bytes, pulling: false, lastPull: Date.now(), onEnd };
    let first: { chunk: Chunk; done: boolean };
    try {
      first = await this.readReady(e, false);
    } catch (err) {
      onEnd();
      throw err;
    }
    if (first.done) {
      onEnd();
      return [first.chunk, 0];
    }
    const id = this.nextId++;
    this.streams.set(id, e);
    return [first.chunk, id];
  }

  /** The next chunks of a stream: waits for one, then takes all that are ready. */
  async pull(id: number): Promise<[Chunk, boolean]> {
    const e = this.streams.get(id);
    if (!e) return [null, true]; // cancelled, or reaped
    e.pulling = true;
    try {
      const { chunk, done } = await this.readReady(e, true);
      if (done) this.end(id, e);
      return [chunk, done];
    } catch (err) {
      this.end(id, e);
      throw err;
    } finally {
      e.pulling = false;
      e.lastPull = Date.now();
    }
  }

  /** Cancels a stream: its source's cancel() runs (a ReadableStream's cancel, a generator's return). */
  cancel(id: number, reason?: unknown): void {
    const e = this.streams.get(id);
    if (!e) return;
    this.end(id, e);
    try {
      void Promise.resolve(e.source.cancel(reason)).catch(() => {});
    } catch {
      // a source that throws on cancel is cancelled all the same
    }
  }

  /** Streams open. */
  get size(): number {
    return this.streams.size;
  }

  private end(id: number, e: Entry): void {
    if (this.streams.get(id) === e) this.streams.delete(id);
    e.onEnd();
  }

  private reap(): void {
    const now = Date.now();
    for (const [id, e] of this.streams) {
      if (!e.pulling && now - e.lastPull > this.idleMs)
        this.cancel(id, new Error('no caller pulled this stream'));
    }
  }

  private async readReady(e: Entry, waitFirst: boolean): Promise<{ chunk: Chunk; done: boolean }> {
    const items: unknown[] = [];
    let size = 0;
    let tick: Promise<typeof TICK> | undefined;
    let mustWait = waitFirst;
    for (;;) {
      const p = e.pending ?? e.source.read();
      e.pending = undefined;
      let r: IteratorResult<unknown> | typeof TICK;
      if (mustWait) {
        r = await p;
        mustWait = false;
      } else {
        tick ??= new Promise((resolve) => setImmediate(resolve, TICK));
        r = await Promise.race([p, tick]);
      }
      if (r === TICK) {
        e.pending = p;
        return { chunk: this.pack(e, items), done: false };
      }
      if (r.done) return { chunk: this.pack(e, items), done: true };
      items.push(r.value);
      if (e.bytes) size += (r.value as Uint8Array).byteLength;
      if (size >= MAX_PULL_BYTES) return { chunk: this.pack(e, items), done: false };
    }
  }

  private pack(e: Entry, items: unknown[]): Chunk {
    if (!e.bytes) return items;
    if (items.length === 0) return null;
    if (items.length === 1) return items[0] as Uint8Array;
    let n = 0;
    for (const c of items) n += (c as Uint8Array).byteLength;
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of items) {
      out.set(c as Uint8Array, at);
      at += (c as Uint8Array).byteLength;
    }
    return out;
  }
}

/** A body reader as a StreamSource. */
export function bodySource(body: ReadableStream<Uint8Array>): StreamSource {
  const reader = body.getReader();
  return {
    read: () => reader.read() as Promise<IteratorResult<unknown>>,
    cancel: (reason) => reader.cancel(reason),
  };
}

/** A generator's (or any iterable's) iterator as a StreamSource. */
export function iteratorSource(it: AsyncIterator<unknown> | Iterator<unknown>): StreamSource {
  return {
    read: async () => await it.next(),
    cancel: async () => {
      await it.return?.(undefined);
    },
  };
}

/**
 * The caller's side: the chunks of stream `id`, pulled one call at a time until the replica
 * says it is done. `pull` makes the call (replica.pull.remote(id), awaited). Breaking out of the
 * loop does not cancel: the caller cancels on the replica itself.
 */
export async function* pullStream(
  pull: (id: number) => Promise<[Chunk, boolean]>,
  id: number,
): AsyncGenerator<Chunk> {
  for (;;) {
    const [chunk, done] = await pull(id);
    if (chunk !== null && !(Array.isArray(chunk) && chunk.length === 0)) yield chunk;
    if (done) return;
  }
}
