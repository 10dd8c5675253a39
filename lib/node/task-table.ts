// The node's tasks, from submission to their end: one entry per task (a million may be
// queued, so entries are small), keyed by task id. The local task manager, the actor
// manager and the node manager share this one table: a task's entry says where it runs
// (its worker and lease, or its actor) and whom its results go to (its owner's sink).

import type { TaskSpec } from '../protocol/spec.js';
import { eventTime } from '../protocol/task-events.js';
import type { ActorRec } from './actor-record.js';
import type { Lease } from './local-task-manager.js';
import type { ResultSink } from './owner-router.js';
import type { TaskEventRecorder } from './task-events.js';
import type { WorkerSlot } from './worker-slot.js';

/** A task on this node, from submission to its end. */
export interface TaskEntry<W extends WorkerSlot = WorkerSlot> {
  spec: TaskSpec;
  /** Its task id as a 24-character latin1 string (ids.ts taskKeyOf): its key here and in workers' inflight. */
  hex: string;
  /** Where its results and failures go. */
  owner: ResultSink;
  retriesLeft: number;
  /** 0 for its first run, n for its n-th retry (task events number attempts so). */
  attempt: number;
  /** When this attempt came to the node, was sent to a worker, and ran (task-events.ts; NaN: not yet). */
  createdAt: number;
  sentAt: number;
  runningAt: number;
  /** The worker this attempt was sent to (kept after it ends, for its record). */
  sentTo: W | undefined;
  /** The worker it was sent to (undefined while queued). */
  worker: W | undefined;
  /** The lease it runs under (tasks only). */
  lease: Lease<W> | undefined;
  /** The actor an actor call was sent to (set when sent: worker is then that actor's process). */
  actor: ActorRec<W> | undefined;
  cancelled: boolean;
}

/** A new entry, not sent anywhere yet (timed: task events are on, so its creation time is read). */
export function newTask<W extends WorkerSlot>(
  spec: TaskSpec,
  hex: string,
  owner: ResultSink,
  retriesLeft: number,
  timed = true,
): TaskEntry<W> {
  return {
    spec,
    hex,
    owner,
    retriesLeft,
    attempt: spec.maxRetries > retriesLeft ? spec.maxRetries - retriesLeft : 0,
    createdAt: timed ? eventTime() : Number.NaN,
    sentAt: Number.NaN,
    runningAt: Number.NaN,
    sentTo: undefined,
    worker: undefined,
    lease: undefined,
    actor: undefined,
    cancelled: false,
  };
}

/** Every task on this node from submission to its end, by task key; failing one tells its owner. */
export class TaskTable<W extends WorkerSlot = WorkerSlot> {
  private readonly byKey = new Map<string, TaskEntry<W>>();

  /**
   * idle: called when a failure took the last task (the process may exit when idle).
   * events: where each task's state changes are noted (task-events.ts).
   */
  constructor(
    private readonly idle: () => void,
    readonly events: TaskEventRecorder,
  ) {}

  /** Tasks on the node. */
  get size(): number {
    return this.byKey.size;
  }

  /** The task of a task key (taskKeyOf), if it is on the node. */
  get(key: string): TaskEntry<W> | undefined {
    return this.byKey.get(key);
  }

  /** Adds a task (or replaces the entry of its key). */
  set(t: TaskEntry<W>): void {
    this.byKey.set(t.hex, t);
  }

  /** Forgets a task that ended (its owner was told elsewhere). */
  delete(key: string): void {
    this.byKey.delete(key);
  }

  /** Every task on the node. */
  values(): IterableIterator<TaskEntry<W>> {
    return this.byKey.values();
  }

  /** Forgets every task (at shutdown, once their owners were told). */
  clear(): void {
    this.byKey.clear();
  }

  /** The task ends with err, which its owner gets for every return. */
  fail(t: TaskEntry<W>, err: Error): void {
    this.events.failed(t, err);
    this.byKey.delete(t.hex);
    t.owner.failed(t.spec, err);
    if (this.byKey.size === 0) this.idle();
  }

  /**
   * The task runs again, on its retry budget: its attempt ended (with err, unless its
   * worker already said how), and the next one waits to be placed.
   */
  retry(t: TaskEntry<W>, err?: Error): void {
    if (err) this.events.failed(t, err);
    t.retriesLeft--;
    t.attempt++;
    t.createdAt = eventTime();
    t.sentAt = Number.NaN;
    t.runningAt = Number.NaN;
    t.sentTo = undefined;
  }
}
