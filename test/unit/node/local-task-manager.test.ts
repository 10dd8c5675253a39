// The local task manager on fake workers and a fake resource pool (as Ray's
// local_task_manager_test): queue order, leases and pipelining depth, infeasible demand,
// cancel, lending a blocked worker's resources, and tasks of a worker that died.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { TaskCancelledError } from '../../../lib/base/errors.js';
import { LocalTaskManager } from '../../../lib/node/local-task-manager.js';
import { NodeResources } from '../../../lib/node/resource-pool.js';
import type { TaskEntry } from '../../../lib/node/task-table.js';
import { WorkerPool } from '../../../lib/node/worker-pool.js';
import { PIPELINE_DEPTH } from '../../../lib/protocol/resources.js';
import { NO_DEF, type TaskSpec } from '../../../lib/protocol/spec.js';
import {
  entry,
  FakeOwner,
  FakeResources,
  FakeSpawner,
  type FakeWorker,
  taskSpec,
  taskTable,
} from './fakes.js';

type T = TaskEntry<FakeWorker>;

let closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers) c();
  closers = [];
  vi.restoreAllMocks();
});

function setup(totals: Record<string, number>) {
  const spawner = new FakeSpawner();
  const owner = new FakeOwner();
  const fake = new FakeResources(totals);
  const { tasks } = taskTable<FakeWorker>();
  const pool: WorkerPool<FakeWorker> = new WorkerPool(
    spawner,
    { numCpus: 1, idleWorkerTimeoutMs: 60_000, maxWorkers: 10 },
    {
      started: () => {},
      exited: (w) => {
        pool.forget(w);
        ltm.workerExited(w, (t) => new Error(`${t.spec.name}: its worker crashed`));
      },
      mayStartAgain: () => ltm.scheduleDispatch(),
      hasWork: () => tasks.size > 0,
    },
  );
  closers.push(() => {
    pool.close();
    ltm.close();
  });
  const ltm: LocalTaskManager<FakeWorker> = new LocalTaskManager(
    tasks,
    pool,
    new NodeResources(fake),
    () => ({ ...NO_DEF, fnId: 'f', name: 'f' }),
    () => {},
  );
  const submit = (spec: TaskSpec, front = false): T => {
    const t = entry<FakeWorker>(spec, owner);
    tasks.set(t);
    ltm.enqueue(t, front);
    return t;
  };
  /** As the node does on Msg.Ready. */
  const ready = (w: FakeWorker | undefined) => {
    pool.ready(w!.index, undefined);
    ltm.dispatch();
  };
  /** As the node does on Msg.Done. */
  const finish = (t: T) => {
    t.worker?.taskDone(t.hex);
    ltm.taskEnded(t);
    tasks.delete(t.hex);
    ltm.dispatch();
  };
  return { spawner, owner, fake, tasks, pool, ltm, submit, ready, finish };
}

/** Lets a dispatch pass asked for in this turn run. */
const microtask = () => Promise.resolve();
/** Lets the end-of-turn lease release run. */
const endOfTurn = () => new Promise((r) => setImmediate(r));

describe('local task manager', () => {
  test('tasks of a class run in the order submitted; a retry goes ahead of the rest', async () => {
    const { spawner, submit, ready, finish } = setup({ CPU: 1 });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => submit(taskSpec(n))) as [T, T, T];
    await microtask();
    // One worker starts for the lease; nothing runs before it is ready.
    expect(spawner.spawned).toHaveLength(1);
    const w = spawner.spawned[0]!;
    expect(w.executed).toHaveLength(0);
    ready(w);
    // One CPU: a takes the lease, b is pipelined behind it (depth: the queue over the leases).
    expect(w.names()).toEqual(['a', 'b']);
    finish(a);
    finish(b);
    expect(w.names()).toEqual(['a', 'b', 'c']);
    const d = submit(taskSpec('d'));
    const retried = submit(taskSpec('retried'), true);
    finish(c);
    expect(w.names()).toEqual(['a', 'b', 'c', 'retried']);
    finish(retried);
    finish(d);
    expect(w.names()).toEqual(['a', 'b', 'c', 'retried', 'd']);
    expect(spawner.spawned).toHaveLength(1);
  });

  test('one lease per free CPU, each its own worker; past that, pipelined up to PIPELINE_DEPTH each', async () => {
    const { spawner, submit, ready, ltm, fake } = setup({ CPU: 2 });
    for (let i = 0; i < 300; i++) submit(taskSpec(`t${i}`));
    await microtask();
    ready(spawner.spawned[0]); // a lease per starting worker: the second starts now
    ready(spawner.spawned[1]);
    expect(spawner.spawned).toHaveLength(2);
    const [w0, w1] = spawner.spawned as [FakeWorker, FakeWorker];
    expect([w0.executed.length, w1.executed.length]).toEqual([PIPELINE_DEPTH, PIPELINE_DEPTH]);
    expect(ltm.queued()).toBe(300 - 2 * PIPELINE_DEPTH);
    expect(fake.available().CPU).toBe(0);
    expect([w0.state, w1.state]).toEqual(['leased', 'leased']);
    // Each worker got its tasks in submission order.
    expect(w0.names().slice(0, 3)).toEqual(['t0', 't2', 't4']);
  });

  test('demand the node can never meet is warned about once, reported, and handed over', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { spawner, submit, ltm, owner } = setup({ CPU: 2 });
    submit(taskSpec('g0', { GPU: 1 }));
    submit(taskSpec('g1', { GPU: 1 }));
    const forwarded = entry<FakeWorker>(taskSpec('from-elsewhere', { GPU: 1 }), new FakeOwner('remote'));
    ltm.enqueue(forwarded, false);
    submit(taskSpec('g2', { GPU: 1 }));
    submit(taskSpec('cpu', { CPU: 1 }));
    await microtask();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/task g0 needs \{"GPU":1\}.*infeasible/);
    const load: Record<string, number> = {};
    expect(ltm.addQueueLoad(load)).toEqual({ pending: 5, infeasible: { 'GPU=1': 4 } });
    expect(load).toEqual({ GPU: 4, CPU: 1 });
    // Handed to the cluster in order, up to one another node forwarded here: that one stays.
    const out = ltm.takeInfeasible();
    expect(out.map((h) => h.spec.name)).toEqual(['g0', 'g1']);
    expect(out.every((h) => h.owner === owner)).toBe(true);
    expect(ltm.addQueueLoad({}).infeasible).toEqual({ 'GPU=1': 2 });
    // Only the CPU task took a worker.
    expect(spawner.spawned).toHaveLength(1);
  });

  test('cancel: a queued task fails at once; a running one fails for its owner, its lease kept until done', async () => {
    const { spawner, submit, ready, finish, owner, tasks, ltm, fake } = setup({ CPU: 1 });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => submit(taskSpec(n))) as [T, T, T];
    await microtask();
    const w = spawner.spawned[0]!;
    ready(w);
    expect(w.names()).toEqual(['a', 'b']);
    ltm.cancel(c, false);
    expect(owner.failureOf('c')).toBeInstanceOf(TaskCancelledError);
    expect(owner.failureOf('c')?.message).toMatch(/cancelled before it ran/);
    expect([tasks.get(c.hex), ltm.queued()]).toEqual([undefined, 0]);
    ltm.cancel(b, false);
    expect(owner.failureOf('b')?.message).toMatch(/cancelled while running; its result will be discarded/);
    expect(tasks.get(b.hex)).toBe(b); // its Done still frees the lease
    ltm.cancel(b, false); // once only
    expect(owner.failures).toHaveLength(2);
    finish(a);
    finish(b);
    await endOfTurn();
    expect([w.state, fake.available().CPU, w.names()]).toEqual(['idle', 1, ['a', 'b']]);
  });

  test('cancel with force kills the worker; its other tasks are retried at no cost to their budget', async () => {
    const { spawner, submit, ready, owner, ltm } = setup({ CPU: 1 });
    const [x, y] = [submit(taskSpec('x')), submit(taskSpec('y')), submit(taskSpec('z'))];
    await microtask();
    const w0 = spawner.spawned[0]!;
    ready(w0);
    expect(w0.names()).toEqual(['x', 'y']); // z waits: one CPU, pipelined two deep
    ltm.cancel(x!, true);
    expect(w0.killed).toBe(true);
    expect(owner.failures).toHaveLength(0); // told when the worker is gone
    w0.exit(null, 'SIGKILL');
    expect(owner.failureOf('x')?.message).toMatch(/cancelled \(force: its worker was killed\)/);
    expect(owner.failureOf('y')).toBeUndefined();
    expect(y!.retriesLeft).toBe(0); // given one for the kill, used for the retry
    await microtask();
    const w1 = spawner.spawned[1]!;
    ready(w1);
    expect(w1.names()).toEqual(['y']); // ahead of z
  });

  test('a worker blocked in get() lends its CPU to the tasks it waits for, and takes it back', async () => {
    const { spawner, submit, ready, finish, ltm, fake } = setup({ CPU: 1 });
    const a = submit(taskSpec('a'));
    await microtask();
    const w0 = spawner.spawned[0]!;
    ready(w0);
    ltm.onBlocked(w0, true);
    ltm.onBlocked(w0, true); // nested get(): lent once
    expect(fake.available().CPU).toBe(1);
    const b = submit(taskSpec('b')); // what a waits for
    await microtask();
    const w1 = spawner.spawned[1]!;
    ready(w1);
    expect(w1.names()).toEqual(['b']);
    expect(fake.available().CPU).toBe(0);
    ltm.onBlocked(w0, false);
    ltm.onBlocked(w0, false); // b holds the CPU: a runs over rather than stall
    expect(fake.available().CPU).toBe(0);
    finish(b);
    await endOfTurn();
    expect([w1.state, fake.available().CPU]).toEqual(['idle', 1]);
    finish(a);
    await endOfTurn();
    expect([w0.state, fake.available().CPU]).toEqual(['idle', 1]);
  });

  test('a lease whose queue ran dry is given back at the end of the turn, not at once', async () => {
    const { spawner, submit, ready, finish, ltm, fake } = setup({ CPU: 1 });
    const a = submit(taskSpec('a'));
    await microtask();
    const w = spawner.spawned[0]!;
    ready(w);
    finish(a);
    // A sync loop submits its next task in the same turn: it finds its worker still leased.
    expect([w.state, fake.available().CPU]).toEqual(['leased', 0]);
    const b = submit(taskSpec('b'));
    await microtask();
    expect(w.names()).toEqual(['a', 'b']);
    finish(b);
    await endOfTurn();
    expect([w.state, fake.available().CPU, spawner.spawned.length]).toEqual(['idle', 1, 1]);
    // available() counts a lease kept to the end of the turn as free.
    const c = submit(taskSpec('c'));
    await microtask();
    finish(c);
    expect(ltm.available().CPU).toBe(1);
  });

  test("a worker's death: its tasks are retried while their budget lasts, then fail with the crash", async () => {
    const { spawner, submit, ready, owner, fake } = setup({ CPU: 1 });
    const a = submit(taskSpec('a', { CPU: 1 }, { maxRetries: 1 }));
    submit(taskSpec('b'));
    submit(taskSpec('c'));
    await microtask();
    ready(spawner.spawned[0]);
    expect(spawner.spawned[0]!.names()).toEqual(['a', 'b']);
    spawner.spawned[0]!.exit(null, 'SIGKILL');
    expect(owner.failureOf('b')?.message).toBe('b: its worker crashed');
    expect([a.retriesLeft, fake.available().CPU]).toEqual([0, 1]);
    await microtask();
    ready(spawner.spawned[1]);
    expect(spawner.spawned[1]!.names()).toEqual(['a']); // ahead of c
    spawner.spawned[1]!.exit(null, 'SIGKILL');
    expect(owner.failureOf('a')?.message).toBe('a: its worker crashed');
    expect(owner.failureOf('c')).toBeUndefined();
  });
});
