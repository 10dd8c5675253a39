// The HTTP proxy: an actor on each node that hosts replicas (and on the controller's node).
// It accepts HTTP/1.1 with keep-alive, finds the application by the longest matching route
// prefix, and hands the request to a replica of its ingress deployment chosen by power of
// two choices (router.ts), over a direct actor call. Past maxOngoingRequests per replica and
// maxQueuedRequests queued here it answers 503 at once. A client that goes away cancels its
// request on the replica. A replica that dies under a request: GET/HEAD/OPTIONS are retried
// once on another replica, other methods get 502. Streamed bodies are written as they come.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as sunray from '../index.js';
import { isIdempotent, splitHeaders, type WireRequest, type WireResponse } from './http-wire.js';
import { ROUTES_KEY, type Route } from './names.js';
import { QUEUE_FULL } from './router.js';
import {
  controllerHandle,
  dropRouter,
  type ReplicaInfo,
  type RouterEntry,
  requestKey,
  routerFor,
} from './routing.js';
import { type Chunk, pullStream } from './stream.js';

/** Request bodies larger than this are refused with 413. */
const MAX_BODY_BYTES = 100 * 1024 * 1024;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
]);
const HOST_OK = /^[\w.\-:[\]]{1,255}$/;

interface LiveRoute extends Route {
  entry: RouterEntry;
}

/** The proxy actor (made remote by module by the controller). */
export class ServeProxy {
  private readonly server: Server;
  private readonly listening: Promise<{ host: string; port: number }>;
  private routes: LiveRoute[] = [];
  private inflight = 0;
  private stopped = false;
  private readonly origin: { host: string; port: number };
  /** Calls to make in the next check phase: see send(). */
  private sends: Array<() => void> = [];
  private sendScheduled = false;

  constructor(opts: { host: string; port: number }) {
    this.origin = { ...opts };
    this.server = createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 5_000;
    this.listening = new Promise((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          new sunray.InvalidArgumentError(
            err.code === 'EADDRINUSE'
              ? `port ${opts.port} on ${opts.host} is in use (EADDRINUSE): give serve.run() another port, or stop what listens there`
              : `cannot listen on ${opts.host}:${opts.port}: ${err.message}`,
          ),
        );
      });
      this.server.listen(opts.port, opts.host, () => {
        const a = this.server.address();
        const port = typeof a === 'object' && a ? a.port : opts.port;
        this.origin.port = port;
        resolve({ host: opts.host, port });
      });
    });
    this.listening.catch(() => {});
    void this.pollRoutes();
  }

  /** Where it listens, once it does; throws if it cannot (port in use). */
  async ready(): Promise<{ host: string; port: number }> {
    return await this.listening;
  }

  /** Throws if the proxy cannot serve. */
  async checkHealth(): Promise<void> {
    await this.listening;
  }

  /** Stops taking connections and waits for requests in flight (at most timeoutMs). */
  async drain(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.server.close();
    this.server.closeIdleConnections();
    const end = Date.now() + timeoutMs;
    while (this.inflight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    this.server.closeAllConnections();
  }

  private async pollRoutes(): Promise<void> {
    let version = -1;
    while (!this.stopped) {
      try {
        const c = await controllerHandle();
        const changed = await sunray.get(c.listen.remote({ [ROUTES_KEY]: version }, 10_000));
        const next = changed[ROUTES_KEY];
        if (!next) continue;
        version = next.version;
        this.setRoutes((next.value as Route[] | null) ?? []);
      } catch {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private setRoutes(routes: Route[]): void {
    const keep = new Set(routes.map((r) => `${r.app}/${r.deployment}`));
    for (const r of this.routes) if (!keep.has(`${r.app}/${r.deployment}`)) dropRouter(r.app, r.deployment);
    this.routes = routes
      .map((r) => ({ ...r, prefix: normalizePrefix(r.prefix), entry: routerFor(r.app, r.deployment) }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  private match(path: string): LiveRoute | undefined {
    for (const r of this.routes) {
      const p = r.prefix;
      if (p === '/' || path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47)) return r;
    }
    return undefined;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const route = this.match(q < 0 ? url : url.slice(0, q));
    if (!route) {
      plain(res, 404, `no application is served at ${q < 0 ? url : url.slice(0, q)}\n`);
      req.resume();
      return;
    }
    this.inflight++;
    res.once('close', () => this.inflight--);
    const hasBody =
      req.headers['content-length'] !== undefined
        ? req.headers['content-length'] !== '0'
        : req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      void this.forward(req, res, route.entry, null, undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        plain(res, 413, `request body over ${MAX_BODY_BYTES} bytes\n`);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      void this.forward(
        req,
        res,
        route.entry,
        chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks),
        undefined,
      );
    });
  }

  /**
   * Makes a replica call in the check phase of this loop turn, with every other call of the turn:
   * requests arrive one socket event at a time, and calls made in one turn go to the replicas in
   * one batch (one wake-up per replica, not one per request).
   */
  private send<T>(make: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.sends.push(() => {
        try {
          resolve(make());
        } catch (err) {
          reject(err);
        }
      });
      if (!this.sendScheduled) {
        this.sendScheduled = true;
        setImmediate(this.flushSends);
      }
    });
  }

  private readonly flushSends = (): void => {
    this.sendScheduled = false;
    const sends = this.sends;
    this.sends = [];
    for (const f of sends) f();
  };

  private wire(req: IncomingMessage, body: Buffer | null, key: string): WireRequest {
    const raw = req.rawHeaders;
    let joined = '';
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] ?? '';
      if (HOP_BY_HOP.has(name.toLowerCase())) continue;
      joined += joined === '' ? `${name}\n${raw[i + 1]}` : `\n${name}\n${raw[i + 1]}`;
    }
    const host = req.headers.host;
    const authority = host && HOST_OK.test(host) ? host : `${this.origin.host}:${this.origin.port}`;
    return [key, req.method ?? 'GET', `http://${authority}${req.url ?? '/'}`, joined, body];
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    entry: RouterEntry,
    body: Buffer | null,
    exclude: string | undefined,
  ): Promise<void> {
    if (entry.gone) {
      plain(res, 503, `${entry.gone.message}\n`);
      return;
    }
    const key = requestKey();
    let replica: ReplicaInfo;
    const got = entry.router.acquire(exclude);
    if (got === QUEUE_FULL) {
      res.setHeader('retry-after', '1');
      plain(res, 503, 'Service Unavailable: every replica is busy and the queue is full; retry later\n');
      return;
    }
    if ('promise' in got) {
      entry.reportQueued();
      const onClose = () => got.cancel(new Error('client went away'));
      res.once('close', onClose);
      try {
        replica = await got.promise;
      } catch (err) {
        if (!res.destroyed && !res.headersSent) plain(res, 503, `${(err as Error).message}\n`);
        return;
      } finally {
        res.off('close', onClose);
      }
      if (res.destroyed) {
        entry.router.release(replica);
        return;
      }
    } else replica = got;

    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.router.release(replica);
    };
    let done = false;
    const onClose = () => {
      if (done) return;
      // The client went away before the response was complete: stop the request on the replica.
      replica.actor.cancel.remote(key);
      release();
    };
    res.once('close', onClose);
    let out: WireResponse;
    try {
      const wire = this.wire(req, body, key);
      const ref = await this.send(() => replica.actor.handleRequest.remote(wire));
      out = (await sunray.get(ref)) as WireResponse;
    } catch (err) {
      res.off('close', onClose);
      release();
      if (res.destroyed) return;
      if (err instanceof sunray.ActorDiedError) {
        entry.reportDead(replica.id);
        if (exclude === undefined && isIdempotent(req.method ?? 'GET')) {
          return this.forward(req, res, entry, body, replica.id);
        }
        plain(res, 502, 'Bad Gateway: the replica died while handling the request\n');
        return;
      }
      console.error('serve proxy: request failed:', err);
      plain(res, 500, 'Internal Server Error\n');
      return;
    }
    if (res.destroyed) return;
    const [status, joined, chunk, stream, statusText] = out;
    const headers = splitHeaders(joined);
    const noBody = req.method === 'HEAD' || status === 204 || status === 304;
    if (stream === 0) {
      done = true;
      release();
      res.off('close', onClose);
      if (!noBody && !hasHeader(headers, 'content-length') && !hasHeader(headers, 'transfer-encoding')) {
        headers.push('content-length', String(chunk ? chunk.byteLength : 0));
      }
      res.writeHead(status, statusText || undefined, headers);
      res.end(noBody || !chunk ? undefined : chunk);
      return;
    }
    res.writeHead(status, statusText || undefined, headers);
    res.flushHeaders();
    try {
      if (chunk && !noBody) await write(res, chunk);
      for await (const c of pullStream(
        (id) => sunray.get(replica.actor.pull.remote(id)) as Promise<[Chunk, boolean]>,
        stream,
      )) {
        if (res.destroyed) break;
        if (!noBody) await write(res, c as Uint8Array);
      }
      done = true;
      res.end();
    } catch (err) {
      // The stream failed after the head was sent: all we can do is cut the response short.
      if (!res.destroyed) {
        console.error('serve proxy: a streamed response failed:', err);
        res.destroy();
      }
    } finally {
      res.off('close', onClose);
      release();
    }
  }
}

function write(res: ServerResponse, chunk: Uint8Array): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const go = () => {
      res.off('drain', go);
      res.off('close', go);
      resolve();
    };
    res.on('drain', go);
    res.on('close', go);
  });
}

function hasHeader(flat: string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i]?.toLowerCase() === name) return true;
  return false;
}

function plain(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** '/api/' and 'api' as '/api'; '/' stays. */
export function normalizePrefix(p: string): string {
  let s = p.startsWith('/') ? p : `/${p}`;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}
