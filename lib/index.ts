// The public API of sunray: Ray's core for Node.js. Nothing else lives here.

import {
  type ActorClass,
  type ActorHandle,
  ActorHandleBase,
  type ActorOptions,
  type AnyClass,
  makeActorClass,
  makeHandle,
  type UntypedActor,
} from './api/actor.js';
import {
  isClass,
  makeRemoteFunction,
  type RemoteFunction,
  type RemoteOptions,
} from './api/remote-function.js';
import { currentRuntimeOrStart } from './api/runtime.js';
import { InvalidArgumentError, NotInActorError, NotInitializedError, SunrayError } from './base/errors.js';
import { ObjectRef } from './base/object-ref.js';
import { checkToken } from './cluster/auth.js';
import type { InitOptions } from './node/driver.js';
import { currentRuntime, inWorker, unreadableRef } from './worker/context.js';

export type {
  ActorClass,
  ActorHandle,
  ActorMethod,
  ActorMethodOptions,
  ActorOptions,
  MethodNames,
  UntypedActor,
} from './api/actor.js';
export type {
  MultiReturnRemoteFunction,
  ObjectRefs,
  RemoteArgs,
  RemoteFunction,
  RemoteOptions,
  ResourceOptions,
  SchedulingStrategy,
  TaskOptions,
} from './api/remote-function.js';
export type { RemoteErrorCause, RemoteErrorInfo } from './base/errors.js';
export type { InitOptions } from './node/driver.js';
export { ObjectRef, ActorHandleBase };
export {
  ActorDiedError,
  ActorUnavailableError,
  ClusterConnectionError,
  GetTimeoutError,
  InvalidArgumentError,
  NotInActorError,
  NotInitializedError,
  ObjectLostError,
  ObjectRefReleasedError,
  OutOfMemoryError,
  OwnerDiedError,
  PendingCallsLimitError,
  RemoteError,
  SerializationError,
  SessionEndedError,
  SunrayError,
  TaskCancelledError,
  TaskError,
  TaskUnschedulableError,
  UnsafeDirectoryError,
  WorkerCrashedError,
  type WorkerStartDetails,
  WorkerStartError,
} from './base/errors.js';

/**
 * Starts sunray: an embedded local node (object store, scheduler, worker pool) in this process.
 * Inside a worker it does nothing: the worker is already connected to its node.
 */
export async function init(opts: InitOptions & { ignoreReinitError?: boolean } = {}): Promise<void> {
  if (currentRuntime()) {
    if (inWorker() || opts.ignoreReinitError) return;
    throw new SunrayError(
      'sunray is already initialized: call shutdown() first, or pass ignoreReinitError: true',
    );
  }
  // A bad token is refused before a node starts (joinCluster checks again, for its other callers).
  if (opts.token !== undefined) checkToken(opts.token, 'init({ token })');
  // The node layer is loaded here, in drivers only: workers import this module too.
  const { startDriver, embeddedNode } = await import('./node/driver.js');
  if (currentRuntime()) {
    throw new SunrayError('sunray was started while init() was loading (the API was used meanwhile)');
  }
  startDriver(opts);
  const node = embeddedNode();
  if (node && opts.address !== undefined && opts.address !== 'local') {
    try {
      const { joinCluster } = await import('./cluster/join.js');
      await whileAlive(joinCluster(node, opts as { address: string }));
    } catch (err) {
      await shutdown();
      throw err;
    }
  }
}

/**
 * Keeps the process alive until p settles. The node's own handles (its sockets to the
 * cluster, its workers) are unreferenced while it is idle, so that a program may end
 * when its work is done; a program awaiting init() or shutdown() is not done.
 */
async function whileAlive<T>(p: Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 1 << 30);
  try {
    return await p;
  } finally {
    clearInterval(hold);
  }
}

export function isInitialized(): boolean {
  return currentRuntime() !== undefined;
}

/** Stops the workers and frees the object store. Pending gets fail. */
export async function shutdown(): Promise<void> {
  const rt = currentRuntime();
  if (!rt || inWorker()) return;
  const { setRuntime } = await import('./worker/context.js');
  setRuntime(undefined);
  await whileAlive(rt.shutdown());
}

/** Makes a remote function (a task) or, given a class, an actor class. */
export function remote<C extends AnyClass, const G extends string = never>(
  cls: C,
  opts?: ActorOptions<G> & { module?: string },
): ActorClass<C, G>;
export function remote<A extends unknown[], R>(
  fn: (...args: A) => R,
  opts?: RemoteOptions,
): RemoteFunction<A, R>;
export function remote(fn: unknown, opts?: RemoteOptions & ActorOptions & { module?: string }): unknown {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(
      `remote() takes a function or a class, got ${fn === null ? 'null' : typeof fn}`,
    );
  }
  return isClass(fn)
    ? makeActorClass(fn as AnyClass, opts)
    : makeRemoteFunction(fn as (...args: unknown[]) => unknown, opts);
}

export interface GetOptions {
  /** Milliseconds to wait before GetTimeoutError (default: forever). */
  timeout?: number;
}

/** The value of a ref, or the values of an array of refs, once they are ready. */
export function get<T>(ref: ObjectRef<T>, opts?: GetOptions): Promise<T>;
export function get<const T extends readonly ObjectRef<unknown>[]>(
  refs: T,
  opts?: GetOptions,
): Promise<{ -readonly [K in keyof T]: T[K] extends ObjectRef<infer V> ? V : never }>;
export function get(
  x: ObjectRef<unknown> | readonly ObjectRef<unknown>[],
  opts: GetOptions = {},
): Promise<unknown> {
  // Not async: a get of one ready-soon ref is the hot path of a sync loop, and
  // every async layer adds promise hops. Errors still reject, never throw.
  try {
    checkTimeout(opts.timeout, 'get');
    if (x instanceof ObjectRef) {
      checkReadable(x, 'get');
      return currentRuntimeOrStart().core.getOne(x, opts.timeout);
    }
    if (!Array.isArray(x))
      throw new InvalidArgumentError('get() takes an ObjectRef or an array of ObjectRefs');
    for (const ref of x) if (ref instanceof ObjectRef) checkReadable(ref, 'get');
    return currentRuntimeOrStart().core.get(x, opts.timeout);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Refs that can never be read fail at once rather than wait forever: a released handle, and
 * a ref of a session that was shut down (without this, get() would start a new session with
 * default settings and wait in it for an object that session never had).
 */
function checkReadable(ref: ObjectRef<unknown>, op: 'get' | 'wait'): void {
  const err = unreadableRef(ref, `${op}()`);
  if (err) throw err;
}

/** Stores a value in the object store and returns a ref to it (synchronous, like ray.put). */
export function put<T>(value: T): ObjectRef<T> {
  return currentRuntimeOrStart().core.put(value);
}

export interface WaitOptions {
  /** How many refs must be ready (default 1). */
  numReturns?: number;
  /** Milliseconds to wait at most (default: forever). */
  timeout?: number;
}

/** Waits until numReturns of refs are ready (or the timeout): [ready, notReady], in the order given. */
export async function wait<T>(
  refs: readonly ObjectRef<T>[],
  opts: WaitOptions = {},
): Promise<[ObjectRef<T>[], ObjectRef<T>[]]> {
  checkTimeout(opts.timeout, 'wait');
  if (!Array.isArray(refs)) throw new InvalidArgumentError('wait() takes an array of ObjectRefs');
  for (const ref of refs) if (ref instanceof ObjectRef) checkReadable(ref, 'wait');
  const rt = currentRuntimeOrStart();
  return (await rt.core.wait(refs, opts.numReturns ?? 1, opts.timeout)) as [ObjectRef<T>[], ObjectRef<T>[]];
}

/**
 * Cancels the task behind a ref. A queued task is dropped; a running one's caller stops waiting
 * (TaskCancelledError) and its result is discarded, or with `force` its worker is killed.
 */
export function cancel(ref: ObjectRef<unknown>, opts: { force?: boolean } = {}): void {
  if (!(ref instanceof ObjectRef))
    throw new InvalidArgumentError('cancel() takes an ObjectRef returned by a task');
  currentRuntimeOrStart().core.cancelPending(ref, opts.force ?? false);
}

/** Kills an actor. With noRestart: false it is restarted if its maxRestarts allows. */
export function kill(handle: ActorHandleBase, opts: { noRestart?: boolean } = {}): void {
  if (!(handle instanceof ActorHandleBase)) throw new InvalidArgumentError('kill() takes an actor handle');
  const rt = currentRuntimeOrStart();
  rt.backend.request('killActor', Buffer.from(handle), opts.noRestart ?? true).catch(() => {});
}

/**
 * Inside an actor method: ends this actor, as Ray's `exit_actor()`. The calls running now
 * (this one included) finish and their results are delivered; then the actor's process
 * exits and the actor is dead for good (not restarted, whatever its maxRestarts). Calls not
 * started yet, and every later call on its handles, fail with ActorDiedError saying it
 * exited intentionally. Unlike Ray's, it returns: code after it in the method still runs.
 * Outside an actor (the driver, a task) it throws NotInActorError.
 */
export function exitActor(): void {
  const rt = currentRuntime();
  if (!rt?.exitActor) {
    throw new NotInActorError(
      'exitActor() was called outside an actor: call it inside an actor method to end that actor; ' +
        'to end an actor from outside, use sunray.kill(handle)',
    );
  }
  rt.exitActor();
}

/** A handle to a named actor; rejects with InvalidArgumentError if there is none. */
export async function getActor<T = UntypedActor>(
  name: string,
  opts: { namespace?: string } = {},
): Promise<ActorHandle<T>> {
  const rt = currentRuntimeOrStart();
  const found = await rt.backend.request('getActor', name, opts.namespace ?? rt.namespace);
  if (!found) {
    throw new InvalidArgumentError(
      `no live actor named '${name}' in namespace '${opts.namespace ?? rt.namespace}': create it with ` +
        'Cls.options({ name }).remote(), or pass the namespace it was created in',
    );
  }
  return makeHandle<T>(found.actorId, found.className, found.methods, false, rt);
}

export type Resources = Record<string, number>;

/** Resources free right now on this node (in the driver; in a worker use the async form). */
export function availableResources(): Resources {
  return nodeRequestSync('availableResources');
}

/** All resources of this node. */
export function clusterResources(): Resources {
  return nodeRequestSync('clusterResources');
}

/** availableResources() from anywhere, including inside tasks and actors. */
export function availableResourcesAsync(): Promise<Resources> {
  return currentRuntimeOrStart().backend.request('availableResources');
}

function nodeRequestSync<K extends 'availableResources' | 'clusterResources'>(kind: K): Resources {
  const rt = currentRuntimeOrStart();
  if (!rt.backend.requestSync) {
    throw new SunrayError(
      `${kind}() is synchronous only in the driver; inside a task use await ${kind}Async()`,
    );
  }
  return rt.backend.requestSync(kind as 'availableResources');
}

/** clusterResources() from anywhere, including inside tasks and actors. */
export function clusterResourcesAsync(): Promise<Resources> {
  return currentRuntimeOrStart().backend.request('clusterResources');
}

export interface RuntimeContext {
  nodeId: string;
  /** This process's id as an owner of objects ('driver' in the driver). */
  workerId: string;
  /** The running task's id (hex), inside a task or actor call. */
  taskId: string | undefined;
  taskName: string | undefined;
  /** The actor's id (hex), inside an actor. */
  actorId: string | undefined;
  /** GPU device ids assigned to the running task. */
  gpuIds: number[];
  namespace: string;
  isWorker: boolean;
  pid: number;
}

export function getRuntimeContext(): RuntimeContext {
  const rt = currentRuntimeOrStart();
  const ctx = rt.core.taskContext.getStore();
  return {
    nodeId: rt.backend.nodeId,
    workerId: rt.backend.workerId,
    taskId: ctx?.taskId?.toString('hex'),
    taskName: ctx?.taskName,
    actorId: ctx?.actorId ? Buffer.from(ctx.actorId).toString('hex') : undefined,
    gpuIds: ctx?.gpuIds ?? [],
    namespace: rt.namespace,
    isWorker: !rt.backend.isDriver,
    pid: process.pid,
  };
}

/** The objects this process owns, with their state, size and (if recorded) call site. */
export type { MemoryRow, RefKind } from './worker/ownership/summary.js';

/** This process's refs, owned and borrowed, each with why it is alive (like `ray memory`; see docs/memory.md). */
export function memorySummary(): import('./worker/ownership/summary.js').MemoryRow[] {
  const rt = currentRuntime();
  if (!rt) throw new NotInitializedError('memorySummary(): sunray is not initialized');
  return rt.core.memorySummary();
}

function checkTimeout(t: number | undefined, fn: string): void {
  if (t !== undefined && (typeof t !== 'number' || Number.isNaN(t) || t < 0)) {
    throw new InvalidArgumentError(`${fn}(): timeout is in milliseconds and must be >= 0, got ${String(t)}`);
  }
}
