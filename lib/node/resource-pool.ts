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
  release(g: Grant): void;
  available(): Record<string, number>;
  total(): Record<string, number>;
  /** Whether the node has `d` at all (free or not). */
  feasible(d: Demand): boolean;
}

/** The node's pool, counting what is given back (see LocalTaskManager's exhaustedAt). */
export class NodeResources {
  /** Releases so far. */
  private releaseCount = 0;

  constructor(readonly pool: ResourcePool) {}

  /** Counts releases: a class that found the pool exhausted at epoch N waits for N+1. */
  get epoch(): number {
    return this.releaseCount;
  }

  tryAcquire(d: Demand): Grant | null {
    return this.pool.tryAcquire(d);
  }

  release(g: Grant): void {
    this.pool.release(g);
    this.releaseCount++;
  }

  feasible(d: Demand): boolean {
    return this.pool.feasible(d);
  }

  total(): Record<string, number> {
    return this.pool.total();
  }

  available(): Record<string, number> {
    return this.pool.available();
  }
}
