// The node's part in streaming generator tasks and actor calls (protocol/streaming.ts): each
// item a worker yields goes on to the task's owner, like a result (through the owner's sink:
// a worker's inbox, the driver, or another node); the owner's consumed count
// (streamConsumed) goes to the worker running the task, or to the node it was forwarded to
// (a cancel's stop goes the same way: task-cancel.ts). Items of a task that was cancelled,
// ended, or moved on to another worker (a retry) are dropped.
import type { Reader } from '../base/codec.js';
import { TASK_ID_SIZE, taskKeyOf } from '../base/ids.js';
import { readGeneratorItem, writeStreamControl } from '../protocol/streaming.js';
import { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import type { ClusterHooks } from './cluster-hooks.js';
import type { TaskTable } from './task-table.js';
import type { WorkerSlot } from './worker-slot.js';

/** Routes streaming tasks' items to their owners and the owners' counts to their workers. */
export class TaskStreams<W extends WorkerSlot = WorkerSlot> {
  constructor(
    private readonly tasks: TaskTable<W>,
    /** Deletes this node's copy of an object nobody will read. */
    private readonly store: { deleteQuietly(id: Uint8Array): void },
    private readonly cluster: () => Pick<ClusterHooks, 'streamConsumed'> | undefined,
  ) {}

  /** Msg.GeneratorItem from a worker. */
  onItem(r: Reader): void {
    const m = readGeneratorItem(r);
    const t = this.tasks.get(m.objectId.toString('latin1', 0, TASK_ID_SIZE));
    if (t === undefined || t.cancelled || t.worker?.index !== m.worker) {
      if (m.kind === ReturnKind.InStore) this.store.deleteQuietly(m.objectId);
      return;
    }
    t.owner.deliver(m.objectId, DoneStatus.Ok, m.kind, m.payload);
  }

  /** The owner consumed `taken` items of the task (a no-op once it has ended). */
  consumed(taskId: Buffer, taken: number): void {
    const t = this.tasks.get(taskKeyOf(taskId));
    if (t === undefined) {
      this.cluster()?.streamConsumed(taskId, taken);
      return;
    }
    if (t.worker === undefined || t.cancelled) return;
    t.worker.sendWith((f) => writeStreamControl(f, taskId, taken));
  }
}
