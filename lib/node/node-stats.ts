// NodeStats: the counts a node manager reports of its workers, tasks, actors and channels
// (NodeManager.stats(), sunray/testing's nodeStats()).

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
