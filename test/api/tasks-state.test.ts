// Task events on one node: listTasks (every state a task goes through, where it ran, its
// times, a failed one's error), getTask, summarizeTasks, direct actor calls between workers,
// timeline() as a Chrome trace, and the taskEventsLimit and taskEvents options.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixtures, runNode, until } from '../helpers.js';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 64 << 20 });
});
afterAll(async () => {
  await sunray.shutdown();
});

const square = sunray.remote(function square(x: number) {
  return x * x;
});
const boom = sunray.remote(function boom() {
  throw new TypeError('no way');
});
const nap = sunray.remote(async function nap(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
  return process.pid;
});

class Tally {
  n = 0;
  add(k: number) {
    this.n += k;
    return this.n;
  }
}

/** The task a ref is the first return of (its id is the ref's first 24 bytes). */
const taskOf = (ref: sunray.ObjectRef<unknown>) => ref.hex.slice(0, 48);

describe('task events', () => {
  test('listTasks: finished, failed (with its error), running and waiting tasks, each where it ran', async () => {
    const ok = square.remote(7);
    const bad = boom.remote();
    expect(await sunray.get(ok)).toBe(49);
    await expect(sunray.get(bad)).rejects.toMatchObject({ name: 'TaskError' });
    const [node] = await sunray.nodes();

    const long = nap.remote(3000);
    const waiting = square.remote(long as unknown as number); // waits for long's result
    await until(async () => (await sunray.getTask(taskOf(long)))?.state === 'RUNNING', 5000, 'nap RUNNING');
    const w = await sunray.getTask(taskOf(waiting));
    expect(w?.state).toBe('PENDING_ARGS_AVAIL');
    expect(w?.ownerPid).toBe(process.pid);

    const done = await sunray.getTask(taskOf(ok));
    expect(done).toMatchObject({
      name: 'square',
      type: 'NORMAL_TASK',
      funcOrClassName: 'square',
      state: 'FINISHED',
      nodeId: node?.nodeId,
      ownerPid: process.pid,
      requiredResources: { CPU: 1 },
      errorType: '',
      attemptNumber: 0,
    });
    expect(done?.jobId).toBe(sunray.getRuntimeContext().jobId);
    expect(done?.workerPid).toBeGreaterThan(0);
    expect(done?.workerPid).not.toBe(process.pid);
    expect(done?.events.map((e) => e.state)).toEqual([
      'PENDING_NODE_ASSIGNMENT',
      'SUBMITTED_TO_WORKER',
      'RUNNING',
      'FINISHED',
    ]);
    const { creationTimeMs, startTimeMs, endTimeMs } = done as sunray.TaskStateRow;
    expect(creationTimeMs).toBeLessThanOrEqual(startTimeMs as number);
    expect(startTimeMs as number).toBeLessThanOrEqual(endTimeMs as number);
    expect(Math.abs(creationTimeMs - Date.now())).toBeLessThan(60_000);

    const failed = await sunray.getTask(taskOf(bad));
    expect(failed).toMatchObject({ state: 'FAILED', errorType: 'TypeError', errorMessage: 'no way' });
    expect(failed?.errorStack).toMatch(/TypeError: no way\n\s+at boom/);

    const pid = await sunray.get(long);
    expect(await sunray.get(waiting)).toBe(pid * pid);
    await until(
      async () => (await sunray.getTask(taskOf(waiting)))?.state === 'FINISHED',
      5000,
      'waiting done',
    );
    const waited = await sunray.getTask(taskOf(waiting));
    expect(waited?.events.map((e) => e.state)[0]).toBe('PENDING_ARGS_AVAIL');

    // Filters and default columns, as listActors'.
    const failures = await sunray.listTasks({ filters: [['state', '=', 'FAILED']] });
    expect(failures.map((r) => r.taskId)).toEqual([taskOf(bad)]);
    expect(Object.keys(failures[0] ?? {})).not.toContain('errorStack');
    expect(failures.droppedTasks).toBe(0);
    const squares = await sunray.listTasks({ filters: [['name', '=', 'square']], limit: 1 });
    expect(squares).toHaveLength(1);
    await expect(sunray.listTasks({ filters: [['colour' as 'name', '=', 'red']] })).rejects.toMatchObject({
      code: 'SUNRAY_INVALID_ARGUMENT',
    });
  });

  test('actor creation and calls, from the driver and straight from a worker (direct channel)', async () => {
    const tally = sunray.remote(Tally).remote();
    const fromDriver = tally.add.remote(1);
    await sunray.get(fromDriver);
    // A task on a worker calls the actor over a direct channel: only the actor's worker sees it.
    const caller = sunray.remote(async (h: typeof tally) => {
      const refs = [h.add.remote(10), h.add.remote(100)];
      const s = await import('sunray');
      await s.get(refs);
      return refs.map((r) => r.hex.slice(0, 48));
    });
    const direct = await sunray.get(caller.remote(tally));
    const actorPid = (await sunray.listActors({ filters: [['actorId', '=', tally.actorId]] }))[0]?.pid;
    await until(
      async () => (await sunray.listTasks({ filters: [['actorId', '=', tally.actorId]] })).length === 4,
      5000,
      'four rows of the actor',
    );
    const rows = await sunray.listTasks({ filters: [['actorId', '=', tally.actorId]], detail: true });
    const byId = new Map(rows.map((r) => [r.taskId, r]));
    expect(rows.find((r) => r.type === 'ACTOR_CREATION_TASK')).toMatchObject({
      name: 'Tally.constructor',
      funcOrClassName: 'Tally',
      state: 'FINISHED',
      workerPid: actorPid,
    });
    expect(byId.get(taskOf(fromDriver))).toMatchObject({
      name: 'Tally.add',
      type: 'ACTOR_TASK',
      state: 'FINISHED',
    });
    for (const id of direct) {
      expect(byId.get(id)).toMatchObject({
        name: 'Tally.add',
        type: 'ACTOR_TASK',
        funcOrClassName: 'Tally',
        state: 'FINISHED',
        workerPid: actorPid,
      });
      expect(byId.get(id)?.events?.map((e) => e.state)).toEqual([
        'SUBMITTED_TO_WORKER',
        'RUNNING',
        'FINISHED',
      ]);
    }
    sunray.kill(tally);
  });

  test('summarizeTasks counts by name and state; timeline() writes a Chrome trace of what ran', async () => {
    await sunray.get([square.remote(1), square.remote(2)]);
    const summary = await sunray.summarizeTasks();
    expect(summary.byName.square?.type).toBe('NORMAL_TASK');
    expect(summary.byName.square?.states.FINISHED).toBeGreaterThanOrEqual(4);
    expect(summary.byName.boom?.states).toEqual({ FAILED: 1 });
    expect(summary.total).toBe(
      Object.values(summary.byName).reduce(
        (n, e) => n + Object.values(e.states).reduce((a, b) => a + (b ?? 0), 0),
        0,
      ),
    );

    const file = join(tmpdir(), `sunray-timeline-${process.pid}.json`);
    try {
      const events = await sunray.timeline(file);
      const written = JSON.parse(readFileSync(file, 'utf8')) as sunray.TraceEvent[];
      expect(written).toEqual(events);
      const slices = written.filter((e) => e.ph === 'X');
      const ran = (await sunray.listTasks({ limit: 10_000, detail: true })).filter(
        (r) => r.startTimeMs !== null && r.endTimeMs !== null,
      );
      expect(slices.map((s) => s.args?.taskId).sort()).toEqual(ran.map((r) => r.taskId).sort());
      for (const s of slices) {
        const r = ran.find((x) => x.taskId === s.args?.taskId);
        expect(s.name).toBe(r?.name);
        expect(s.tid).toBe(r?.workerPid);
        expect(s.ts).toBe(Math.round((r?.startTimeMs ?? 0) * 1000));
      }
      const threadNames = written.filter((e) => e.name === 'thread_name').map((e) => e.args?.name);
      expect(threadNames).toContain(`process ${process.pid}`); // the driver: where arrows start
      const starts = written.filter((e) => e.ph === 's');
      expect(starts.length).toBeGreaterThan(0);
      expect(written.filter((e) => e.ph === 'f').map((e) => e.id)).toEqual(starts.map((e) => e.id));
    } finally {
      rmSync(file, { force: true });
    }
    await expect(sunray.timeline('')).rejects.toMatchObject({ code: 'SUNRAY_INVALID_ARGUMENT' });
  });

  test('taskEventsLimit keeps the last tasks and counts the rest; taskEvents: false records none', async () => {
    const limited = await runNode(join(fixtures, 'driver-task-events.mjs'), ['5']);
    expect(limited.code, limited.stderr).toBe(0);
    expect(JSON.parse(limited.stdout)).toEqual({
      rows: 5,
      droppedTasks: 7,
      summaryTotal: 5,
      summaryDropped: 7,
      trace: 5,
    });
    const off = await runNode(join(fixtures, 'driver-task-events.mjs'), ['off']);
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout)).toEqual({
      rows: 0,
      droppedTasks: 0,
      summaryTotal: 0,
      summaryDropped: 0,
      trace: 0,
    });
  });
});
