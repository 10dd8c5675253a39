// Where the autoscaler reads demand: the head's directory, which already has what each
// node's heartbeat carries (the shapes it can never run, `infeasible`; the actors waiting
// for room it could run, `waitingActors`), the standing request of requestResources in the
// KV, and, once the head keeps placement groups, their pending bundles. The loop reads a
// DemandSource, so its tests can give a fake one.
import type { Directory } from '../cluster/directory.js';
import type { NodeInfoMsg } from '../cluster/messages.js';
import {
  AUTOSCALER_KV_NAMESPACE,
  type AutoscalerStatus,
  REQUEST_KEY,
  STATUS_KEY,
  shapeOfKey,
} from '../protocol/autoscaler.js';
import type { Resources } from './bin-pack.js';
import type { PendingPlacementGroup } from './scheduler.js';

/** What the autoscaler reads each round, and where it publishes its status. */
export interface DemandSource {
  /** The head's node table (alive and dead nodes, with their last heartbeats). */
  nodes(): NodeInfoMsg[];
  /** The standing request (requestResources): bundles, none when cleared. */
  requested(): Resources[];
  /** Placement groups waiting for room, with their strategies (none until the head keeps them). */
  pendingPlacementGroups(): PendingPlacementGroup[];
  /** Publishes the round's status (`sunray status` reads it). */
  publish(status: AutoscalerStatus): void;
}

/** The most demand entries one round packs (the rest waits for the next rounds). */
export const MAX_DEMAND = 10_000;

/**
 * The unmet demand the alive nodes report, one entry per task or actor: the shapes they can
 * never run (tasks and actors) and the actors waiting for room that another node could take.
 * Tasks queued for room on a node that can run them are not counted: they wait for that
 * node (they do not move to new nodes yet: docs/cluster.md).
 */
export function demandShapes(nodes: readonly NodeInfoMsg[]): Resources[] {
  const out: Resources[] = [];
  for (const n of nodes) {
    if (!n.alive) continue;
    for (const map of [n.infeasible, n.waitingActors]) {
      for (const [key, count] of Object.entries(map)) {
        const shape = shapeOfKey(key);
        if (!shape || Object.keys(shape).length === 0) continue;
        for (let i = 0; i < count && out.length < MAX_DEMAND; i++) out.push(shape);
      }
    }
  }
  return out;
}

/** A request as stored in the KV, checked (a bad value counts as none). */
export function parseRequest(value: Buffer | undefined): Resources[] {
  if (!value || value.length === 0) return [];
  try {
    const v = JSON.parse(value.toString('utf8')) as unknown;
    if (!Array.isArray(v)) return [];
    return v.filter(
      (b): b is Resources =>
        typeof b === 'object' &&
        b !== null &&
        !Array.isArray(b) &&
        Object.values(b).every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0),
    );
  } catch {
    return [];
  }
}

/**
 * The head's directory as a DemandSource. `placementGroups` is the slot for the head's
 * placement groups: a function giving the bundles of those waiting for room (none by default).
 */
export function directoryDemand(
  directory: Directory,
  placementGroups: () => PendingPlacementGroup[] = () => [],
): DemandSource {
  return {
    nodes: () => directory.table(),
    requested: () => parseRequest(directory.kvGet(AUTOSCALER_KV_NAMESPACE, REQUEST_KEY)),
    pendingPlacementGroups: placementGroups,
    publish: (status) =>
      directory.kvPut(AUTOSCALER_KV_NAMESPACE, STATUS_KEY, Buffer.from(JSON.stringify(status)), true),
  };
}
