// Task events on the node (node/task-events.ts, node/task-records.ts), with fake workers and
// owners: the times an entry gets on the hot path, the record each ended attempt leaves in
// the ring, retries as attempts, records from processes and from other nodes, the ring's
// limit, shipping to the head, and direct actor calls in their binary batch.
import { describe, expect, test } from 'vitest';
import { Reader, Writer } from '../../../lib/base/codec.js';
import { TaskEventRecorder } from '../../../lib/node/task-events.js';
import { encodeErrorRecord, thrownErrorRecord } from '../../../lib/protocol/error-record.js';
import { foldTaskRecords, type TaskRecord } from '../../../lib/protocol/task-events.js';
import { DirectCallsBatch } from '../../../lib/protocol/worker-messages.js';
import { actorCallSpec, entry, FakeOwner, FakeWorker, taskSpec, taskTable } from './fakes.js';

const hexOf = (t: { spec: { taskId: Buffer } }) => t.spec.taskId.toString('hex');
const rowsOf = (events: TaskEventRecorder, live: TaskRecord[] = []) =>
  events.table(live, { limit: 1000 }).rows;

describe('task events on the node', () => {
  test('a task that runs leaves one record: its states with their times, its worker and owner', () => {
    const { tasks, events } = taskTable<FakeWorker>();
    const t = entry<FakeWorker>(taskSpec('square', { CPU: 1 }), new FakeOwner('driver'));
    tasks.set(t);
    const w = new FakeWorker(3, 'ab'.repeat(16));
    events.sent(t, w, false);
    expect(events.live([t])[0]).toMatchObject({ state: 'SUBMITTED_TO_WORKER', pid: 10_003 });
    events.ended(t, t.sentAt + 0.5, t.sentAt + 2.25, undefined);
    const [row] = rowsOf(events);
    expect(row).toMatchObject({
      taskId: hexOf(t),
      name: 'square',
      type: 'NORMAL_TASK',
      funcOrClassName: 'square',
      requiredResources: { CPU: 1 },
      state: 'FINISHED',
      attemptNumber: 0,
      nodeId: 'fake-node',
      workerId: 'ab'.repeat(16),
      workerPid: 10_003,
      ownerPid: 4242,
      ownerNodeId: 'fake-node',
      creationTimeMs: t.createdAt,
      startTimeMs: t.sentAt + 0.5,
      endTimeMs: t.sentAt + 2.25,
    });
    expect(row?.events.map((e) => e.state)).toEqual([
      'PENDING_NODE_ASSIGNMENT',
      'SUBMITTED_TO_WORKER',
      'RUNNING',
      'FINISHED',
    ]);
  });

  test('sent to an idle worker it is RUNNING at once; a queued one is PENDING_NODE_ASSIGNMENT', () => {
    const { events } = taskTable<FakeWorker>();
    const owner = new FakeOwner();
    const running = entry<FakeWorker>(taskSpec('long'), owner);
    const queued = entry<FakeWorker>(taskSpec('later'), owner);
    events.sent(running, new FakeWorker(1, 'ef'.repeat(16)), true);
    const rows = rowsOf(events, events.live([running, queued]));
    expect(rows.map((r) => [r.name, r.state])).toEqual([
      ['long', 'RUNNING'],
      ['later', 'PENDING_NODE_ASSIGNMENT'],
    ]);
    expect(rows[0]?.startTimeMs).toBe(running.runningAt);
  });

  test('a failure carries its error; a retry is the next attempt', () => {
    const { tasks, events } = taskTable<FakeWorker>();
    const t = entry<FakeWorker>(taskSpec('flaky', { CPU: 1 }, { maxRetries: 1 }), new FakeOwner());
    tasks.set(t);
    events.sent(t, new FakeWorker(1, 'cd'.repeat(16)), true);
    events.ended(
      t,
      t.sentAt + 1,
      t.sentAt + 2,
      encodeErrorRecord(thrownErrorRecord(new RangeError('out of range'), 'flaky')),
    );
    tasks.retry(t);
    tasks.fail(t, new Error('its worker crashed'));
    const [row] = rowsOf(events);
    expect(row).toMatchObject({
      state: 'FAILED',
      attemptNumber: 1,
      errorType: 'Error',
      errorMessage: 'its worker crashed',
    });
    expect(row?.events.map((e) => [e.attempt, e.state])).toEqual([
      [0, 'PENDING_NODE_ASSIGNMENT'],
      [0, 'SUBMITTED_TO_WORKER'],
      [0, 'RUNNING'],
      [0, 'FAILED'],
      [1, 'PENDING_NODE_ASSIGNMENT'],
      [1, 'FAILED'],
    ]);
    const first = events.records.since(0)[0];
    expect(first?.error).toMatchObject({ type: 'RangeError', message: 'out of range' });
    expect(first?.error?.stack).toContain('out of range');
  });

  test('an actor call names its class and actor; with events off nothing is kept', () => {
    const { events } = taskTable<FakeWorker>();
    const call = entry<FakeWorker>(actorCallSpec(Buffer.alloc(16, 9), 'Counter.incr'), new FakeOwner());
    events.failed(call, new Error('the actor died'));
    expect(rowsOf(events)[0]).toMatchObject({
      type: 'ACTOR_TASK',
      funcOrClassName: 'Counter',
      actorId: '09'.repeat(16),
      state: 'FAILED',
    });

    const quiet = new TaskEventRecorder('n', false, 10, () => undefined);
    quiet.failed(call, new Error('x'));
    quiet.fromProcess([{ taskId: 'aa'.repeat(24), attempt: 0, state: 'RUNNING', startedAt: 1 }]);
    expect(quiet.table(quiet.live([call]), {}).rows).toEqual([]);
  });

  test("records from a process are placed on this node; an owner's waiting task is not", () => {
    const { events } = taskTable<FakeWorker>();
    events.fromProcess([
      { taskId: 'aa'.repeat(24), attempt: 0, state: 'PENDING_ARGS_AVAIL', waitingAt: 1, ownerPid: 77 },
      {
        taskId: 'bb'.repeat(24),
        attempt: 0,
        state: 'FINISHED',
        startedAt: 2,
        endedAt: 3,
        workerId: 'ee',
        pid: 78,
      },
    ]);
    const [waiting, done] = rowsOf(events);
    expect(waiting).toMatchObject({ state: 'PENDING_ARGS_AVAIL', ownerNodeId: 'fake-node', nodeId: '' });
    expect(done).toMatchObject({ state: 'FINISHED', nodeId: 'fake-node', workerPid: 78 });
  });

  test('the ring keeps the last records, counts the rest, and ships what is new to the head', () => {
    const { tasks, events } = taskTable<FakeWorker>(() => {}, 3);
    const shipped: Array<{ records: TaskRecord[]; lost: number }> = [];
    events.shipTo((records, lost) => shipped.push({ records, lost }));
    const owner = new FakeOwner();
    const ts = ['a', 'b', 'c', 'd', 'e'].map((n) => entry<FakeWorker>(taskSpec(n), owner));
    for (const t of ts.slice(0, 2)) tasks.fail(t, new Error('no'));
    events.flush();
    for (const t of ts.slice(2)) tasks.fail(t, new Error('no'));
    expect(events.records.dropped).toBe(2);
    expect(rowsOf(events).map((r) => r.name)).toEqual(['c', 'd', 'e']);
    expect(events.table([], { filters: [['name', '=', 'd']] }).rows.map((r) => r.name)).toEqual(['d']);
    events.flush();
    expect(shipped.map((s) => [s.records.map((r) => r.desc?.name), s.lost])).toEqual([
      [['a', 'b'], 0],
      [['c', 'd', 'e'], 0],
    ]);
    // Five more before the next flush: two were overwritten before they could be shipped.
    for (const n of ['f', 'g', 'h', 'i', 'j'])
      tasks.fail(entry<FakeWorker>(taskSpec(n), owner), new Error('no'));
    events.flush();
    expect(shipped[2]?.records.map((r) => r.desc?.name)).toEqual(['h', 'i', 'j']);
    expect(shipped[2]?.lost).toBe(2);
    // On the head, what nodes lost is counted beside what its own ring dropped.
    const head = new TaskEventRecorder('head', true, 10, () => undefined);
    head.fromNode(shipped[2]?.records ?? [], 2);
    expect(head.table([], {}).dropped).toEqual({ tasks: 0, events: 2 });
  });

  test('direct actor calls: a binary batch from the actor worker becomes a record each', () => {
    const { events } = taskTable<FakeWorker>();
    const batch = new DirectCallsBatch(10);
    const actor = Buffer.alloc(16, 5);
    const keys = ['k'.repeat(24), 'm'.repeat(24)];
    batch.add(keys[0] as string, actor, 'Tally.add', 100, 101, undefined, 2);
    const err = encodeErrorRecord(thrownErrorRecord(new TypeError('bad'), 'Tally.add'));
    batch.add(keys[1] as string, actor, 'Tally.add', 0, 102, err, 2);
    const w = new Writer();
    batch.write(w);
    const actorWorker = new FakeWorker(1, '11'.repeat(16));
    events.directCalls(
      new Reader(w.finish()),
      actorWorker,
      (i) => (i === 2 ? 5555 : undefined),
      () => '',
    );
    const rows = rowsOf(events);
    const hex = (k: string) => Buffer.from(k, 'latin1').toString('hex');
    expect(rows.find((r) => r.taskId === hex(keys[0] as string))).toMatchObject({
      name: 'Tally.add',
      type: 'ACTOR_TASK',
      funcOrClassName: 'Tally',
      actorId: '05'.repeat(16),
      state: 'FINISHED',
      workerPid: 10_001,
      ownerPid: 5555,
      startTimeMs: 100,
      endTimeMs: 101,
    });
    expect(rows.find((r) => r.taskId === hex(keys[1] as string))).toMatchObject({
      state: 'FAILED',
      errorType: 'TypeError',
      startTimeMs: null,
    });
  });
});

describe('folding records into rows', () => {
  test('records from two nodes, in any order, make one row per task', () => {
    const desc = {
      name: 'f',
      type: 'NORMAL_TASK',
      funcOrClassName: 'f',
      actorId: '',
      jobId: '01020304',
      requiredResources: { CPU: 1 },
    } as const;
    const ran: TaskRecord = {
      taskId: 't1',
      attempt: 0,
      state: 'FINISHED',
      desc,
      createdAt: 4,
      sentAt: 5,
      startedAt: 6,
      endedAt: 8,
      nodeId: 'B',
      workerId: 'w',
      pid: 9,
    };
    const origin: TaskRecord = {
      taskId: 't1',
      attempt: 0,
      state: 'PENDING_NODE_ASSIGNMENT',
      desc,
      createdAt: 2,
      ownerPid: 1,
      ownerNodeId: 'A',
    };
    for (const order of [
      [ran, origin],
      [origin, ran],
    ]) {
      const [row] = foldTaskRecords(order);
      expect(row).toMatchObject({
        state: 'FINISHED',
        nodeId: 'B',
        workerPid: 9,
        ownerPid: 1,
        ownerNodeId: 'A',
        jobId: '01020304',
        creationTimeMs: 2,
        startTimeMs: 6,
        endTimeMs: 8,
      });
      expect(row?.events.map((e) => e.state)).toEqual([
        'PENDING_NODE_ASSIGNMENT',
        'SUBMITTED_TO_WORKER',
        'RUNNING',
        'FINISHED',
      ]);
    }
  });

  test("states keep the task's order when two processes' clocks disagree; attempts in turn", () => {
    // The worker's clock read its start 30 µs before the node's clock read the send.
    const first: TaskRecord = {
      taskId: 't2',
      attempt: 0,
      state: 'FAILED',
      createdAt: 10,
      sentAt: 11,
      startedAt: 10.97,
      endedAt: 12,
    };
    const retry: TaskRecord = {
      taskId: 't2',
      attempt: 1,
      state: 'FINISHED',
      createdAt: 13,
      sentAt: 14,
      startedAt: 13.99,
      endedAt: 15,
    };
    for (const order of [
      [first, retry],
      [retry, first],
    ]) {
      const [row] = foldTaskRecords(order);
      expect(row?.events.map((e) => [e.attempt, e.state, e.timeMs])).toEqual([
        [0, 'PENDING_NODE_ASSIGNMENT', 10],
        [0, 'SUBMITTED_TO_WORKER', 11],
        [0, 'RUNNING', 10.97],
        [0, 'FAILED', 12],
        [1, 'PENDING_NODE_ASSIGNMENT', 13],
        [1, 'SUBMITTED_TO_WORKER', 14],
        [1, 'RUNNING', 13.99],
        [1, 'FINISHED', 15],
      ]);
      expect(row).toMatchObject({ state: 'FINISHED', attemptNumber: 1, startTimeMs: 13.99, endTimeMs: 15 });
    }
  });
});
