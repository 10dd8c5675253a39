// The public API of sunray: Ray's core for Node.js. Nothing else lives here.

/**
 * Tasks, actors and objects across processes and machines: `init`, `remote`, `get`, `put`, `wait`, and the utilities (ActorPool, Queue, events).
 *
 * @module sunray
 */

import {
  type ActorClass,
  type ActorHandle,
  ActorHandleBase,
  type ActorOptions,
  type AnyClass,
  infoFromHints,
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
import { closeDashboard } from './dashboard/current.js';
import type { InitOptions } from './node/driver.js';
import { currentRuntime, inWorker, unreadableRef } from './worker/context.js';
import { ObjectRefGenerator } from './worker/generator-stream.js';

export type {
  ActorClass,
  ActorHandle,
  ActorMethod,
  ActorMethodOptions,
  ActorOptions,
  MethodNames,
  StreamingActorMethod,
  UntypedActor,
} from './api/actor.js';
/** The cluster's autoscaler (`sunray up`): `autoscaler.requestResources(bundles)` asks for room ahead of work. */
export { autoscaler } from './api/autoscaler.js';
export { type GetLogOptions, getLog, type LogFileList, type LogFileRow, listLogs } from './api/logs.js';
export {
  getCurrentPlacementGroup,
  getPlacementGroup,
  PlacementGroup,
  type PlacementGroupOptions,
  type PlacementGroupRow,
  type PlacementGroupSchedulingStrategy,
  type PlacementGroupState,
  type PlacementStrategy,
  placementGroup,
  placementGroupTable,
  removePlacementGroup,
} from './api/placement-group.js';
export type {
  ErrorClass,
  MultiReturnRemoteFunction,
  ObjectRefs,
  RemoteArgs,
  RemoteFunction,
  RemoteOptions,
  RemoteResult,
  ResourceOptions,
  RetryExceptions,
  SchedulingStrategy,
  StreamingRemoteFunction,
  TaskOptions,
  YieldOf,
} from './api/remote-function.js';
export { type PackedArchive, packWorkingDir, type RuntimeEnv } from './api/runtime-env.js';
export {
  type ActorSummary,
  DEFAULT_LIST_LIMIT,
  getTask,
  type ListOptions,
  type ListResult,
  listActors,
  listJobs,
  listNodes,
  listObjects,
  listPlacementGroups,
  listTasks,
  listWorkers,
  type ObjectSummary,
  type RowSelection,
  type StateFilter,
  summarizeActors,
  summarizeObjects,
  summarizeTasks,
  type TaskSummary,
} from './api/state.js';
export { type TraceEvent, timeline } from './api/timeline.js';
export type { RemoteErrorCause, RemoteErrorInfo } from './base/errors.js';
export { dashboardAddress, dashboardToken, dashboardUrl } from './dashboard/current.js';
export type { DashboardOptions, InitOptions } from './node/driver.js';
export type { ActorIsolation } from './protocol/actor-options.js';
export {
  type ActorDiedEvent,
  type ActorRestartedEvent,
  events,
  type InfeasibleEvent,
  type NodeAddedEvent,
  type NodeDeadEvent,
  type SunrayEventMap,
  SunrayEvents,
  type WorkerExitEvent,
} from './protocol/events.js';
export type { JobStateRow, JobStatus, SubmittedJob, SubmittedJobStatus } from './protocol/job.js';
export type {
  ActorStateName,
  ActorStateRow,
  NodeStateRow,
  ObjectReferenceType,
  ObjectStateRow,
  WorkerStateRow,
} from './protocol/state-rows.js';
export type {
  TaskErrorInfo,
  TaskStateChange,
  TaskStateName,
  TaskStateRow,
  TaskTypeName,
} from './protocol/task-events.js';
export { ActorPool, type PoolFn, type PoolGetOptions } from './util/actor-pool.js';
export { QUEUE_MAX_CONCURRENCY, Queue, type QueueOptions, type QueueWaitOptions } from './util/queue.js';
export { ObjectRef, ActorHandleBase };
export type { ReleaseOptions } from './base/object-ref.js';
export { ObjectRefGenerator };
export {
  AbortError,
  ActorDiedError,
  ActorUnavailableError,
  ClusterConnectionError,
  GetTimeoutError,
  InvalidArgumentError,
  JobNotFoundError,
  JobServerError,
  LogNotFoundError,
  NotInActorError,
  NotInitializedError,
  ObjectLostError,
  ObjectRefReleasedError,
  OutOfMemoryError,
  OwnerDiedError,
  PendingCallsLimitError,
  PlacementGroupRemovedError,
  QueueEmptyError,
  QueueFullError,
  RemoteError,
  RuntimeEnvSetupError,
  RuntimeEnvTooLargeError,
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
 * What init() returns: a handle on the session it started. `await using ray = await
 * sunray.init()` shuts sunray down at the end of the block (Symbol.asyncDispose); callers
 * that ignore it use shutdown() as before.
 */
export interface SunrayContext {
  /** Whether this init() started sunray (false inside a worker, or with ignoreReinitError). */
  readonly started: boolean;
  /** shutdown() of the session this init() started; nothing when it started none. */
  shutdown(): Promise<void>;
  /** The same as shutdown(): called at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void>;
}

function contextOf(started: boolean): SunrayContext {
  const rt = currentRuntime();
  // Only the session this call started: a later session (after shutdown() and another
  // init()) is not this handle's to end.
  const end = async () => {
    if (started && currentRuntime() === rt) await shutdown();
  };
  return { started, shutdown: end, [Symbol.asyncDispose]: end };
}

/**
 * Starts sunray: an embedded local node (object store, scheduler, worker pool) in this process,
 * or with `address` one that joins a cluster. Inside a worker it does nothing: the worker is
 * already connected to its node. Resolves to a SunrayContext, for `await using`.
 */
export async function init(opts: InitOptions & { ignoreReinitError?: boolean } = {}): Promise<SunrayContext> {
  const started = Date.now(); // the warm wait below keeps init() as a whole under a second
  if (currentRuntime()) {
    if (inWorker() || opts.ignoreReinitError) return contextOf(false);
    throw new SunrayError(
      'sunray is already initialized: call shutdown() first, or pass ignoreReinitError: true',
    );
  }
  // A bad token is refused before a node starts (joinCluster checks again, for its other callers).
  if (opts.token !== undefined) checkToken(opts.token, 'init({ token })');
  // The node layer is loaded here, in drivers only: workers import this module too.
  const { startDriver, embeddedNode, withJobDefaults } = await import('./node/driver.js');
  opts = withJobDefaults(opts); // in a submitted job's driver: the job server's cluster
  if (currentRuntime()) {
    throw new SunrayError('sunray was started while init() was loading (the API was used meanwhile)');
  }
  startDriver(opts);
  const node = embeddedNode();
  if (node) {
    try {
      // The first puts find their pages ready (docs/store.md), yet init() stays under a second.
      await node.store.whenWarm(Math.max(0, INIT_WARM_WAIT_MS - (Date.now() - started)));
      if (opts.metricsPort !== undefined) await node.metrics.serve(opts.metricsPort, opts.metricsHost);
      if (opts.address !== undefined && opts.address !== 'local') {
        const { joinCluster } = await import('./cluster/join.js');
        await whileAlive(joinCluster(node, opts as { address: string }));
      }
      // After joining: the dashboard then asks for the cluster's token.
      if (opts.dashboard) {
        const { serveEmbeddedDashboard } = await import('./dashboard/embedded.js');
        await serveEmbeddedDashboard(node, opts);
      }
    } catch (err) {
      await shutdown();
      throw err;
    }
  }
  return contextOf(true);
}

/** How long after init() was called it stops waiting for the object store's first warmAhead bytes. */
const INIT_WARM_WAIT_MS = 700;

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

/** host:port of this driver's /metrics (init({ metricsPort })); undefined when none is served (or in a worker). */
export async function metricsAddress(): Promise<string | undefined> {
  if (inWorker() || !currentRuntime()) return undefined;
  const { embeddedNode } = await import('./node/driver.js');
  return embeddedNode()?.metrics.address;
}

/** Whether sunray runs in this process: init() was called (or the API started it), and no shutdown() since. */
export function isInitialized(): boolean {
  return currentRuntime() !== undefined;
}

/** Stops the workers and frees the object store. Pending gets fail. */
export async function shutdown(): Promise<void> {
  const rt = currentRuntime();
  if (!rt || inWorker()) return;
  const { setRuntime } = await import('./worker/context.js');
  setRuntime(undefined);
  await closeDashboard();
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

/** Options of get(). */
export interface GetOptions {
  /** Milliseconds to wait before GetTimeoutError (default: forever). */
  timeout?: number;
  /**
   * Stops the wait when it aborts (already aborted: at once): get() rejects with AbortError,
   * its `cause` the signal's reason. The tasks keep running; cancel() them to stop them.
   */
  signal?: AbortSignal;
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
    const signal = opts.signal;
    if (signal !== undefined) checkSignal(signal, 'get');
    if (x instanceof ObjectRef) {
      checkReadable(x, 'get');
      return currentRuntimeOrStart().core.getOne(x, opts.timeout, signal);
    }
    if (!Array.isArray(x))
      throw new InvalidArgumentError('get() takes an ObjectRef or an array of ObjectRefs');
    for (const ref of x) if (ref instanceof ObjectRef) checkReadable(ref, 'get');
    return currentRuntimeOrStart().core.get(x, opts.timeout, signal);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Refs that can never be read fail at once rather than wait forever: a released handle, and
 * a ref of a session that was shut down (without this, get() would start a new session with
 * default settings and wait in it for an object that session never had).
 */
function checkReadable(ref: ObjectRef<unknown>, op: 'get' | 'wait' | 'asCompleted'): void {
  const err = unreadableRef(ref, `${op}()`);
  if (err) throw err;
}

/** Stores a value in the object store and returns a ref to it (synchronous, like ray.put). */
export function put<T>(value: T): ObjectRef<T> {
  return currentRuntimeOrStart().core.put(value);
}

/** Options of wait(). */
export interface WaitOptions {
  /** How many refs must be ready (default 1). */
  numReturns?: number;
  /** Milliseconds to wait at most (default: forever). */
  timeout?: number;
  /**
   * Stops the wait when it aborts (already aborted: at once): wait() rejects with AbortError,
   * its `cause` the signal's reason. The tasks keep running; cancel() them to stop them.
   */
  signal?: AbortSignal;
}

/** Waits until numReturns of refs are ready (or the timeout): [ready, notReady], in the order given. */
export async function wait<T>(
  refs: readonly ObjectRef<T>[],
  opts: WaitOptions = {},
): Promise<[ObjectRef<T>[], ObjectRef<T>[]]> {
  checkTimeout(opts.timeout, 'wait');
  if (opts.signal !== undefined) checkSignal(opts.signal, 'wait');
  if (!Array.isArray(refs)) throw new InvalidArgumentError('wait() takes an array of ObjectRefs');
  for (const ref of refs) if (ref instanceof ObjectRef) checkReadable(ref, 'wait');
  const rt = currentRuntimeOrStart();
  return (await rt.core.wait(refs, opts.numReturns ?? 1, opts.timeout, opts.signal)) as [
    ObjectRef<T>[],
    ObjectRef<T>[],
  ];
}

/** Options of asCompleted(). */
export interface AsCompletedOptions {
  /**
   * Milliseconds for the whole iteration (default: forever): a step still waiting then rejects
   * with GetTimeoutError.
   */
  timeout?: number;
  /** Stops the iteration when it aborts: the waiting step rejects with AbortError. */
  signal?: AbortSignal;
}

/**
 * The refs in the order their tasks finish (for progress bars and pipelines), each once, as an
 * async iterable: `for await (const ref of asCompleted(refs)) bar.tick(await get(ref))`. A
 * failed task's ref comes when it fails (get() of it throws its error). Already finished refs
 * come first, in the order given. Leaving the loop early stops the watching; the tasks keep
 * running. Costs O(n) for n refs in all.
 */
export function asCompleted<T>(
  refs: readonly ObjectRef<T>[],
  opts: AsCompletedOptions = {},
): AsyncIterable<ObjectRef<T>> {
  checkTimeout(opts.timeout, 'asCompleted');
  if (opts.signal !== undefined) checkSignal(opts.signal, 'asCompleted');
  if (!Array.isArray(refs)) throw new InvalidArgumentError('asCompleted() takes an array of ObjectRefs');
  refs.forEach((ref, i) => {
    if (!(ref instanceof ObjectRef))
      throw new InvalidArgumentError(`asCompleted() expects ObjectRefs; item ${i} is not`);
    checkReadable(ref, 'asCompleted');
  });
  return currentRuntimeOrStart().core.asCompleted(refs, { timeoutMs: opts.timeout, signal: opts.signal });
}

/** Options of cancel(). */
export interface CancelOptions {
  /** Kill the worker running the task (a running task cannot be interrupted in JS otherwise). */
  force?: boolean;
  /**
   * Also cancel the tasks it submitted while it ran, and theirs, as Ray does (default true).
   * false cancels only this task.
   */
  recursive?: boolean;
}

/**
 * Cancels the task behind a ref. A queued task is dropped; a running one's caller stops waiting
 * (TaskCancelledError) and its result is discarded, or with `force` its worker is killed. With
 * `recursive` (the default) the tasks it submitted while running are cancelled too, and theirs.
 * Given an ObjectRefGenerator, its generator stops at its next step: the refs it yielded stay
 * valid, and the consumer's next step after them rejects with TaskCancelledError.
 */
export function cancel(
  ref: ObjectRef<unknown> | ObjectRefGenerator<unknown>,
  opts: CancelOptions = {},
): void {
  if (ref instanceof ObjectRefGenerator) ref = ref.completed;
  if (!(ref instanceof ObjectRef))
    throw new InvalidArgumentError(
      'cancel() takes an ObjectRef returned by a task, or an ObjectRefGenerator',
    );
  currentRuntimeOrStart().core.cancelPending(ref, opts.force ?? false, opts.recursive ?? true);
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
  // It knows what the actor registered: its maxPendingCalls, groups and generator methods.
  return makeHandle<T>(found.actorId, found.className, found.methods, false, rt, infoFromHints(found.handle));
}

export {
  availableResources,
  availableResourcesAsync,
  clusterResources,
  clusterResourcesAsync,
  type NodeInfo,
  nodes,
  type Resources,
} from './api/resources.js';

/** Where the calling code runs: getRuntimeContext(). */
export interface RuntimeContext {
  /** This process's node (hex). */
  nodeId: string;
  /** This process's id as an owner of objects ('driver' in the driver). */
  workerId: string;
  /**
   * The job (the driver program) of the calling code, 8 hex digits as Ray's JobID: the
   * driver's own, and inside a task or actor the job of the driver whose work it is (every
   * call carries its job, on any node; an actor's calls run in its creator's job).
   * undefined only outside any call in a worker of a `sunray start` node.
   */
  jobId: string | undefined;
  /** The running task's id (hex), inside a task or actor call. */
  taskId: string | undefined;
  /** The running task's name (`fn.name`, or `Class.method` for an actor call). */
  taskName: string | undefined;
  /** The actor's id (hex), inside an actor. */
  actorId: string | undefined;
  /**
   * The resources the running task holds ({ CPU: 1 } by default); inside an actor, what the
   * actor holds for its life ({} unless it was given numCpus, numGpus or resources); {} outside
   * a task.
   */
  assignedResources: Record<string, number>;
  /** GPU device ids assigned to the running task. */
  gpuIds: number[];
  /** The namespace of named actors: the job's (init's `namespace`, default 'default'). */
  namespace: string;
  /** Inside a task or an actor (a worker process), not the driver. */
  isWorker: boolean;
  /** This process's pid. */
  pid: number;
}

/** Where the calling code runs: its node, process, job, task or actor, resources and namespace. */
export function getRuntimeContext(): RuntimeContext {
  const rt = currentRuntimeOrStart();
  const ctx = rt.core.taskContext.getStore();
  return {
    nodeId: rt.backend.nodeId,
    workerId: rt.backend.workerId,
    jobId: rt.jobId,
    taskId: ctx?.taskId?.toString('hex'),
    taskName: ctx?.taskName,
    actorId: ctx?.actorId ? Buffer.from(ctx.actorId).toString('hex') : undefined,
    assignedResources: ctx ? { ...ctx.assignedResources } : {},
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

function checkSignal(signal: unknown, fn: string): void {
  // Duck-typed, as other libraries' signals (e.g. a polyfill's) work the same.
  const s = signal as Partial<AbortSignal> | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function'
  ) {
    throw new InvalidArgumentError(
      `${fn}(): signal must be an AbortSignal (from an AbortController), got ${typeof signal}`,
    );
  }
}

function checkTimeout(t: number | undefined, fn: string): void {
  if (t !== undefined && (typeof t !== 'number' || Number.isNaN(t) || t < 0)) {
    throw new InvalidArgumentError(`${fn}(): timeout is in milliseconds and must be >= 0, got ${String(t)}`);
  }
}
