// The bundles of placement groups reserved on this node, and the resources they add
// (protocol/placement-group.ts names them). Reserving is Ray's two phases: prepare takes the
// bundle's resources from the node's pool and holds them; commit adds the bundle's named
// resources, which tasks and actors of the group then ask for; cancel (a prepare that the
// group's other nodes could not match) and return (the group removed, or placed elsewhere)
// give them back. Amounts are kept in 1/10000 units, as the native pool's, so sums are exact.
import { bundleAdds, groupOfResource } from '../protocol/placement-group.js';
import type { Demand } from '../protocol/resources.js';
import type { Grant } from './resource-pool.js';

const SCALE = 10_000;
const fixed = (v: number): number => Math.round(v * SCALE);

interface Amount {
  total: number;
  avail: number;
}

/** One bundle of a group on this node. */
interface BundleRec {
  pg: string;
  index: number;
  resources: Demand;
  /** What the node's pool gave for it (held until it is returned). */
  grant: Grant;
  committed: boolean;
}

/** How many removed groups are remembered (their late tasks fail rather than wait). */
const REMEMBER_REMOVED = 10_000;

/** The bundle resources of this node (see the file comment). */
export class BundleResources {
  private readonly amounts = new Map<string, Amount>();
  private readonly bundles = new Map<string, BundleRec>();
  /** Groups removed here, oldest first. */
  private readonly removedGroups = new Set<string>();

  /** Bundles prepared or committed here. */
  get size(): number {
    return this.bundles.size;
  }

  /** Holds a bundle's resources taken from the pool (phase one). False if already held. */
  prepare(pg: string, index: number, resources: Demand, grant: Grant): boolean {
    const key = `${pg}:${index}`;
    if (this.bundles.has(key)) return false;
    this.bundles.set(key, { pg, index, resources, grant, committed: false });
    return true;
  }

  /** Whether bundle `index` of `pg` is held here (prepared or committed). */
  holds(pg: string, index: number): boolean {
    return this.bundles.has(`${pg}:${index}`);
  }

  /** Adds a prepared bundle's named resources (phase two). False if it was not prepared. */
  commit(pg: string, index: number): boolean {
    const b = this.bundles.get(`${pg}:${index}`);
    if (!b) return false;
    if (b.committed) return true;
    b.committed = true;
    for (const [k, v] of Object.entries(bundleAdds(b.resources, pg, index))) {
      const a = this.amounts.get(k) ?? { total: 0, avail: 0 };
      a.total += fixed(v);
      a.avail += fixed(v);
      this.amounts.set(k, a);
    }
    return true;
  }

  /**
   * Drops a bundle (cancelled, returned): its named resources go, and the pool grant it held is
   * given back to the caller to release. In-use amounts make the name's available negative
   * until those tasks end; nothing new fits meanwhile.
   */
  drop(pg: string, index: number): Grant | undefined {
    const key = `${pg}:${index}`;
    const b = this.bundles.get(key);
    if (!b) return undefined;
    this.bundles.delete(key);
    if (b.committed) {
      for (const [k, v] of Object.entries(bundleAdds(b.resources, pg, index))) {
        const a = this.amounts.get(k);
        if (!a) continue;
        a.total -= fixed(v);
        a.avail -= fixed(v);
        if (a.total <= 0 && a.avail >= 0) this.amounts.delete(k);
      }
    }
    return b.grant;
  }

  /** The bundles of a group held here (indexes). */
  bundlesOf(pg: string): number[] {
    const out: number[] = [];
    for (const b of this.bundles.values()) if (b.pg === pg) out.push(b.index);
    return out;
  }

  /** GPU ids of the pool grants of a group's bundles here (one bundle's, if index >= 0). */
  gpuIdsOf(pg: string, index: number): number[] {
    const out: number[] = [];
    for (const b of this.bundles.values()) {
      if (b.pg === pg && (index < 0 || b.index === index)) out.push(...(b.grant.gpuIds ?? []));
    }
    return out;
  }

  /** Remembers that a group was removed (its late tasks fail at once). */
  markRemoved(pg: string): void {
    this.removedGroups.add(pg);
    if (this.removedGroups.size > REMEMBER_REMOVED) {
      const oldest = this.removedGroups.values().next().value;
      if (oldest !== undefined) this.removedGroups.delete(oldest);
    }
  }

  /** Whether the group was removed here. */
  removed(pg: string): boolean {
    return this.removedGroups.has(pg);
  }

  /** Whether every bundle resource of `d` is there now (names it lacks: no). */
  fits(d: Demand): boolean {
    for (const [k, v] of Object.entries(d)) {
      const a = this.amounts.get(k);
      if (!a || a.avail < fixed(v)) return false;
    }
    return true;
  }

  /** Whether the node has every bundle resource of `d` at all. */
  feasible(d: Demand): boolean {
    for (const [k, v] of Object.entries(d)) {
      const a = this.amounts.get(k);
      if (!a || a.total < fixed(v)) return false;
    }
    return true;
  }

  /** Takes `d` (call fits() first). */
  take(d: Demand): void {
    for (const [k, v] of Object.entries(d)) {
      const a = this.amounts.get(k);
      if (a) a.avail -= fixed(v);
    }
  }

  /** Gives `d` back. */
  give(d: Demand): void {
    for (const [k, v] of Object.entries(d)) {
      const a = this.amounts.get(k);
      if (!a) continue;
      a.avail += fixed(v);
      if (a.total <= 0 && a.avail >= 0) this.amounts.delete(k);
    }
  }

  /** The bundle resources in all, or free now, by name. */
  list(kind: 'total' | 'available'): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, a] of this.amounts) out[k] = (kind === 'total' ? a.total : Math.max(0, a.avail)) / SCALE;
    return out;
  }
}

/** A demand split into the node pool's part and the bundle resources' part. */
export interface SplitDemand {
  plain: Demand;
  /** undefined: the demand asks for no bundle resource. */
  bundle: Demand | undefined;
}

const splits = new WeakMap<Demand, SplitDemand>();

/** Splits a demand (cached per demand object: one serves a whole scheduling class). */
export function splitDemand(d: Demand): SplitDemand {
  let s = splits.get(d);
  if (s) return s;
  let bundle: Demand | undefined;
  let plain: Demand = d;
  for (const [k, v] of Object.entries(d)) {
    if (groupOfResource(k) === undefined) continue;
    if (!bundle) {
      bundle = {};
      plain = {};
      for (const [k2, v2] of Object.entries(d)) if (groupOfResource(k2) === undefined) plain[k2] = v2;
    }
    bundle[k] = v;
  }
  s = { plain, bundle };
  splits.set(d, s);
  return s;
}
