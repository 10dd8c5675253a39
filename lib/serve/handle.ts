// Handles: how code calls a deployment (from the driver, or from another deployment's
// replica: model composition). `handle.method.remote(...args)` routes the call to a replica
// (power of two choices, the caller's queue and backpressure, router.ts) and gives a
// DeploymentResponse, which is awaitable; `handle.options({ stream: true })` gives a
// DeploymentResponseGenerator for generator methods. Handles are typed from the class:
// `handle.predict.remote(21)` checks against `predict`'s parameters.
import * as sunray from '../index.js';
import type { HandleMarker } from './deployment.js';
import { BackPressureError, fromRemote, RequestCancelledError } from './errors.js';
import { forEachHeader, fromRequest, splitHeaders, type WireResponse } from './http-wire.js';
import type { StreamHead } from './replica.js';
import { QUEUE_FULL, type Waiting } from './router.js';
import { type ReplicaInfo, type RouterEntry, requestKey, routerFor } from './routing.js';
import { type Chunk, pullStream } from './stream.js';

type AnyFn = (...args: never[]) => unknown;
/**
 * The class of a handle fetched by name without a type (`getAppHandle('app')`): every method
 * takes and returns unknown, so the caller narrows what comes back.
 */
export type Untyped = Record<string, (...args: unknown[]) => unknown>;

/** Names of T's methods. */
export type MethodName<T> = { [K in keyof T]: T[K] extends AnyFn ? K : never }[keyof T] & string;

/** An argument of a handle call: the value, or a DeploymentResponse giving it (passed on when it resolves). */
export type HandleArgs<A extends readonly unknown[]> = { [K in keyof A]: A[K] | DeploymentResponse<A[K]> };

/** What a generator method yields. */
export type Yielded<R> = Awaited<R> extends AsyncIterable<infer Y>
  ? Y
  : Awaited<R> extends Iterable<infer Y>
    ? Y
    : unknown;

/** One method of a handle. */
export interface DeploymentMethod<A extends unknown[], R> {
  /** Calls the method on a replica. */
  remote(...args: HandleArgs<A>): DeploymentResponse<Awaited<R>>;
}

/** One generator method of a streaming handle. */
export interface StreamingDeploymentMethod<A extends unknown[], R> {
  /** Calls the generator method on a replica; its values arrive as they are yielded. */
  remote(...args: HandleArgs<A>): DeploymentResponseGenerator<Yielded<R>>;
}

/** Options of `handle.options()`. */
export interface HandleOptions<T> {
  /** The method `handle.remote()` calls. */
  methodName?: MethodName<T>;
  /** Calls give a DeploymentResponseGenerator (the methods are generators). */
  stream?: boolean;
}

/** The members every handle has, beside its methods. */
export interface DeploymentHandleBase<T> {
  /** The deployment it calls. */
  readonly deploymentName: string;
  /** The application the deployment belongs to. */
  readonly appName: string;
  /** A handle that streams: its methods give DeploymentResponseGenerators. */
  options(opts: HandleOptions<T> & { stream: true }): StreamingDeploymentHandle<T>;
  /** A handle with other options (`methodName` for `remote()`). */
  options(opts: HandleOptions<T>): DeploymentHandle<T>;
  /** Calls the method named by `options({ methodName })`. */
  remote(...args: unknown[]): DeploymentResponse<unknown>;
}

/** A typed handle to a deployment of class T: one `.remote()` per method. */
export type DeploymentHandle<T> = {
  readonly [K in MethodName<T>]: T[K] extends (...args: infer A) => infer R ? DeploymentMethod<A, R> : never;
} & DeploymentHandleBase<T>;

/** A handle whose method calls stream (options({ stream: true })). */
export type StreamingDeploymentHandle<T> = {
  readonly [K in MethodName<T>]: T[K] extends (...args: infer A) => infer R
    ? StreamingDeploymentMethod<A, R>
    : never;
} & Omit<DeploymentHandleBase<T>, 'remote'> & {
    /** Calls the method named by `options({ methodName })`, streaming. */
    remote(...args: unknown[]): DeploymentResponseGenerator<unknown>;
  };

/** Options of `DeploymentResponse.result()`. */
export interface ResultOptions {
  /** Milliseconds to wait before GetTimeoutError (default: forever). */
  timeoutMs?: number;
}

/** The result of a handle call: await it (or `.result()`), or `.cancel()` it. */
export class DeploymentResponse<T> implements PromiseLike<T> {
  private readonly promise: Promise<T>;
  private readonly call: Call;

  /** @internal */
  constructor(call: Call, promise: Promise<T>) {
    this.call = call;
    this.promise = promise;
    promise.catch(() => {}); // rejections reach whoever awaits
  }

  // biome-ignore lint/suspicious/noThenProperty: a DeploymentResponse is awaitable, as Ray's is.
  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.promise.then(onfulfilled, onrejected);
  }

  /** The result, failing with sunray's GetTimeoutError after `timeoutMs`. */
  result(opts: ResultOptions = {}): Promise<T> {
    const ms = opts.timeoutMs;
    if (ms === undefined) return this.promise;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new sunray.GetTimeoutError(`DeploymentResponse.result(): no result after ${ms} ms`)),
        ms,
      );
      this.promise.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  /** Cancels the call: dropped if still queued; a running one's signal (fetch) or generator is stopped. */
  cancel(): void {
    this.call.cancel();
  }
}

/** The values a streaming call yields, as they are produced: `for await (const v of gen)`. */
export class DeploymentResponseGenerator<T> implements AsyncIterable<T> {
  /** @internal */
  constructor(
    private readonly call: Call,
    private readonly source: AsyncGenerator<T>,
  ) {}

  /** The values, in order, as the deployment yields them. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.source;
  }

  /** Stops the generator on the replica. */
  cancel(): void {
    this.call.cancel();
  }
}

/** One call's routing and cancellation. */
class Call {
  readonly key = requestKey();
  cancelled = false;
  waiting: Waiting<ReplicaInfo> | undefined;
  replica: ReplicaInfo | undefined;

  /** The replica the call went to (set before its first answer arrives). */
  routed(): ReplicaInfo {
    if (!this.replica) throw new Error('serve handle: a call answered before it was routed');
    return this.replica;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.waiting?.cancel(new RequestCancelledError('the call was cancelled while it waited for a replica'));
    this.replica?.actor.cancel.remote(this.key);
  }
}

async function resolveArgs(args: unknown[]): Promise<unknown[]> {
  if (!args.some((a) => a instanceof DeploymentResponse)) return args;
  return Promise.all(args.map((a) => (a instanceof DeploymentResponse ? a.result() : a)));
}

/** Takes a slot on one of the deployment's replicas (waiting if all are busy). */
async function acquire(entry: RouterEntry, call: Call): Promise<ReplicaInfo> {
  if (entry.router.size === 0 && !entry.gone) await entry.ready;
  if (entry.gone) throw entry.gone;
  const got = entry.router.acquire();
  if (got === QUEUE_FULL) {
    throw new BackPressureError(
      `deployment '${entry.deployment}': every replica is at maxOngoingRequests and ${entry.router.maxQueued} ` +
        'request(s) already wait in this caller: try again later, or raise numReplicas / maxQueuedRequests',
    );
  }
  if ('promise' in got) {
    call.waiting = got;
    entry.reportQueued();
    try {
      return await got.promise;
    } finally {
      call.waiting = undefined;
    }
  }
  return got;
}

async function callOnce<T>(
  entry: RouterEntry,
  call: Call,
  send: (r: ReplicaInfo) => sunray.ObjectRef<unknown>,
): Promise<T> {
  const replica = await acquire(entry, call);
  if (call.cancelled) {
    entry.router.release(replica);
    throw new RequestCancelledError('the call was cancelled before it was sent');
  }
  call.replica = replica;
  try {
    return (await sunray.get(send(replica))) as T;
  } catch (err) {
    if (err instanceof sunray.ActorDiedError) entry.reportDead(replica.id);
    throw fromRemote(err);
  } finally {
    entry.router.release(replica);
  }
}

/** A method call through the deployment's router. */
function callMethod(entry: RouterEntry, method: string, args: unknown[], stream: boolean): unknown {
  const call = new Call();
  if (!stream && method === 'fetch' && args.length === 1 && args[0] instanceof Request)
    return fetchCall(entry, call, args[0]);
  const start = resolveArgs(args).then((resolved) =>
    callOnce<unknown>(entry, call, (r) => r.actor.handleCall.remote(call.key, method, resolved, stream)),
  );
  if (!stream) return new DeploymentResponse(call, start);
  return new DeploymentResponseGenerator(call, streamValues(start as Promise<StreamHead>, call));
}

async function* streamValues(head: Promise<StreamHead>, call: Call): AsyncGenerator<unknown> {
  const first = await head;
  yield* first.items;
  if (first.stream === 0) return;
  const replica = call.routed();
  try {
    for await (const chunk of pullStream(
      (id) => sunray.get(replica.actor.pull.remote(id)) as Promise<[unknown[], boolean]>,
      first.stream,
    )) {
      yield* chunk as unknown[];
    }
  } finally {
    // The consumer stopped early (break): stop the generator on the replica too.
    call.cancel();
  }
}

/** `handle.fetch.remote(request)`: the Request goes as an HTTP request does, and a Response comes back. */
function fetchCall(entry: RouterEntry, call: Call, req: Request): DeploymentResponse<Response> {
  const p = fromRequest(req, call.key).then((wire) =>
    callOnce<WireResponse>(entry, call, (r) => r.actor.handleRequest.remote(wire)),
  );
  const res = p.then(([status, joined, body, stream, statusText]) => {
    const headers = splitHeaders(joined);
    const h = new Headers();
    forEachHeader(headers, (name, value) => h.append(name, value));
    const nullBody = status === 204 || status === 205 || status === 304;
    if (stream === 0) return new Response(nullBody ? null : body, { status, statusText, headers: h });
    const replica = call.routed();
    const chunks = pullStream(
      (id) => sunray.get(replica.actor.pull.remote(id)) as Promise<[Chunk, boolean]>,
      stream,
    );
    const rs = new ReadableStream<Uint8Array>({
      start(c) {
        if (body) c.enqueue(body);
      },
      async pull(c) {
        const n = await chunks.next();
        if (n.done) c.close();
        else c.enqueue(n.value as Uint8Array);
      },
      cancel() {
        call.cancel();
      },
    });
    return new Response(rs, { status, statusText, headers: h });
  });
  return new DeploymentResponse(call, res);
}

const RESERVED = new Set(['deploymentName', 'appName', 'options', 'remote', 'then']);

/** Makes a handle to a deployment (methods: the class's method names). */
export function makeHandle<T>(
  app: string,
  deployment: string,
  methods: readonly string[],
  opts: { methodName?: string; stream?: boolean } = {},
): DeploymentHandle<T> {
  const entry = (): RouterEntry => routerFor(app, deployment);
  const stream = opts.stream ?? false;
  const h: Record<string, unknown> = {};
  Object.defineProperties(h, {
    deploymentName: { value: deployment, enumerable: true },
    appName: { value: app, enumerable: true },
    options: {
      value: (o: { methodName?: string; stream?: boolean }) =>
        makeHandle(app, deployment, methods, { ...opts, ...o }),
    },
    remote: {
      value: (...args: unknown[]) => {
        const m = opts.methodName ?? '__call__';
        return callMethod(entry(), m, args, stream);
      },
    },
    toString: { value: () => `DeploymentHandle(${app}/${deployment})` },
  });
  for (const m of methods) {
    if (RESERVED.has(m)) continue;
    Object.defineProperty(h, m, {
      value: Object.freeze({ remote: (...args: unknown[]) => callMethod(entry(), m, args, stream) }),
    });
  }
  return h as DeploymentHandle<T>;
}

/** A handle from a marker in a replica's constructor arguments (model composition). */
export function handleFromMarker(
  app: string,
  m: HandleMarker['__sunray_serve_handle__'],
): DeploymentHandle<Untyped> {
  return makeHandle(app, m.deployment, m.methods);
}
