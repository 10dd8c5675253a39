// The node's cancel decisions (node/task-cancel.ts), without processes: a recursive cancel
// of a running task tells its worker to cancel the task's children first; a forced one
// kills only once the worker says it has, or after the grace period.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Reader, Writer } from '../../../lib/base/codec.js';
import { taskKeyOf } from '../../../lib/base/ids.js';
import { FORCE_GRACE_MS, TaskCancels } from '../../../lib/node/task-cancel.js';
import type { TaskEntry } from '../../../lib/node/task-table.js';
import type { WorkerSlot } from '../../../lib/node/worker-slot.js';
import { Msg } from '../../../lib/protocol/worker-messages.js';
import { taskSpec, taskTable } from './fakes.js';

afterEach(() => {
  vi.useRealTimers();
});

function setup(running: boolean) {
  const frames: Buffer[] = [];
  const worker = {
    sendWith(fill: (w: Writer) => void) {
      const w = new Writer(64);
      fill(w);
      frames.push(Buffer.from(w.finish()));
    },
  } as unknown as WorkerSlot;
  const { tasks } = taskTable<WorkerSlot>();
  const spec = taskSpec('parent');
  const t = {
    spec,
    hex: taskKeyOf(spec.taskId),
    owner: {} as never,
    retriesLeft: 0,
    attempt: 0,
    createdAt: 0,
    sentAt: Number.NaN,
    runningAt: Number.NaN,
    sentTo: undefined,
    worker: running ? worker : undefined,
    lease: undefined,
    actor: undefined,
    cancelled: false,
  } as TaskEntry<WorkerSlot>;
  tasks.set(t);
  const cancels: Array<{ force: boolean }> = [];
  const manager = {
    cancel: (x: TaskEntry<WorkerSlot>, force: boolean) => {
      x.cancelled = true;
      cancels.push({ force });
    },
  };
  const c = new TaskCancels(tasks, manager, { removePending: () => {} }, () => undefined);
  return { c, t, frames, cancels, taskId: spec.taskId };
}

/** The CancelChildren frames sent: [task key, force]. */
function sent(frames: Buffer[]): Array<[string, boolean]> {
  return frames.map((f) => {
    const r = new Reader(f);
    expect(r.u8()).toBe(Msg.CancelChildren);
    return [taskKeyOf(r.raw(24)), r.bool()];
  });
}

describe('TaskCancels', () => {
  test('recursive, not forced: the worker is told to cancel the children, and the task is cancelled at once', () => {
    const { c, t, frames, cancels, taskId } = setup(true);
    c.cancel(taskId, false, true);
    expect(sent(frames)).toEqual([[t.hex, false]]);
    expect(cancels).toEqual([{ force: false }]);
  });

  test('not recursive, or queued: no message to a worker', () => {
    const a = setup(true);
    a.c.cancel(a.taskId, true, false);
    expect(a.frames).toEqual([]);
    expect(a.cancels).toEqual([{ force: true }]);
    const b = setup(false);
    b.c.cancel(b.taskId, false, true);
    expect(b.frames).toEqual([]);
    expect(b.cancels).toEqual([{ force: false }]);
  });

  test('forced and recursive: the kill waits for childrenCancelled; a second cancel meanwhile does nothing', () => {
    const { c, t, frames, cancels, taskId } = setup(true);
    c.cancel(taskId, true, true);
    expect(sent(frames)).toEqual([[t.hex, true]]);
    expect(cancels).toEqual([]);
    c.cancel(taskId, true, true);
    expect(frames.length).toBe(1);
    c.childrenCancelled(taskId);
    expect(cancels).toEqual([{ force: true }]);
    c.childrenCancelled(taskId); // once only
    expect(cancels.length).toBe(1);
  });

  test('forced and recursive, no answer: killed after the grace period', () => {
    vi.useFakeTimers();
    const { c, cancels, taskId } = setup(true);
    c.cancel(taskId, true, true);
    vi.advanceTimersByTime(FORCE_GRACE_MS - 1);
    expect(cancels).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(cancels).toEqual([{ force: true }]);
  });
});
