// This node's side of reserving placement-group bundles: the two phases the group manager
// (placement-groups.ts) asks of each node, done on the node's resources (bundle-resources.ts),
// and, when a group is removed, the end of its work here: queued tasks fail, running ones'
// workers are stopped, its actors die. Also the group manager's view of this node alone, for
// a node that is in no cluster.
import type { BundleNode, BundleToPlace } from './bundle-placement.js';
import { type BundleHosts, PlacementGroups } from './placement-groups.js';
import type { Grant, NodeResources } from './resource-pool.js';

/** What a group's removal reaches on this node. */
export interface GroupWork {
  /** Fails the group's queued tasks; returns the workers running its tasks. */
  failGroup(pg: string): Array<{ kill(): void }>;
  /** Its actors die for good. */
  failActors(pg: string): void;
  /** Gives back leases idle to the end of the turn, so their resources count as free. */
  releaseIdle(): void;
  /** A dispatch pass: bundles added or resources freed. */
  dispatch(): void;
}

/** Prepares, commits and gives back bundles on this node. */
export class LocalBundles {
  constructor(
    private readonly resources: NodeResources,
    private readonly work: GroupWork,
  ) {}

  /** Phase one: takes every bundle's resources from the pool, or none of them. */
  prepare(pg: string, bundles: BundleToPlace[]): boolean {
    const held = this.resources.bundles;
    if (held.removed(pg)) return false;
    this.work.releaseIdle();
    const taken: Array<{ b: BundleToPlace; g: Grant }> = [];
    for (const b of bundles) {
      if (held.holds(pg, b.index)) continue; // a retried prepare
      const g = this.resources.tryAcquire(b.resources);
      if (!g) {
        for (const t of taken) this.resources.release(t.g);
        return false;
      }
      taken.push({ b, g });
    }
    for (const { b, g } of taken) held.prepare(pg, b.index, b.resources, g);
    return true;
  }

  /** Phase two: the bundles' resources appear for the group's tasks and actors. */
  commit(pg: string, indexes: number[]): void {
    let any = false;
    for (const i of indexes) any = this.resources.bundles.commit(pg, i) || any;
    if (!any) return;
    this.resources.bundlesChanged();
    this.work.dispatch();
  }

  /** Gives bundles back; removed: the group is gone, and its work here ends. */
  release(pg: string, indexes: number[], removed: boolean): void {
    for (const i of indexes) {
      const g = this.resources.bundles.drop(pg, i);
      if (g) this.resources.release(g);
    }
    if (removed) {
      this.resources.bundles.markRemoved(pg);
      for (const w of this.work.failGroup(pg)) w.kill();
      this.work.failActors(pg);
    }
    this.work.dispatch();
  }

  /** This node's resources, as bundle placement sees them: the pool's, without those bundles add. */
  node(nodeId: string): BundleNode {
    this.work.releaseIdle();
    const { pool } = this.resources;
    return { nodeId, total: pool.total(), available: pool.available() };
  }
}

/** The group manager's hosts for a node in no cluster: itself. */
export function selfHosts(nodeId: string, local: LocalBundles): BundleHosts {
  const here = (id: string) => {
    if (id !== nodeId) throw new Error(`node ${id} is not this node`);
  };
  return {
    nodes: async () => [local.node(nodeId)],
    prepare: async (id, pg, bundles) => {
      here(id);
      return local.prepare(pg, bundles);
    },
    commit: async (id, pg, indexes) => {
      here(id);
      local.commit(pg, indexes);
    },
    release: async (id, pg, indexes, removed) => {
      here(id);
      local.release(pg, indexes, removed);
    },
  };
}

/** A node's placement-group parts: its bundles, and the group manager (used on a head, or alone). */
export function nodeGroupParts(
  nodeId: string,
  resources: NodeResources,
  work: GroupWork,
): { bundles: LocalBundles; placementGroups: PlacementGroups } {
  const bundles = new LocalBundles(resources, work);
  return { bundles, placementGroups: new PlacementGroups(selfHosts(nodeId, bundles)) };
}
