// Cancelling a task of this node (cancel()): queued, running, or forwarded to another
// node. A recursive cancel (Ray's default) also reaches the tasks the cancelled one
// submitted while it ran: only the worker running it knows them (worker/core-worker.ts
// tracks each call's children), so it is told to cancel them (Msg.CancelChildren). With
// force, the worker is killed only once it says it has (childrenCancelled), or after
// FORCE_GRACE_MS when it is too busy to answer (a synchronous loop: its children then run
// on without their owner, as before).
import { taskKeyOf } from '../base/ids.js';
import { TaskKind } from '../protocol/spec.js';
import { isStreaming, STREAM_STOP, writeStreamControl } from '../protocol/streaming.js';
import { Msg } from '../protocol/worker-messages.js';
import type { ActorManager } from './actor-manager.js';
import type { ClusterHooks } from './cluster-hooks.js';
import type { LocalTaskManager } from './local-task-manager.js';
import type { TaskTable } from './task-table.js';
import type { WorkerSlot } from './worker-slot.js';

/** How long a forced recursive cancel waits for the worker to cancel the task's children. */
export const FORCE_GRACE_MS = 500;

/** The node's cancels (NodeManager.cancelTask). */
export class TaskCancels<W extends WorkerSlot> {
  /** Forced recursive cancels waiting for their worker's answer, by task key. */
  private readonly killing = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly tasks: TaskTable<W>,
    private readonly taskManager: Pick<LocalTaskManager<W>, 'cancel'>,
    private readonly actors: Pick<ActorManager<W>, 'removePending'>,
    private readonly cluster: () => ClusterHooks | undefined,
  ) {}

  cancel(taskId: Buffer, force: boolean, recursive: boolean): void {
    const key = taskKeyOf(taskId);
    const t = this.tasks.get(key);
    if (!t) {
      // On the node it was forwarded to.
      this.cluster()?.cancel(taskId, force, recursive);
      return;
    }
    if (t.cancelled || this.killing.has(key)) return;
    if (!t.worker && t.spec.kind !== TaskKind.Task) this.actors.removePending(t);
    const w = t.worker;
    // A running generator stops at its next step (its refs so far stay valid).
    if (w !== undefined && isStreaming(t.spec.stream))
      w.sendWith((f) => writeStreamControl(f, taskId, STREAM_STOP));
    if (recursive && w !== undefined && t.spec.kind !== TaskKind.ActorCreate) {
      // (An actor call is never forced: its process hosts the actor, as in Ray.)
      const forced = force && t.spec.kind === TaskKind.Task;
      w.sendWith((f) => f.u8(Msg.CancelChildren).raw(taskId).bool(forced));
      if (forced) {
        const timer = setTimeout(() => this.childrenCancelled(taskId), FORCE_GRACE_MS);
        timer.unref();
        this.killing.set(key, timer);
        return;
      }
    }
    this.taskManager.cancel(t, force);
  }

  /**
   * Owners on other nodes whose ids start with `prefix` (a process, or a whole node) are
   * gone: nobody can take the results of their tasks here, so those are cancelled, a running
   * one's worker killed (Ray ends a dead driver's work). Their actors end in the actor manager.
   */
  ownersGone(prefix: string): void {
    const key = Buffer.from(prefix, 'hex').toString('latin1');
    for (const t of [...this.tasks.values()]) {
      if (t.owner.kind === 'remote' && t.spec.kind === TaskKind.Task && t.hex.startsWith(key)) {
        this.cancel(Buffer.from(t.hex, 'latin1'), true, true);
      }
    }
  }

  /** The worker of a task a forced recursive cancel waits on has cancelled its children: kill it now. */
  childrenCancelled(taskId: Buffer): void {
    const key = taskKeyOf(taskId);
    const timer = this.killing.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.killing.delete(key);
    const t = this.tasks.get(key);
    if (t && !t.cancelled) this.taskManager.cancel(t, true);
  }
}
