// What the actors waiting on this node add to its load, for heartbeats and `sunray status`:
// how many wait, those the node can never place, and those held back by the process cap.
import { groupOfDemand } from '../protocol/placement-group.js';
import { classKey } from '../protocol/resources.js';
import type { ActorRec } from './actor-record.js';
import type { NodeResources } from './resource-pool.js';
import type { WorkerSlot } from './worker-slot.js';

/** Waiting actors' load (ActorManager.waitingLoad). */
export interface WaitingActorsLoad {
  pending: number;
  /** Those the node can never place, by `actor <class>`. */
  infeasible: Record<string, number>;
  /** Those that wait because the node runs its maxWorkerProcesses. */
  awaitingProcess: number;
}

/**
 * Counts the waiting actors. One in a placement group waits for its bundle, which the group
 * itself asks for: never infeasible here.
 */
export function waitingActorsLoad<W extends WorkerSlot>(
  waiting: Iterable<ActorRec<W>>,
  resources: Pick<NodeResources, 'feasible'>,
  atCap: boolean,
): WaitingActorsLoad {
  let pending = 0;
  let awaitingProcess = 0;
  const infeasible: Record<string, number> = {};
  for (const a of waiting) {
    if (a.state === 'dead') continue;
    pending++;
    if (groupOfDemand(a.placeDemand) === undefined && !resources.feasible(a.placeDemand)) {
      const k = `actor ${classKey(a.placeDemand)}`;
      infeasible[k] = (infeasible[k] ?? 0) + 1;
    } else if (atCap) awaitingProcess++;
  }
  return { pending, infeasible, awaitingProcess };
}
