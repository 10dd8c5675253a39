// Placement groups, as Ray's `ray.util.placement_group`: reserve bundles of resources across
// nodes all at once (gang scheduling), then run tasks and actors inside them with
// `schedulingStrategy: { placementGroup, bundleIndex?, captureChildTasks? }`. The head keeps
// the groups (node/placement-groups.ts); this is the user's side: the handle, its ready(),
// removal, lookup by name and the table, and how a task's demand and strategy name a bundle.
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, PlacementGroupRemovedError } from '../base/errors.js';
import {
  checkGroupRequest,
  type GroupOp,
  type GroupOpResults,
  type GroupStrategy,
  groupDemand,
  groupStrategyText,
  type PlacementGroupRequest,
  type PlacementGroupRow,
  type PlacementStrategy,
} from '../protocol/placement-group.js';
import type { Demand } from '../protocol/resources.js';
import type { SpecBase } from '../protocol/spec.js';
import type { Runtime } from '../worker/context.js';
import { currentRuntimeOrStart } from './runtime.js';

export type {
  PlacementGroupRow,
  PlacementGroupState,
  PlacementStrategy,
} from '../protocol/placement-group.js';

/** Options of placementGroup(). */
export interface PlacementGroupOptions {
  /** How the bundles spread over nodes (default 'PACK'). */
  strategy?: PlacementStrategy;
  /** A name to find it by (getPlacementGroup), unique in its namespace while it lives. */
  name?: string;
  /** The namespace of its name (default: the job's). */
  namespace?: string;
  /** 'detached': it outlives the job that made it, until removed. Default: removed when that job ends. */
  lifetime?: 'detached';
}

/** How long one round of ready() asks the head to wait before asking again. */
const WAIT_ROUND_MS = 10_000;

/**
 * A placement group: its bundles are reserved together, on the nodes its strategy allows, or
 * not at all. Tasks and actors run in it with `schedulingStrategy: { placementGroup: pg }`.
 */
export class PlacementGroup {
  /** @internal The create request on its way (it fails if the name is taken). */
  readonly created: Promise<void>;

  /** @internal Made by placementGroup() and getPlacementGroup(). */
  constructor(
    /** Its id (32 hex digits). */
    readonly id: string,
    /** The resources of each bundle, by index. */
    readonly bundleSpecs: readonly Readonly<Record<string, number>>[],
    /** How its bundles spread over nodes. */
    readonly strategy: PlacementStrategy,
    /** Its name ('' for none). */
    readonly name: string,
    created: Promise<void>,
  ) {
    this.created = created;
    created.catch(() => {}); // reported by ready() and wait()
  }

  /** Resolves once every bundle is reserved; rejects with PlacementGroupRemovedError if it was removed first. */
  async ready(): Promise<void> {
    await this.created;
    for (;;) {
      const state = await groupOp({ op: 'wait', id: this.id, timeoutMs: WAIT_ROUND_MS });
      if (state === 'CREATED') return;
      if (state === 'REMOVED' || state === null) {
        throw new PlacementGroupRemovedError(
          `placement group ${this.name || this.id} was removed before it was ready`,
        );
      }
    }
  }

  /** Waits at most timeoutSeconds for the group to be ready (Ray's pg.wait): whether it is. */
  async wait(timeoutSeconds: number): Promise<boolean> {
    if (!(timeoutSeconds >= 0))
      throw new InvalidArgumentError(`wait: timeoutSeconds must be >= 0, got ${timeoutSeconds}`);
    await this.created;
    return (await groupOp({ op: 'wait', id: this.id, timeoutMs: timeoutSeconds * 1000 })) === 'CREATED';
  }

  /** Its row of placementGroupTable(): state, where each bundle is, why it waits. */
  async table(): Promise<PlacementGroupRow> {
    await this.created;
    const row = await groupOp({ op: 'get', id: this.id });
    if (!row)
      throw new PlacementGroupRemovedError(`placement group ${this.name || this.id} is no longer known`);
    return row;
  }
}

/**
 * Reserves `bundles` (each a set of resources, e.g. `{ CPU: 1 }`) across the cluster's nodes,
 * all or none (Ray's placement_group). Returns at once; `await pg.ready()` waits until every
 * bundle is reserved. A group that no set of nodes can hold waits, reported as infeasible.
 */
export function placementGroup(
  bundles: Record<string, number>[],
  opts: PlacementGroupOptions = {},
): PlacementGroup {
  const rt = currentRuntimeOrStart();
  const req: PlacementGroupRequest = {
    id: randomBytes(16).toString('hex'),
    bundles: Array.isArray(bundles)
      ? bundles.map((b) => (typeof b === 'object' && b !== null ? { ...b } : b))
      : bundles,
    strategy: opts.strategy ?? 'PACK',
    name: opts.name ?? '',
    namespace: opts.namespace ?? rt.namespace,
    lifetime: opts.lifetime === undefined ? 'non_detached' : opts.lifetime,
    creatorJobId: rt.jobId ?? '',
  };
  if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name === '')) {
    throw new InvalidArgumentError('placementGroup: name must be a non-empty string');
  }
  checkGroupRequest(req);
  const created = groupOp({ op: 'create', req }, rt).then(() => {});
  return new PlacementGroup(req.id, req.bundles, req.strategy, req.name, created);
}

/** Removes a group: its bundles are freed, its actors die and its queued tasks fail (Ray's remove_placement_group). */
export async function removePlacementGroup(pg: PlacementGroup): Promise<void> {
  if (!(pg instanceof PlacementGroup))
    throw new InvalidArgumentError('removePlacementGroup takes a PlacementGroup');
  await pg.created.catch(() => {}); // its create request first (one that failed made nothing)
  await groupOp({ op: 'remove', id: pg.id });
}

/** The live group of that name in a namespace (default: the job's); InvalidArgumentError if none. */
export async function getPlacementGroup(name: string, namespace?: string): Promise<PlacementGroup> {
  const rt = currentRuntimeOrStart();
  const row = await groupOp({ op: 'get', name, namespace: namespace ?? rt.namespace }, rt);
  if (!row) {
    throw new InvalidArgumentError(
      `no placement group named '${name}' in namespace '${namespace ?? rt.namespace}'`,
    );
  }
  return handleOf(row);
}

/** Every placement group (removed ones too), by id; or one group's row (Ray's placement_group_table). */
export async function placementGroupTable(): Promise<Record<string, PlacementGroupRow>>;
export async function placementGroupTable(pg: PlacementGroup): Promise<PlacementGroupRow>;
export async function placementGroupTable(
  pg?: PlacementGroup,
): Promise<Record<string, PlacementGroupRow> | PlacementGroupRow> {
  if (pg) return pg.table();
  const rows = await groupOp({ op: 'table' });
  return Object.fromEntries(rows.map((r) => [r.placementGroupId, r]));
}

/** The group the running task or actor was placed in (null in the driver, or outside any group). */
export function getCurrentPlacementGroup(): PlacementGroup | null {
  const rt = currentRuntimeOrStart();
  const g = rt.core.taskContext.getStore()?.placementGroup;
  if (!g) return null;
  return new PlacementGroup(g.pg, [], 'PACK', '', Promise.resolve());
}

/** A handle for a row (getPlacementGroup). */
function handleOf(row: PlacementGroupRow): PlacementGroup {
  const specs = row.bundles.map((b) => b.resources);
  return new PlacementGroup(row.placementGroupId, specs, row.strategy, row.name, Promise.resolve());
}

async function groupOp<K extends GroupOp['op']>(
  o: Extract<GroupOp, { op: K }>,
  rt: Runtime = currentRuntimeOrStart(),
): Promise<GroupOpResults[K]> {
  return (await rt.backend.request('placementGroup', o)) as GroupOpResults[K];
}

/** A task's or actor's place in a group, as schedulingStrategy gives it. */
export interface PlacementGroupSchedulingStrategy {
  /** The group to run in. */
  placementGroup: PlacementGroup;
  /** The bundle to run in (default -1: any bundle of the group). */
  bundleIndex?: number;
  /** Tasks and actors it starts run in the same group, unless they say otherwise (default false). */
  captureChildTasks?: boolean;
}

/** The group strategy of a schedulingStrategy, checked (undefined: not a group's). */
export function groupStrategy(s: unknown): GroupStrategy | undefined {
  if (typeof s !== 'object' || s === null || !('placementGroup' in s)) return undefined;
  const o = s as PlacementGroupSchedulingStrategy;
  if (!(o.placementGroup instanceof PlacementGroup)) {
    throw new InvalidArgumentError(
      'schedulingStrategy.placementGroup must be a PlacementGroup (from placementGroup())',
    );
  }
  const bundle = o.bundleIndex ?? -1;
  const n = o.placementGroup.bundleSpecs.length;
  if (!Number.isInteger(bundle) || bundle < -1 || (n > 0 && bundle >= n)) {
    throw new InvalidArgumentError(
      `schedulingStrategy.bundleIndex must be -1 (any bundle) or 0..${n - 1} for this group, got ${bundle}`,
    );
  }
  return { pg: o.placementGroup.id, bundle, capture: o.captureChildTasks === true };
}

/** A demand and strategy text for a group strategy (the demand renamed to the bundle's resources). */
export function inGroup(g: GroupStrategy, demand: Demand): { demand: Demand; strategy: string } {
  return { demand: groupDemand(demand, g.pg, g.bundle), strategy: groupStrategyText(g) };
}

const captured = new WeakMap<object, Map<string, SpecBase>>();

/**
 * The base a call made with no schedulingStrategy uses: inside a task or actor of a group
 * that captures its children, the same group (any bundle); else `base` itself.
 */
export function capturedBase<B extends SpecBase>(rt: Runtime, base: B): B {
  if (rt.backend.isDriver) return base;
  const g = rt.core.taskContext.getStore()?.placementGroup;
  if (!g?.capture) return base;
  let byGroup = captured.get(base);
  if (!byGroup) {
    byGroup = new Map();
    captured.set(base, byGroup);
  }
  let b = byGroup.get(g.pg);
  if (!b) {
    b = Object.freeze({ ...base, ...inGroup({ pg: g.pg, bundle: -1, capture: true }, base.demand) });
    byGroup.set(g.pg, b);
  }
  return b as B;
}
