// The node's resources as its parts use them: the native pool (native/sched) behind a
// narrow interface that the unit tests fake, and a count of releases, so that a class of
// tasks that found the pool exhausted asks again only once something was given back.

import type { Demand } from '../protocol/resources.js';

/** Resources handed out for one lease or actor (GPU device ids when it asked for GPUs). */
export interface Grant {
  gpuIds?: number[];
}

/** What the node needs of a resource pool (the native ResourcePool implements it). */
export interface ResourcePool {
  /** The resources, if all of `d` is free now; null otherwise (nothing taken). */
  tryAcquire(d: Demand): Grant | null;
  /** Gives a grant back. */
  release(g: Grant): void;
  /** What is free now. */
  available(): Record<string, number>;
  /** The node's resources. */
  total(): Record<string, number>;
  /** Whether the node has `d` at all (free or not). */
  feasible(d: Demand): boolean;
}

/** The node's pool, counting what is given back (see LocalTaskManager's exhaustedAt). */
export class NodeResources {
  /** Releases so far. */
  private releaseCount = 0;

  /** nodeId: the node's, for what it reports (sunray.events' infeasible). */
  constructor(
    readonly pool: ResourcePool,
    readonly nodeId = '',
  ) {}

  /** Counts releases: a class that found the pool exhausted at epoch N waits for N+1. */
  get epoch(): number {
    return this.releaseCount;
  }

  /** The resources, if all of `d` is free now; null otherwise. */
  tryAcquire(d: Demand): Grant | null {
    return this.pool.tryAcquire(d);
  }

  /** Gives a grant back (and counts it: see epoch). */
  release(g: Grant): void {
    this.pool.release(g);
    this.releaseCount++;
  }

  /** Whether the node has `d` at all (free or not). */
  feasible(d: Demand): boolean {
    return this.pool.feasible(d);
  }

  /** The node's resources. */
  total(): Record<string, number> {
    return this.pool.total();
  }

  /** What is free now. */
  available(): Record<string, number> {
    return this.pool.available();
  }
}
