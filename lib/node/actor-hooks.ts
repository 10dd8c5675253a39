// What the actor manager (actor-manager.ts) needs of the rest of its node: the parts of the
// worker pool it places actors with, and the node's hooks (functions, dispatch, resubmits,
// runtime envs). Unit tests give fakes of both.
import type { FunctionDef, TaskSpec } from '../protocol/spec.js';
import type { ResultSink } from './owner-router.js';
import type { WorkerPool } from './worker-pool.js';
import type { WorkerSlot } from './worker-slot.js';

/** What the actor manager needs of the worker pool (worker-pool.ts). */
export type ActorWorkers<W extends WorkerSlot> = Pick<WorkerPool<W>, PoolStarts | PoolHosts>;
type PoolStarts = 'mayStart' | 'atCap' | 'warnAtCap' | 'spawn';
type PoolHosts = 'hostActor' | 'hostWarm' | 'hostSharedWarm' | 'spawnSharedHost';

/** What the actor manager asks of the rest of the node. */
export interface ActorManagerHooks {
  /** The function (class) of a spec submitted here. */
  defOf(spec: TaskSpec): FunctionDef;
  /** A dispatch pass soon (local-task-manager.ts): placing actors is part of it. */
  scheduleDispatch(): void;
  /** Whether the node has outstanding work may have changed (an actor died). */
  busyChanged(): void;
  /** Submits a spec again, to be placed anew (spillback: actor-spillback.ts). */
  resubmit(spec: TaskSpec, def: FunctionDef, owner: ResultSink, retriesLeft?: number): void;
  /** Whether a runtime env is set up on this node (its setup starts on the first ask). */
  envReady?(envText: string): 'ready' | 'pending' | Error;
}
