// What a Msg.Done does (Ray's task completion in the raylet): a task, actor creation or routed
// actor call finished or threw. Its worker and lease are freed, its record ended; a creation
// goes to the actor manager; an error that may be retried queues the task again; else each
// return goes to its owner.
import type { Reader } from '../base/codec.js';
import { retryableError } from '../protocol/error-record.js';
import { TaskKind } from '../protocol/spec.js';
import { type DoneMessage, DoneStatus, ReturnKind, readDone, returnOf } from '../protocol/worker-messages.js';
import type { ActorManager } from './actor-manager.js';
import type { LocalTaskManager } from './local-task-manager.js';
import { EMPTY } from './owner-router.js';
import type { TaskEventRecorder } from './task-events.js';
import type { TaskTable } from './task-table.js';
import type { WorkerPool } from './worker-pool.js';
import type { WorkerSlot } from './worker-slot.js';

/** The node's parts a Done reaches. */
export interface DoneParts<W extends WorkerSlot> {
  readonly tasks: TaskTable<W>;
  readonly workers: Pick<WorkerPool<W>, 'get'>;
  readonly taskManager: Pick<LocalTaskManager<W>, 'taskEnded' | 'enqueue'>;
  readonly taskEvents: Pick<TaskEventRecorder, 'ended'>;
  readonly actors: Pick<ActorManager<W>, 'created' | 'callDone' | 'route'>;
  scheduleDispatch(): void;
  /** The node has no task left: it may let the process exit. */
  updateRef(): void;
}

/** Every Done is read into this (readDone): onDone is done with it before the next. */
const DONE_SCRATCH: DoneMessage = {
  worker: 0,
  taskKey: '',
  status: DoneStatus.Ok,
  returns: [],
  startedAt: 0,
  endedAt: 0,
};

/** Msg.Done: a task, actor creation or routed actor call finished (or threw). */
export function onDone<W extends WorkerSlot>(p: DoneParts<W>, r: Reader): void {
  const done = readDone(r, DONE_SCRATCH);
  const hex = done.taskKey;
  const t = p.tasks.get(hex);
  // Calls are counted by their actor, not by its worker. A Done from a process no longer
  // running the call (it died: the call waits for the restart), or from a host a shared
  // actor left while constructing, is stale.
  if (t?.spec.kind !== TaskKind.ActorCall) p.workers.get(done.worker)?.taskDone(hex);
  if (t !== undefined && t.spec.kind !== TaskKind.Task && t.worker?.index !== done.worker) return;
  if (!t) return;
  p.taskManager.taskEnded(t);
  if (!t.cancelled) {
    const failed = done.status === DoneStatus.Ok ? undefined : (done.returns[0]?.payload ?? EMPTY);
    p.taskEvents.ended(t, done.startedAt, done.endedAt, failed);
  }
  if (t.spec.kind === TaskKind.ActorCreate) {
    p.actors.created(t, done.status, done.returns[0]?.payload);
    return;
  }
  if (t.spec.kind === TaskKind.ActorCall) p.actors.callDone(t);
  const retry = done.status === DoneStatus.Error && t.spec.retryExceptions && t.retriesLeft > 0;
  if (retry && !t.cancelled && retryableError(t.spec.retryOn, done.returns[0]?.payload ?? EMPTY)) {
    p.tasks.retry(t);
    if (t.spec.kind === TaskKind.ActorCall) p.actors.route(t);
    else p.taskManager.enqueue(t, true);
    p.scheduleDispatch();
    return;
  }
  p.tasks.delete(hex);
  if (!t.cancelled) {
    const { owner } = t;
    const { status } = done;
    for (let i = 0; i < t.spec.numReturns; i++) {
      const ret = returnOf(status, done.returns, i);
      owner.returned(hex, i, status, ret?.kind ?? ReturnKind.Inline, ret?.payload ?? EMPTY);
    }
  }
  p.scheduleDispatch();
  if (p.tasks.size === 0) p.updateRef();
}
