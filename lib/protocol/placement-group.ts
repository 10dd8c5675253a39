// Placement groups as every layer sees them: their strategies, states and rows, and the names
// of the resources a bundle adds to its node once reserved (Ray's scheme). A bundle of
// { CPU: 2 } at index 1 of group G, committed on a node, takes 2 CPU from the node and adds
// `CPU_group_1_G: 2` (that bundle) and `CPU_group_G: 2` (any bundle of G there), plus the
// bundle's own marker `bundle_group_1_G` (and `bundle_group_G`), which tasks of the group
// always ask a sliver of: so a task that needs no resources is still bound to its bundle's
// node. A task in the group asks for those names instead of the plain ones, so the node's
// ordinary scheduling keeps it inside its bundle, and a node without the bundle cannot run it.
import { InvalidArgumentError } from '../base/errors.js';
import { type Demand, validateDemand } from './resources.js';

/** How a group's bundles spread over nodes (Ray's strategies). */
export type PlacementStrategy = 'PACK' | 'SPREAD' | 'STRICT_PACK' | 'STRICT_SPREAD';

/** The strategies, for validation and docs. */
export const PLACEMENT_STRATEGIES: readonly PlacementStrategy[] = [
  'PACK',
  'SPREAD',
  'STRICT_PACK',
  'STRICT_SPREAD',
];

/**
 * A group's state (Ray's): PENDING until every bundle is reserved, CREATED after, RESCHEDULING
 * while bundles of a dead node are placed again, REMOVED for good.
 */
export type PlacementGroupState = 'PENDING' | 'CREATED' | 'RESCHEDULING' | 'REMOVED';

/** What a driver or worker asks the node to create. */
export interface PlacementGroupRequest {
  /** Its id: 32 hex digits, made by the caller (so `placementGroup()` returns at once). */
  id: string;
  bundles: Demand[];
  strategy: PlacementStrategy;
  /** '' for none. */
  name: string;
  namespace: string;
  /** 'detached': it outlives its creator's job; otherwise removed when that job ends. */
  lifetime: 'detached' | 'non_detached';
  /** The creator's job id ('' when unknown). */
  creatorJobId: string;
}

/** One placement group as the state API and placementGroupTable() give it. */
export interface PlacementGroupRow {
  /** Its id (hex). */
  placementGroupId: string;
  /** Its name ('' for none). */
  name: string;
  /** The namespace of its name. */
  namespace: string;
  /** PENDING, CREATED, RESCHEDULING or REMOVED. */
  state: PlacementGroupState;
  /** How its bundles spread over nodes. */
  strategy: PlacementStrategy;
  /** Each bundle's resources and the node it is reserved on ('' while unplaced). */
  bundles: Array<{
    /** The bundle's index (bundleIndex in a schedulingStrategy). */
    bundleIndex: number;
    /** What it reserves. */
    resources: Record<string, number>;
    /** The node it is reserved on ('' while unplaced). */
    nodeId: string;
  }>;
  /** 'detached': it outlives the job that made it. */
  lifetime: 'detached' | 'non_detached';
  /** The job that created it. */
  creatorJobId: string;
  /** Why its bundles are not all placed, while PENDING or RESCHEDULING ('' otherwise). */
  pendingReason: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** When it became CREATED the first time (0 before). */
  scheduledAt: number;
  /** When it was removed (0 before). */
  removedAt: number;
}

/** Where a created group's bundles are: index -> node id, and the state. */
export interface PlacementGroupLocation {
  state: PlacementGroupState;
  nodes: string[];
}

/** A task's or actor's place in a group, as its spec's strategy carries it (JSON). */
export interface GroupStrategy {
  /** The group's id (hex). */
  pg: string;
  /** The bundle; -1: any bundle of the group. */
  bundle: number;
  /** Tasks and actors it starts go into the same group, unless they say otherwise. */
  capture: boolean;
}

/** The marker resource every task of a group asks for, per bundle: a sliver of it. */
const MARKER = 'bundle';
/** What a bundle's marker holds, and what one task asks of it. */
export const BUNDLE_MARKER_TOTAL = 1000;
const MARKER_ASK = 0.001;

/** The name of resource `r` in bundle `index` of group `pg` (-1: in any of its bundles). */
export function bundleResourceName(r: string, pg: string, index: number): string {
  return index < 0 ? `${r}_group_${pg}` : `${r}_group_${index}_${pg}`;
}

const BUNDLE_NAME = /^(.+)_group_(?:(\d+)_)?([0-9a-f]{32})$/;

/** The group a resource name belongs to, if it is a bundle's. */
export function groupOfResource(name: string): string | undefined {
  return BUNDLE_NAME.exec(name)?.[3];
}

/** The group that a demand asks bundle resources of, if any. */
export function groupOfDemand(d: Demand): string | undefined {
  for (const k of Object.keys(d)) {
    const g = groupOfResource(k);
    if (g !== undefined) return g;
  }
  return undefined;
}

/** The group and bundle (-1: any) a renamed demand asks for, if any. */
export function groupPlaceOfDemand(d: Demand): { pg: string; index: number } | undefined {
  let found: { pg: string; index: number } | undefined;
  for (const k of Object.keys(d)) {
    const m = BUNDLE_NAME.exec(k);
    if (!m?.[3]) continue;
    const index = m[2] === undefined ? -1 : Number(m[2]);
    if (!found || index >= 0) found = { pg: m[3], index };
  }
  return found;
}

/**
 * A demand made to run inside bundle `index` of group `pg` (-1: any): each resource renamed to
 * the bundle's (an indexed one asks the group-wide name too, so the two stay in step), and the
 * marker. Idempotent: a demand already renamed is returned as it is.
 */
export function groupDemand(d: Demand, pg: string, index: number): Demand {
  if (groupOfDemand(d) !== undefined) return d;
  const out: Demand = {};
  for (const [k, v] of Object.entries(d)) {
    if (!(v > 0)) continue;
    out[bundleResourceName(k, pg, -1)] = v;
    if (index >= 0) out[bundleResourceName(k, pg, index)] = v;
  }
  out[bundleResourceName(MARKER, pg, -1)] = MARKER_ASK;
  if (index >= 0) out[bundleResourceName(MARKER, pg, index)] = MARKER_ASK;
  return out;
}

/** What committing bundle `index` of `pg` with `resources` adds to its node. */
export function bundleAdds(resources: Demand, pg: string, index: number): Demand {
  const out: Demand = {};
  for (const [k, v] of Object.entries(resources)) {
    if (!(v > 0)) continue;
    out[bundleResourceName(k, pg, index)] = v;
    out[bundleResourceName(k, pg, -1)] = v;
  }
  out[bundleResourceName(MARKER, pg, index)] = BUNDLE_MARKER_TOTAL;
  out[bundleResourceName(MARKER, pg, -1)] = BUNDLE_MARKER_TOTAL;
  return out;
}

/** The group strategy a spec's strategy text carries, if any. */
export function groupStrategyOf(strategy: string): GroupStrategy | undefined {
  if (!strategy.startsWith('{"pg"')) return undefined;
  return JSON.parse(strategy) as GroupStrategy;
}

/** A spec's strategy text for a group strategy. */
export function groupStrategyText(g: GroupStrategy): string {
  return JSON.stringify({ pg: g.pg, bundle: g.bundle, capture: g.capture });
}

const PG_ID = /^[0-9a-f]{32}$/;

/** Checks what placementGroup() was given; throws InvalidArgumentError saying what is wrong. */
export function checkGroupRequest(r: PlacementGroupRequest): void {
  if (!PG_ID.test(r.id))
    throw new InvalidArgumentError(`placement group id must be 32 hex digits, got ${r.id}`);
  if (!Array.isArray(r.bundles) || r.bundles.length === 0) {
    throw new InvalidArgumentError(
      'placementGroup: bundles must be a non-empty array of resources, e.g. [{ CPU: 1 }]',
    );
  }
  r.bundles.forEach((b, i) => {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) {
      throw new InvalidArgumentError(
        `placementGroup: bundle ${i} must be an object of resources, got ${String(b)}`,
      );
    }
    validateDemand(b, `placementGroup: bundle ${i}`);
    if (!Object.values(b).some((v) => v > 0)) {
      throw new InvalidArgumentError(
        `placementGroup: bundle ${i} reserves nothing (${JSON.stringify(b)}): every bundle needs some resource > 0`,
      );
    }
    for (const k of Object.keys(b)) {
      if (k.includes('_group_')) {
        throw new InvalidArgumentError(`placementGroup: bundle ${i}: '${k}' names a bundle's resource`);
      }
    }
  });
  if (!PLACEMENT_STRATEGIES.includes(r.strategy)) {
    throw new InvalidArgumentError(
      `placementGroup: strategy must be one of ${PLACEMENT_STRATEGIES.join(', ')}, got ${String(r.strategy)}`,
    );
  }
  if (r.lifetime !== 'detached' && r.lifetime !== 'non_detached') {
    throw new InvalidArgumentError(
      `placementGroup: lifetime must be 'detached' or omitted, got ${String(r.lifetime)}`,
    );
  }
}

/** What a process asks of the cluster's group manager (the head's, or its node's alone). */
export type GroupOp =
  | { op: 'create'; req: PlacementGroupRequest }
  | { op: 'remove'; id: string }
  | { op: 'get'; id?: string; name?: string; namespace?: string }
  | { op: 'wait'; id: string; timeoutMs: number }
  | { op: 'table' }
  | { op: 'locate'; id: string };

/** The answer to each GroupOp. */
export interface GroupOpResults {
  create: null;
  remove: boolean;
  get: PlacementGroupRow | null;
  wait: PlacementGroupState | null;
  table: PlacementGroupRow[];
  locate: PlacementGroupLocation | null;
}

/** What the head's group manager asks of a node about bundles there (the two phases). */
export type BundleOp =
  | { op: 'available' }
  | { op: 'prepare'; pg: string; bundles: Array<{ index: number; resources: Demand }> }
  | { op: 'commit'; pg: string; indexes: number[] }
  | { op: 'release'; pg: string; indexes: number[]; removed: boolean };
