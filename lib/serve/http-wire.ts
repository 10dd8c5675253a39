// HTTP requests and responses as they travel between a proxy (or a handle's `fetch`) and a
// replica: a few strings and bytes, cheap for the v8 serializer (headers are one string of
// lines, name and value apart: neither may hold a line break in HTTP), turned into WHATWG
// Request and Response objects at either end. A response body that is all there within one
// turn of the event loop travels whole; one still being produced (a ReadableStream of
// server-sent events, tokens) travels as its first chunks and a stream id the caller pulls
// the rest from (stream.ts).

/** A request: [key, method, url, headers as 'name\nvalue\nname\nvalue', body or null]. */
export type WireRequest = [
  key: string,
  method: string,
  url: string,
  headers: string,
  body: Uint8Array | null,
];

/**
 * A response: [status, headers as 'name\nvalue\n...', body bytes so far (or null), stream id
 * (0: the body is complete), statusText].
 */
export type WireResponse = [
  status: number,
  headers: string,
  body: Uint8Array | null,
  stream: number,
  statusText: string,
];

/** Methods a failed replica's request may be retried for: they change nothing (RFC 9110 idempotent and safe). */
export function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** A request's cancellation: aborted by the caller's cancel, seen through `request.signal`. */
export interface LazyAbort {
  controller: AbortController | undefined;
  aborted: unknown;
}

/**
 * A WHATWG Request from the wire. Its `signal` is made on first use and aborts when the caller
 * cancels the request (the client went away): a Request built with a signal of its own costs
 * three times one without, on every request, while few handlers ever look at it.
 */
export function toRequest(w: WireRequest, abort: LazyAbort): Request {
  const [, method, url, joined, body] = w;
  const flat = splitHeaders(joined);
  const headers: [string, string][] = [];
  forEachHeader(flat, (name, value) => headers.push([name, value]));
  const init: RequestInit = { method, headers };
  if (body !== null && method !== 'GET' && method !== 'HEAD') init.body = body;
  const req = new Request(url, init);
  Object.defineProperty(req, 'signal', {
    get() {
      if (!abort.controller) {
        abort.controller = new AbortController();
        if (abort.aborted !== undefined) abort.controller.abort(abort.aborted);
      }
      return abort.controller.signal;
    },
    configurable: true,
  });
  return req;
}

/** Aborts a request made by toRequest (now, or when its signal is first read). */
export function abortRequest(abort: LazyAbort, reason: unknown): void {
  abort.aborted ??= reason;
  abort.controller?.abort(reason);
}

/** A Request on the wire (a handle's `fetch` call): its body is read whole first. */
export async function fromRequest(req: Request, key: string): Promise<WireRequest> {
  let joined = '';
  req.headers.forEach((v, k) => {
    joined += joined === '' ? `${k}\n${v}` : `\n${k}\n${v}`;
  });
  const body = req.body ? new Uint8Array(await req.arrayBuffer()) : null;
  return [key, req.method, req.url, joined, body];
}

/** Headers of a Response as wire lines; each Set-Cookie kept apart. */
export function joinHeaders(h: Headers): string {
  let joined = '';
  let cookies = false;
  h.forEach((v, k) => {
    if (k === 'set-cookie') cookies = true;
    else joined += joined === '' ? `${k}\n${v}` : `\n${k}\n${v}`;
  });
  if (cookies)
    for (const c of h.getSetCookie()) joined += joined === '' ? `set-cookie\n${c}` : `\nset-cookie\n${c}`;
  return joined;
}

/** Wire header lines as [name, value, name, value, ...]. */
export function splitHeaders(joined: string): string[] {
  return joined === '' ? [] : joined.split('\n');
}

/** Calls `each` with every name and value of a flat header list (name, value, name, ...). */
export function forEachHeader(flat: readonly string[], each: (name: string, value: string) => void): void {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i];
    const value = flat[i + 1];
    if (name !== undefined && value !== undefined) each(name, value);
  }
}

/** One buffer of chunks (no copy for one). */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const [only] = chunks;
  if (chunks.length === 1 && only) return only;
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
