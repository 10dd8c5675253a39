// The worker pool on fake processes (as Ray's worker_pool_test): which idle worker is
// handed out, which are reaped, the process cap, and the pause after failed starts.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { WorkerStartError } from '../../../lib/base/errors.js';
import { WorkerPool, type WorkerPoolHooks } from '../../../lib/node/worker-pool.js';
import { FakeSpawner, type FakeWorker } from './fakes.js';

interface Setup {
  pool: WorkerPool<FakeWorker>;
  spawner: FakeSpawner;
  /** What each exit said: whether it was a failed start, and the error once they keep failing. */
  exits: Array<{ failed: boolean; error: WorkerStartError | undefined }>;
  mayStartAgain: ReturnType<typeof vi.fn>;
}

let pools: WorkerPool<FakeWorker>[] = [];

function setup(o: { numCpus?: number; idleWorkerTimeoutMs?: number; maxWorkers?: number } = {}): Setup {
  const spawner = new FakeSpawner();
  const exits: Setup['exits'] = [];
  const mayStartAgain = vi.fn();
  const hooks: WorkerPoolHooks<FakeWorker> = {
    started: () => {},
    exited: (w, code, signal) => {
      pool.forget(w);
      exits.push(pool.startFailed(w, code, signal));
    },
    mayStartAgain,
    hasWork: () => true,
  };
  const pool: WorkerPool<FakeWorker> = new WorkerPool(
    spawner,
    {
      numCpus: o.numCpus ?? 4,
      idleWorkerTimeoutMs: o.idleWorkerTimeoutMs ?? 60_000,
      maxWorkers: o.maxWorkers ?? 10,
    },
    hooks,
  );
  pools.push(pool);
  return { pool, spawner, exits, mayStartAgain };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  for (const p of pools) p.close();
  pools = [];
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('worker pool', () => {
  test('an actor takes the warmest idle worker (else one starting), and one more starts while fewer than one per CPU are free', () => {
    const { pool, spawner } = setup({ numCpus: 2, maxWorkers: 4 });
    const [w0, w1] = [pool.spawn(), pool.spawn()];
    for (const w of [w0, w1]) pool.ready(w.index, undefined);
    pool.lease(w0);
    vi.advanceTimersByTime(100);
    pool.giveBack(w0); // the warmest now
    expect(pool.hostWarm('a1')).toBe(w0);
    expect(w0.state).toBe('actor');
    // w1 alone is free: one more is started to keep two.
    expect(spawner.spawned).toHaveLength(3);
    const w2 = spawner.spawned[2]!;
    expect(w2.state).toBe('starting');
    // A starting worker is not warm: the next actor takes w1, and a fourth starts (the cap).
    expect(pool.hostWarm('a2')).toBe(w1);
    expect(spawner.spawned).toHaveLength(4);
    pool.ready(w2.index, undefined);
    expect(pool.hostWarm('a3')).toBe(w2);
    // At the cap nothing more starts; one still starting serves; then there is none.
    expect(spawner.spawned).toHaveLength(4);
    expect(pool.hostWarm('a4')).toBe(spawner.spawned[3]);
    expect(pool.hostWarm('a5')).toBeUndefined();
  });

  test('an idle worker is reused, the most recently used first; a starting one only when none is idle', () => {
    const { pool } = setup();
    const [w0, w1, w2] = [pool.spawn(), pool.spawn(), pool.spawn()];
    for (const w of [w0, w1, w2]) pool.ready(w.index, undefined);
    expect([w0.state, w1.state, w2.state]).toEqual(['idle', 'idle', 'idle']);
    for (const w of [w0, w1, w2]) pool.lease(w);
    vi.advanceTimersByTime(100);
    pool.giveBack(w1);
    vi.advanceTimersByTime(100);
    pool.giveBack(w0);
    vi.advanceTimersByTime(100);
    pool.giveBack(w2);
    // The warmest first: w2 was given back last, then w0, then w1.
    const order: FakeWorker[] = [];
    for (let i = 0; i < 3; i++) {
      const w = pool.takeIdle()!;
      order.push(w);
      pool.lease(w);
    }
    expect(order).toEqual([w2, w0, w1]);
    expect(pool.takeIdle()).toBeUndefined();
    // None idle: one still starting serves, unless a lease or an actor took it already.
    const w3 = pool.spawn();
    expect(w3.ready).toBe(false);
    expect(pool.takeIdle()).toBe(w3);
    pool.lease(w3);
    expect(pool.takeIdle()).toBeUndefined();
    const w4 = pool.spawn();
    pool.hostActor(w4, 'ab'.repeat(16));
    expect(pool.takeIdle()).toBeUndefined();
    // Ready after it was leased, it stays leased (not idle).
    pool.ready(w3.index, 2 ** 30);
    expect([w3.state, w3.heapLimit]).toEqual(['leased', 2 ** 30]);
  });

  test('idle workers past one per CPU are stopped after the timeout, but not those others hold objects of', () => {
    const { pool } = setup({ numCpus: 1, idleWorkerTimeoutMs: 1000 });
    const ws = [pool.spawn(), pool.spawn(), pool.spawn(), pool.spawn()];
    for (const w of ws) pool.ready(w.index, undefined);
    const [w0, w1, w2, w3] = ws as [FakeWorker, FakeWorker, FakeWorker, FakeWorker];
    w1.setHeldByOthers(true);
    pool.lease(w3); // busy: never reaped
    vi.advanceTimersByTime(900);
    expect(ws.map((w) => w.stopCalls)).toEqual([0, 0, 0, 0]);
    // The reaper runs on its own (every second at most).
    vi.advanceTimersByTime(1200);
    expect(ws.map((w) => w.state)).toEqual(['dead', 'idle', 'dead', 'leased']);
    expect(ws.map((w) => w.stopCalls)).toEqual([1, 0, 1, 0]);
    w0.exit(0);
    w2.exit(0);
    expect(pool.size).toBe(2);
    // Two idle again: w3 goes once it idled too long; w1, held by others, stays however long.
    pool.giveBack(w3);
    vi.advanceTimersByTime(5000);
    expect([w1.state, w3.state]).toEqual(['idle', 'dead']);
    expect(w1.stopCalls).toBe(0);
  });

  test('at the cap no worker starts, and actors take idle workers instead; said once', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { pool } = setup({ maxWorkers: 3 });
    const [w0, w1, w2] = [pool.spawn(), pool.spawn(), pool.spawn()];
    expect([pool.mayStart(), pool.atCap()]).toEqual([false, true]);
    pool.warnAtCap('actor Counter');
    pool.warnAtCap('actor Counter');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(
      /actor Counter waits for a worker process.*maxWorkerProcesses 3/,
    );
    // A Node warning with a stable code (base/warnings.ts).
    expect(warn.mock.calls[0]?.[1]).toEqual({ type: 'SunrayWarning', code: 'SUNRAY_PROCESS_CAP' });
    for (const w of [w0, w1, w2]) {
      pool.ready(w.index, undefined);
      vi.advanceTimersByTime(10);
    }
    pool.hostActor(w1, 'cd'.repeat(16));
    // At the cap an actor still finds a place in an idle worker (the warmest): nothing is stopped.
    expect(pool.hostWarm('ef'.repeat(16))).toBe(w2);
    expect(pool.hostWarm('ab'.repeat(16))).toBe(w0);
    expect([w0.stopCalls, w1.stopCalls, w2.stopCalls]).toEqual([0, 0, 0]);
    expect(pool.hostWarm('01'.repeat(16))).toBeUndefined();
    w2.exit(0);
    expect([pool.size, pool.mayStart()]).toEqual([2, true]);
  });

  test('failed starts: a pause that doubles, one start at a time, and WorkerStartError after three', () => {
    const { pool, exits, mayStartAgain } = setup();
    const a = pool.spawn();
    a.exit(1); // before Ready: a failed start
    expect(exits).toEqual([{ failed: true, error: undefined }]);
    expect(pool.mayStart()).toBe(false); // 100 ms pause
    vi.advanceTimersByTime(99);
    expect(mayStartAgain).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(mayStartAgain).toHaveBeenCalledTimes(1);
    expect(pool.mayStart()).toBe(true);
    const b = pool.spawn();
    expect(pool.mayStart()).toBe(false); // one at a time while starts fail
    b.exit(null, 'SIGSEGV');
    expect(exits[1]).toEqual({ failed: true, error: undefined });
    vi.advanceTimersByTime(199);
    expect(pool.mayStart()).toBe(false); // 200 ms now
    vi.advanceTimersByTime(1);
    expect(pool.mayStart()).toBe(true);
    pool.spawn().exit(3);
    const err = exits[2]?.error;
    expect(err).toBeInstanceOf(WorkerStartError);
    expect(err?.message).toMatch(/exited with code 3 before it was ready, 3 times in a row/);
    expect(err?.message).toMatch(/fake stderr/);
    expect(err?.message).toMatch(/`node worker\.js`/);
    // A worker stopped before it was ready did not fail to start; one that became ready resets.
    vi.advanceTimersByTime(400);
    const c = pool.spawn();
    void c.stop();
    c.exit(0);
    expect(exits[3]).toEqual({ failed: false, error: undefined });
    const d = pool.spawn();
    pool.ready(d.index, undefined);
    pool.spawn(); // starting
    expect(pool.mayStart()).toBe(true);
  });
});
