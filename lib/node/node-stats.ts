// NodeStats: the counts a node manager reports of its workers, tasks, actors and channels
// (NodeManager.stats(), sunray/testing's nodeStats()).

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
