// NodeStats: the counts a node manager reports of its workers, tasks, actors and channels
// (NodeManager.stats(), sunray/testing's nodeStats()), and its load for heartbeats.
import type { ActorManager } from './actor-manager.js';
import type { LocalTaskManager } from './local-task-manager.js';
import type { ResourcePool } from './resource-pool.js';
import type { WorkerSlot } from './worker-slot.js';

/** What a node holds and has queued (NodeManager.loadSnapshot): heartbeats and placement. */
export interface LoadSnapshot {
  available: Record<string, number>;
  load: Record<string, number>;
  pending: number;
  infeasible: Record<string, number>;
  /** Actors waiting to be placed (for a worker process or for resources). */
  pendingActors: number;
  /** Of those, the ones waiting because the node runs its maxWorkerProcesses. */
  actorsAwaitingProcess: number;
  /** Waiting actors this node could run, by shape ("actor CPU=1"): a node with room would take them. */
  waitingActors: Record<string, number>;
}

/** An actor manager's waiting actors (ActorManager.waitingLoad), shapes as `actor <class>`. */
export interface WaitingLoad {
  pending: number;
  infeasible: Record<string, number>;
  awaitingProcess: number;
  feasible: Record<string, number>;
}

/** Counts of a node's workers and work (sunray/testing's nodeStats()). */
export interface NodeStats {
  /** Worker processes of the node, actors' included. */
  workers: number;
  /** Worker processes idle, ready for work. */
  idle: number;
  /** Tasks waiting to run (for a worker or for resources). */
  queued: number;
  /** Tasks and routed actor calls; direct actor calls are known only to their callers. */
  running: number;
  /** Actors placed on this node. */
  actors: number;
  /** Actors waiting to be placed: for a worker process (see maxWorkerProcesses) or for resources. */
  pendingActors: number;
  /** Open channels from calling workers straight to actors on this node. */
  directChannels: number;
  /** Worker processes that host shared actors (isolation: 'shared'). */
  sharedHosts: number;
}

/** What a node holds (its pool's totals less what is free) and has queued. */
export function loadSnapshot(
  pool: Pick<ResourcePool, 'total' | 'available'>,
  tasks: Pick<LocalTaskManager<WorkerSlot>, 'addQueueLoad'>,
  actors: Pick<ActorManager<WorkerSlot>, 'waitingLoad'>,
): LoadSnapshot {
  const total = pool.total();
  const available = pool.available();
  const load: Record<string, number> = {};
  for (const k of Object.keys(total)) load[k] = (total[k] ?? 0) - (available[k] ?? 0);
  const queued = tasks.addQueueLoad(load);
  const waiting = actors.waitingLoad();
  return {
    available,
    load,
    pending: queued.pending + waiting.pending,
    infeasible: { ...queued.infeasible, ...waiting.infeasible },
    pendingActors: waiting.pending,
    actorsAwaitingProcess: waiting.awaitingProcess,
    waitingActors: waiting.feasible,
  };
}

/** The counts of a node: its workers (of the pool), its tasks (of the task table), its actors. */
export function nodeStats(
  workers: Iterable<WorkerSlot>,
  tasksOnNode: number,
  tasks: Pick<LocalTaskManager<WorkerSlot>, 'queued'>,
  actors: Pick<ActorManager<WorkerSlot>, 'counts'>,
): NodeStats {
  let all = 0;
  let idle = 0;
  let directChannels = 0;
  let sharedHosts = 0;
  for (const w of workers) {
    all++;
    if (w.state === 'idle') idle++;
    if (w.sharedHost && !w.stopRequested) sharedHosts++;
    directChannels += w.callers.size;
  }
  const queued = tasks.queued();
  const { actors: count, waiting } = actors.counts();
  return {
    workers: all,
    idle,
    queued,
    running: tasksOnNode - queued,
    actors: count,
    pendingActors: waiting,
    directChannels,
    sharedHosts,
  };
}
