// Spillback of waiting actors, as Ray's raylets hand queued work to a node with room: an
// actor created from this node waits here when no node had room at its creation (or the
// node with room was not in the table yet); once the cluster's placement says another node
// can take it now, it is taken out of this node with the calls queued for it and submitted
// again, so it is created there and its calls follow, in order. Without this an actor queued
// here waited for this node's resources however much room the cluster had (a Tune trial
// stayed PENDING while a node sat idle).
// Left here: actors forwarded from another node (their origin placed them), named ones (a
// name's records are the creating node's), ones that ran before (restarting), and those
// with a strategy other than the default.
import type { Deque } from '../base/deque.js';
import { type FunctionDef, NO_DEF, specKey, type TaskSpec } from '../protocol/spec.js';
import type { ActorRec } from './actor-record.js';
import type { ResultSink } from './owner-router.js';
import type { WorkerSlot } from './worker-slot.js';

/** How often a node with actors waiting asks whether another node could take them. */
export const SPILL_CHECK_MS = 500;

/** What spillback works with: the node's actor records, its task table, placement, submit. */
export interface SpillbackParts<W extends WorkerSlot> {
  waiting: Deque<ActorRec<W>>;
  actors: Map<string, ActorRec<W>>;
  /** Forgets a task entry of this node (the actor's creation, its queued calls). */
  forget(key: string): void;
  /** The node a new actor should go to: undefined for this one, an Error when none can. */
  place(spec: TaskSpec): string | undefined | Error;
  /** Submits again: the node places it anew (submit of node-manager.ts). */
  resubmit(spec: TaskSpec, def: FunctionDef, owner: ResultSink, retriesLeft?: number): void;
}

/** Whether an actor may move: see the file comment. */
function movable<W extends WorkerSlot>(a: ActorRec<W>): boolean {
  return (
    a.state === 'pending' &&
    a.restarts === 0 &&
    a.name === undefined &&
    a.owner.kind !== 'remote' &&
    !a.createSpec.strategy
  );
}

/** Moves the waiting actors another node can take now; returns how many moved. */
export function spillWaitingActors<W extends WorkerSlot>(p: SpillbackParts<W>): number {
  const moved: ActorRec<W>[] = [];
  for (let n = p.waiting.length; n > 0; n--) {
    const a = p.waiting.shift();
    if (!a) break;
    if (movable(a) && typeof p.place(a.createSpec) === 'string') {
      p.actors.delete(a.hex);
      moved.push(a);
    } else p.waiting.push(a);
  }
  for (const a of moved) {
    p.forget(specKey(a.createSpec));
    const calls = [];
    for (let t = a.pending.shift(); t !== undefined; t = a.pending.shift()) calls.push(t);
    for (const t of calls) p.forget(t.hex);
    p.resubmit(a.createSpec, a.def, a.owner);
    for (const t of calls) p.resubmit(t.spec, NO_DEF, t.owner, t.retriesLeft);
  }
  return moved.length;
}
