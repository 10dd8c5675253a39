// The state API on one node: listActors (process and shared actors, dead ones with why),
// listWorkers (the driver and its node's workers, with the actors they host), listNodes,
// listObjects and summarizeObjects (every process's references), summarizeActors, and the
// filters, limit and detail of the list calls. Tasks: tasks-state.test.ts.
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 64 << 20 });
});
afterAll(async () => {
  await sunray.shutdown();
});

class Room {
  pid() {
    return process.pid;
  }
}
class Keeper {
  kept: unknown[] = [];
  keep(box: { ref: unknown }) {
    this.kept.push(box.ref);
    return process.pid;
  }
}
class Broken {
  constructor() {
    throw new Error('no room');
  }
  pid() {
    return process.pid;
  }
}

describe('state API', () => {
  test('listActors: each actor with its state, node and process; dead ones say why', async () => {
    const own = sunray.remote(Room).options({ name: 'lobby' }).remote();
    const shared = Array.from({ length: 3 }, () =>
      sunray.remote(Room).options({ isolation: 'shared' }).remote(),
    );
    const broken = sunray.remote(Broken).remote();
    const ownPid = await sunray.get(own.pid.remote());
    const sharedPids = await sunray.get(shared.map((h) => h.pid.remote()));
    await expect(sunray.get(broken.pid.remote())).rejects.toMatchObject({ name: 'ActorDiedError' });
    const [node] = await sunray.nodes();

    const rows = await sunray.listActors({ detail: true });
    expect(rows.unreachableNodes).toEqual([]);
    const byId = new Map(rows.map((r) => [r.actorId, r]));
    expect(byId.get(own.actorId)).toMatchObject({
      className: 'Room',
      state: 'ALIVE',
      name: 'lobby',
      namespace: 'default',
      nodeId: node?.nodeId,
      pid: ownPid,
      numRestarts: 0,
      isolation: 'process',
      detached: false,
      deathCause: '',
    });
    shared.forEach((h, i) => {
      expect(byId.get(h.actorId)).toMatchObject({ state: 'ALIVE', isolation: 'shared', pid: sharedPids[i] });
    });
    expect(byId.get(broken.actorId)).toMatchObject({
      className: 'Broken',
      state: 'DEAD',
      pid: null,
      deathCause: expect.stringContaining('no room'),
    });

    // Without detail: Ray's default columns only.
    const plain = await sunray.listActors({ filters: [['actorId', '=', own.actorId]] });
    expect(plain).toHaveLength(1);
    expect(Object.keys(plain[0] ?? {}).sort()).toEqual(
      ['actorId', 'className', 'name', 'namespace', 'nodeId', 'numRestarts', 'pid', 'state'].sort(),
    );
    // Filters (= and !=, values as text) and the limit.
    const sharedAlive = await sunray.listActors({
      filters: [
        ['isolation', '=', 'shared'],
        ['state', '!=', 'DEAD'],
      ],
      detail: true,
    });
    expect(sharedAlive.map((r) => r.actorId).sort()).toEqual(shared.map((h) => h.actorId).sort());
    expect(await sunray.listActors({ filters: [['pid', '=', ownPid]] })).toHaveLength(1);
    expect(await sunray.listActors({ limit: 2 })).toHaveLength(2);

    const summary = await sunray.summarizeActors();
    expect(summary.byClass.Room).toMatchObject({ ALIVE: 4 });
    expect(summary.byClass.Broken).toEqual({ DEAD: 1 });

    sunray.kill(own);
    await until(
      async () =>
        (await sunray.listActors({ filters: [['actorId', '=', own.actorId]] }))[0]?.state === 'DEAD',
      10_000,
      'the killed actor to be listed DEAD',
    );
    for (const h of shared) sunray.kill(h);
  });

  test('listWorkers: the driver and the workers, with the actor each hosts; listNodes: this node', async () => {
    const a = sunray.remote(Room).remote();
    const pid = await sunray.get(a.pid.remote());
    const workers = await sunray.listWorkers({ detail: true });
    expect(workers.find((w) => w.workerType === 'DRIVER')).toMatchObject({
      pid: process.pid,
      isAlive: true,
      state: 'RUNNING',
    });
    expect(workers.find((w) => w.pid === pid)).toMatchObject({
      workerType: 'WORKER',
      state: 'ACTOR',
      actorId: a.actorId,
      isAlive: true,
    });
    const [node] = await sunray.listNodes({ detail: true });
    expect(node).toMatchObject({ state: 'ALIVE', isHead: true, resourcesTotal: { CPU: 2 } });
    expect((await sunray.listNodes({ filters: [['state', '=', 'DEAD']] })).length).toBe(0);
    sunray.kill(a);
  });

  test('listJobs: on a node of its own, this driver is the one job, RUNNING', async () => {
    const jobs = await sunray.listJobs({ detail: true });
    expect([...jobs]).toEqual([
      expect.objectContaining({
        jobId: sunray.getRuntimeContext().jobId,
        type: 'DRIVER',
        status: 'RUNNING',
        namespace: 'default',
        driverPid: process.pid,
        endTime: null,
        message: '',
      }),
    ]);
    expect(jobs[0]?.startTime).toBeLessThanOrEqual(Date.now());
    expect((await sunray.listJobs({ filters: [['status', '=', 'FAILED']] })).length).toBe(0);
  });

  test('listObjects: a reference per process that holds one, with why; summarizeObjects', async () => {
    const ref = sunray.put(Buffer.alloc(200_000, 7));
    const keeper = sunray.remote(Keeper).remote();
    const keeperPid = await sunray.get(keeper.keep.remote({ ref }));
    const rows = await sunray.listObjects({ filters: [['objectId', '=', ref.hex]], detail: true });
    expect(rows.unreachableNodes).toEqual([]);
    const [node] = await sunray.nodes();
    expect(rows.find((r) => r.pid === process.pid)).toMatchObject({
      referenceType: 'LOCAL_REFERENCE',
      type: 'DRIVER',
      taskStatus: 'READY',
      objectSize: expect.any(Number),
      inStore: true,
      nodeId: node?.nodeId,
      localRefs: 1,
    });
    expect(rows.find((r) => r.pid === process.pid)?.objectSize).toBeGreaterThanOrEqual(200_000);
    expect(rows.find((r) => r.pid === keeperPid)).toMatchObject({
      referenceType: 'BORROWED',
      type: 'WORKER',
    });
    const borrowed = await sunray.listObjects({ filters: [['referenceType', '=', 'BORROWED']] });
    expect(borrowed.map((r) => r.objectId)).toContain(ref.hex);
    expect(Object.keys(borrowed[0] ?? {}).sort()).toEqual(
      ['callSite', 'nodeId', 'objectId', 'objectSize', 'pid', 'referenceType', 'taskStatus', 'type'].sort(),
    );
    const summary = await sunray.summarizeObjects();
    expect(summary.totalObjects).toBeGreaterThanOrEqual(1);
    expect(summary.totalSizeBytes).toBeGreaterThanOrEqual(200_000);
    expect(summary.byCallSite.disabled?.references).toMatchObject({
      LOCAL_REFERENCE: expect.any(Number),
      BORROWED: expect.any(Number),
    });
    sunray.kill(keeper);
  });

  test('bad filters and limits throw InvalidArgumentError before anything is asked', async () => {
    await expect(sunray.listActors({ filters: [['colour' as never, '=', 'red']] })).rejects.toThrow(
      /no column 'colour' to filter actors by: use one of actorId, className/,
    );
    await expect(sunray.listActors({ filters: [['state', '~' as never, 'x']] })).rejects.toBeInstanceOf(
      sunray.InvalidArgumentError,
    );
    await expect(sunray.listWorkers({ limit: 0 })).rejects.toThrow(/limit must be a whole number >= 1/);
  });
});
