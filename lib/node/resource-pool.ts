// The node's resources as its parts use them: the native pool (native/sched) behind a
// narrow interface that the unit tests fake, the resources that placement-group bundles add
// (bundle-resources.ts: a demand naming them takes from both), and a count of releases, so
// that a class of tasks that found the pool exhausted asks again only once something was
// given back (or a bundle was added).

import { groupOfDemand } from '../protocol/placement-group.js';
import type { Demand } from '../protocol/resources.js';
import { BundleResources, splitDemand } from './bundle-resources.js';

/** Resources handed out for one lease or actor (GPU device ids when it asked for GPUs). */
export interface Grant {
  gpuIds?: number[];
}

/** A grant that took bundle resources too: what to give back to each side. */
class BundleGrant implements Grant {
  constructor(
    readonly plain: Grant | null,
    readonly bundle: Demand,
    readonly gpuIds: number[] | undefined,
  ) {}
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
  /** The bundles of placement groups reserved here and the resources they add. */
  readonly bundles = new BundleResources();

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
    const { plain, bundle } = splitDemand(d);
    if (!bundle) return this.pool.tryAcquire(d);
    if (!this.bundles.fits(bundle)) return null;
    const hasPlain = Object.keys(plain).length > 0;
    const g = hasPlain ? this.pool.tryAcquire(plain) : null;
    if (hasPlain && !g) return null;
    this.bundles.take(bundle);
    return new BundleGrant(g, bundle, this.bundleGpus(bundle) ?? g?.gpuIds);
  }

  /** Gives a grant back (and counts it: see epoch). */
  release(g: Grant): void {
    if (g instanceof BundleGrant) {
      if (g.plain) this.pool.release(g.plain);
      this.bundles.give(g.bundle);
    } else {
      this.pool.release(g);
    }
    this.releaseCount++;
  }

  /** A bundle was added here: classes that waited for resources may ask again (see epoch). */
  bundlesChanged(): void {
    this.releaseCount++;
  }

  /** Whether the node has `d` at all (free or not). */
  feasible(d: Demand): boolean {
    const { plain, bundle } = splitDemand(d);
    if (!bundle) return this.pool.feasible(d);
    return this.bundles.feasible(bundle) && (Object.keys(plain).length === 0 || this.pool.feasible(plain));
  }

  /** The node's resources (bundles' included). */
  total(): Record<string, number> {
    const t = this.pool.total();
    return this.bundles.size === 0 ? t : { ...t, ...this.bundles.list('total') };
  }

  /** What is free now (bundles' included). */
  available(): Record<string, number> {
    const a = this.pool.available();
    return this.bundles.size === 0 ? a : { ...a, ...this.bundles.list('available') };
  }

  /** The GPU ids of the bundles a demand asks for GPUs of (undefined: it asks none). */
  private bundleGpus(bundle: Demand): number[] | undefined {
    let index = -1;
    let gpus = false;
    for (const k of Object.keys(bundle)) {
      if (!k.startsWith('GPU_group_')) continue;
      gpus = true;
      const m = /^GPU_group_(\d+)_/.exec(k);
      if (m) index = Number(m[1]);
    }
    const pg = gpus ? groupOfDemand(bundle) : undefined;
    return pg === undefined ? undefined : this.bundles.gpuIdsOf(pg, index);
  }
}
