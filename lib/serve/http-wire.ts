// HTTP requests and responses as they travel between a proxy (or a handle's `fetch`) and a
// replica: flat arrays of strings and bytes, cheap for the v8 serializer, turned into WHATWG
// Request and Response objects at either end. A response body that is all there within one
// turn of the event loop travels whole; one still being produced (a ReadableStream of
// server-sent events, tokens) travels as its first chunks and a stream id the caller pulls
// the rest from (stream.ts).

/** A request: [key, method, url, headers as [name, value, ...], body or null]. */
export type WireRequest = [key: string, method: string, url: string, headers: string[], body: Uint8Array | null];

/**
 * A response: [status, headers as [name, value, ...], body bytes so far (or null), stream id
 * (0: the body is complete), statusText].
 */
export type WireResponse = [
  status: number,
  headers: string[],
  body: Uint8Array | null,
  stream: number,
  statusText: string,
];

/** Methods a failed replica's request may be retried for: they change nothing (RFC 9110 idempotent and safe). */
export function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** A WHATWG Request from the wire, aborted through `signal` when the client goes away. */
export function toRequest(w: WireRequest, signal: AbortSignal): Request {
  const [, method, url, flat, body] = w;
  const headers = new Headers();
  for (let i = 0; i + 1 < flat.length; i += 2) headers.append(flat[i]!, flat[i + 1]!);
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (body !== null && method !== 'GET' && method !== 'HEAD') init.body = body;
  return new Request(url, init);
}

/** A Request on the wire (a handle's `fetch` call): its body is read whole first. */
export async function fromRequest(req: Request, key: string): Promise<WireRequest> {
  const flat: string[] = [];
  req.headers.forEach((v, k) => {
    flat.push(k, v);
  });
  const body = req.body ? new Uint8Array(await req.arrayBuffer()) : null;
  return [key, req.method, req.url, flat, body];
}

/** Headers of a Response, flat; each Set-Cookie kept apart. */
export function flatHeaders(h: Headers): string[] {
  const flat: string[] = [];
  h.forEach((v, k) => {
    if (k !== 'set-cookie') flat.push(k, v);
  });
  for (const c of h.getSetCookie()) flat.push('set-cookie', c);
  return flat;
}

/** One buffer of chunks (no copy for one). */
export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
