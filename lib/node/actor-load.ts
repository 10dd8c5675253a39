// What the actors waiting on this node add to its load, for heartbeats and `sunray status`:
// how many wait, those the node can never place, and those held back by the process cap.
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
  /** Those the node could place but waits to, for room, by `actor <class>` (the autoscaler's demand). */
  feasible: Record<string, number>;
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
  const feasible: Record<string, number> = {};
  for (const a of waiting) {
    if (a.state === 'dead') continue;
    pending++;
    // Its group's bundles are the demand, not the actor (counted by the group's keeper).
    const inGroup = a.group !== undefined;
    const ok = inGroup || resources.feasible(a.placeDemand);
    if (!inGroup) {
      const by = ok ? feasible : infeasible;
      const k = `actor ${classKey(a.placeDemand)}`;
      by[k] = (by[k] ?? 0) + 1;
    }
    if (ok && atCap) awaitingProcess++;
  }
  return { pending, infeasible, awaitingProcess, feasible };
}
