// A replica: the actor that holds one instance of a deployment's class and runs its requests.
// It turns wire requests into WHATWG Requests for the class's `fetch`, runs method calls from
// handles, counts requests (at most maxOngoingRequests run at once; the rest wait here, and
// the count is what the autoscaler reads), streams bodies and generators that are still being
// produced (stream.ts), aborts a request's signal when its caller cancels it, answers the
// controller's health checks, and drains before it is stopped.
import * as sunray from '../index.js';
import { type ClassSource, loadClass } from './class-source.js';
import { findDeploymentClass, HANDLE_MARKER, type HandleMarker } from './deployment.js';
import {
  abortRequest,
  joinHeaders,
  type LazyAbort,
  toRequest,
  type WireRequest,
  type WireResponse,
} from './http-wire.js';
import { bodySource, type Chunk, iteratorSource, StreamRegistry } from './stream.js';

/** What the controller gives a replica to start. */
export interface ReplicaInit {
  app: string;
  deployment: string;
  replicaId: string;
  source: ClassSource;
  initArgs: unknown[];
  /** Whether userConfig was given (undefined is a value too). */
  hasUserConfig: boolean;
  userConfig: unknown;
  maxOngoing: number;
}

/** A handle call's answer when the method streams: what was ready, and the stream to pull the rest from. */
export interface StreamHead {
  items: unknown[];
  stream: number;
}

const INTERNAL_ERROR = new TextEncoder().encode('Internal Server Error');

/** The replica actor (made remote by module by the controller). */
export class ServeReplica {
  private instance: Record<string, unknown> | undefined;
  private readonly started: Promise<void>;
  private maxOngoing: number;
  private running = 0;
  private ongoing = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly active = new Map<string, { abort?: LazyAbort; stream: number }>();
  private readonly streams = new StreamRegistry();
  private readonly init: ReplicaInit;

  constructor(init: ReplicaInit) {
    this.init = init;
    this.maxOngoing = init.maxOngoing;
    this.started = this.start();
    this.started.catch(() => {}); // ready() and checkHealth() report it
  }

  private async start(): Promise<void> {
    const { source, app } = this.init;
    const serveModule = source.kind === 'source' ? await import('./index.js') : undefined;
    const cls = await loadClass(source, serveModule, findDeploymentClass);
    const { handleFromMarker } = await import('./handle.js');
    const args = this.init.initArgs.map((a) => withHandles(a, (m) => handleFromMarker(app, m)));
    this.instance = new cls(...args);
    if (this.init.hasUserConfig) await this.applyConfig(this.init.userConfig);
  }

  private async applyConfig(userConfig: unknown): Promise<void> {
    if (typeof this.instance?.reconfigure !== 'function') {
      throw new sunray.InvalidArgumentError(
        `deployment ${this.init.deployment} was given a userConfig but its class has no reconfigure(userConfig) method`,
      );
    }
    await this.instance.reconfigure(userConfig);
  }

  /** The instance, once `started` has resolved (every caller awaits it first). */
  private constructed(): Record<string, unknown> {
    if (this.instance === undefined)
      throw new Error('serve replica: instance used before it was constructed');
    return this.instance;
  }

  /** Resolves once the instance is constructed (and reconfigured): where the replica runs. Throws its constructor's error. */
  async ready(): Promise<{ nodeId: string; pid: number }> {
    await this.started;
    return { nodeId: sunray.getRuntimeContext().nodeId, pid: process.pid };
  }

  /** An HTTP request for the class's `fetch`. A failure becomes a 500 (the error is logged here). */
  async handleRequest(w: WireRequest): Promise<WireResponse> {
    if (this.instance === undefined) await this.started;
    if (this.running < this.maxOngoing) this.running++;
    else await this.slot();
    this.ongoing++;
    const key = w[0];
    const abort: LazyAbort = { controller: undefined, aborted: undefined };
    const entry = { abort, stream: 0 };
    this.active.set(key, entry);
    const end = once(() => this.leave(key));
    try {
      const instance = this.constructed();
      const fetch = instance.fetch;
      if (typeof fetch !== 'function') {
        throw new sunray.InvalidArgumentError(
          `deployment ${this.init.deployment} has no fetch(request) method, so it cannot take HTTP requests: add one, or route to another deployment`,
        );
      }
      const res: unknown = await fetch.call(instance, toRequest(w, abort));
      if (!(res instanceof Response)) {
        throw new TypeError(
          `${this.init.deployment}.fetch() must return a Response (or a promise of one), got ${res === null ? 'null' : typeof res}`,
        );
      }
      const headers = joinHeaders(res.headers);
      if (res.body === null) return [res.status, headers, null, 0, res.statusText];
      const [chunk, stream] = await this.streams.start(bodySource(res.body), true, end);
      entry.stream = stream;
      return [res.status, headers, chunk as Uint8Array | null, stream, res.statusText];
    } catch (err) {
      if (abort.aborted === undefined) console.error(`serve: ${this.init.deployment}.fetch failed:`, err);
      return [500, 'content-type\ntext/plain; charset=utf-8', INTERNAL_ERROR, 0, 'Internal Server Error'];
    } finally {
      if (entry.stream === 0) end();
    }
  }

  /** A method call from a handle. With `stream`, the method's generator is streamed (StreamHead). */
  async handleCall(key: string, method: string, args: unknown[], stream: boolean): Promise<unknown> {
    if (this.instance === undefined) await this.started;
    if (this.running < this.maxOngoing) this.running++;
    else await this.slot();
    this.ongoing++;
    const entry = { stream: 0 };
    this.active.set(key, entry);
    const end = once(() => this.leave(key));
    try {
      const instance = this.constructed();
      const fn = instance[method];
      if (typeof fn !== 'function') {
        throw new sunray.InvalidArgumentError(`deployment ${this.init.deployment} has no method '${method}'`);
      }
      let result = fn.apply(instance, args);
      if (!stream) return await result;
      if (result && typeof result.then === 'function') result = await result;
      const it = result?.[Symbol.asyncIterator]?.() ?? result?.[Symbol.iterator]?.();
      if (!it || typeof result === 'string') {
        throw new sunray.InvalidArgumentError(
          `${this.init.deployment}.${method} was called with stream: true but returned no iterable: make it a generator (async *${method}() { yield ... })`,
        );
      }
      const [items, id] = await this.streams.start(iteratorSource(it), false, end);
      entry.stream = id;
      return { items: items as unknown[], stream: id } satisfies StreamHead;
    } finally {
      if (entry.stream === 0) end();
    }
  }

  /** The next chunks of a stream (see stream.ts). */
  pull(id: number): Promise<[Chunk, boolean]> {
    return this.streams.pull(id);
  }

  /** Cancels a request: its signal aborts, its stream (body or generator) is cancelled. */
  cancel(key: string): void {
    const e = this.active.get(key);
    if (!e) return;
    if (e.abort) abortRequest(e.abort, new Error('the client cancelled the request'));
    if (e.stream) this.streams.cancel(e.stream, new Error('the client cancelled the request'));
  }

  /** New userConfig: the class's reconfigure(userConfig) runs, in place. */
  async reconfigure(userConfig: unknown): Promise<void> {
    await this.started;
    await this.applyConfig(userConfig);
  }

  /** A new maxOngoingRequests. */
  setMaxOngoing(n: number): void {
    this.maxOngoing = n;
    while (this.running < this.maxOngoing) {
      const next = this.waiting.shift();
      if (!next) break;
      this.running++;
      next();
    }
  }

  /** Throws when the replica is not healthy: its constructor failed, or the class's checkHealth() throws. */
  async checkHealth(): Promise<void> {
    await this.started;
    const instance = this.constructed();
    if (typeof instance.checkHealth === 'function') await instance.checkHealth();
  }

  /** Requests running or waiting here, and open streams. */
  metrics(): { ongoing: number; streams: number } {
    return { ongoing: this.ongoing, streams: this.streams.size };
  }

  /**
   * Before the replica is stopped: waits graceMs for callers to learn it is going, then until no
   * request runs here, at most timeoutMs in all. Resolves to the requests still running.
   */
  async drain(graceMs: number, timeoutMs: number): Promise<number> {
    const end = Date.now() + timeoutMs;
    await sleep(Math.min(graceMs, timeoutMs));
    while (this.ongoing > 0 && Date.now() < end) await sleep(20);
    return this.ongoing;
  }

  private slot(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private leave(key: string): void {
    this.active.delete(key);
    this.ongoing--;
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Arguments with handle markers (at any depth of arrays and plain objects) made into handles. */
function withHandles(x: unknown, make: (m: HandleMarker[typeof HANDLE_MARKER]) => unknown): unknown {
  if (Array.isArray(x)) return x.map((v) => withHandles(v, make));
  if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    const marker = (x as Partial<HandleMarker>)[HANDLE_MARKER];
    if (marker) return make(marker);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = withHandles(v, make);
    return out;
  }
  return x;
}
