// sunray.events in a driver joined to a cluster: nodeAdded for the nodes there at init and
// for one that joins later; nodeDead when a node is killed, with nodes() showing it dead;
// actorRestarted (elsewhere) and actorDied for the driver's actors that lived on it; and what
// happens on another node to this driver's work (workerExit, actorRestarted, actorDied) is
// heard here.
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

class Tally {
  n = 0;
  bump() {
    return ++this.n;
  }
}

describe('cluster events', () => {
  let cluster: Cluster;
  const seen: Array<[string, any]> = [];
  beforeAll(async () => {
    for (const name of ['nodeAdded', 'nodeDead', 'actorRestarted', 'actorDied', 'workerExit'] as const) {
      sunray.events.on(name, (e: unknown) => seen.push([name, e]));
    }
    cluster = new Cluster({ heartbeatTimeout: 2000 });
    await cluster.addNode({ numCpus: 2 });
    await cluster.addNode({ numCpus: 2 });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    sunray.events.removeAllListeners();
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('nodeAdded for each node there at init and for one that joins later', async () => {
    const [head, second] = cluster.nodes;
    await until(() => seen.filter(([n]) => n === 'nodeAdded').length >= 2, 10_000, 'nodeAdded x2');
    const added = () => new Map(seen.filter(([n]) => n === 'nodeAdded').map(([, e]) => [e.nodeId, e]));
    expect(added().get(head!.nodeId)).toMatchObject({
      address: head!.address,
      isHead: true,
      isDriver: false,
      resources: expect.objectContaining({ CPU: 2 }),
    });
    expect(added().get(second!.nodeId)).toMatchObject({ address: second!.address, isHead: false });
    const third = await cluster.addNode({ numCpus: 1 });
    await until(() => added().has(third.nodeId), 15_000, 'nodeAdded of the new node');
    expect(added().get(third.nodeId)).toMatchObject({ address: third.address, resources: { CPU: 1 } });
  });

  test("another node's workers doing this driver's work: their exits, restarts and deaths are heard here", async () => {
    const there = cluster.nodes[0]!;
    const on = { schedulingStrategy: { nodeId: there.nodeId, soft: false } } as const;
    const Crasher = sunray.remote(
      class Crasher {
        pid() {
          return process.pid;
        }
        crash(code: number) {
          process.exit(code);
        }
      },
      { ...on, maxRestarts: 1 },
    );
    const a = Crasher.remote();
    const heard = (name: string, pred: (e: any) => boolean) =>
      seen.find(([n, e]) => n === name && pred(e))?.[1];
    for (const [round, code] of [
      [1, 3],
      [2, 5],
    ] as const) {
      const pid = await sunray.get(a.pid.remote());
      await sunray.get(a.crash.remote(code)).catch(() => {});
      await until(
        () => heard('workerExit', (e) => e.pid === pid) !== undefined,
        10_000,
        `workerExit ${round}`,
      );
      expect(heard('workerExit', (e) => e.pid === pid)).toMatchObject({
        nodeId: there.nodeId,
        exitCode: code,
        actorId: a.actorId,
        expected: false,
      });
    }
    await until(() => heard('actorDied', (e) => e.actorId === a.actorId) !== undefined, 10_000, 'actorDied');
    expect(heard('actorRestarted', (e) => e.actorId === a.actorId)).toMatchObject({
      className: 'Crasher',
      restarts: 1,
    });
    expect(heard('actorDied', (e) => e.actorId === a.actorId).reason).toMatch(/exited with code 5/);
    // A task's worker that dies there.
    const boom = sunray.remote(() => process.exit(4), { ...on, maxRetries: 0 });
    await expect(sunray.get(boom.remote())).rejects.toThrow(sunray.WorkerCrashedError);
    await until(
      () => heard('workerExit', (e) => e.exitCode === 4) !== undefined,
      10_000,
      "the task worker's workerExit",
    );
    expect(heard('workerExit', (e) => e.exitCode === 4)).toMatchObject({
      nodeId: there.nodeId,
      expected: false,
    });
  });

  test('a node killed: nodeDead once, nodes() shows it dead, its actors restart or die', async () => {
    const victim = cluster.nodes[1]!;
    const onVictim = { schedulingStrategy: { nodeId: victim.nodeId, soft: true } } as const;
    const restartable = sunray.remote(Tally, { ...onVictim, maxRestarts: 1, name: 'restartable' }).remote();
    const mortal = sunray.remote(Tally, { ...onVictim, maxRestarts: 0 }).remote();
    expect(await sunray.get([restartable.bump.remote(), mortal.bump.remote()])).toEqual([1, 1]);
    victim.process.kill('SIGKILL');
    await until(
      () => seen.some(([n, e]) => n === 'nodeDead' && e.nodeId === victim.nodeId),
      20_000,
      'nodeDead',
    );
    expect(seen.find(([n]) => n === 'nodeDead')![1]).toEqual({
      nodeId: victim.nodeId,
      address: victim.address,
    });
    const dead = (await sunray.nodes()).find((n) => n.nodeId === victim.nodeId);
    expect(dead?.alive).toBe(false);
    await until(
      () =>
        seen.some(([n, e]) => n === 'actorRestarted' && e.actorId === restartable.actorId) &&
        seen.some(([n, e]) => n === 'actorDied' && e.actorId === mortal.actorId),
      10_000,
      'actor events',
    );
    const restarted = seen.find(([n, e]) => n === 'actorRestarted' && e.actorId === restartable.actorId)![1];
    expect(restarted).toMatchObject({
      actorId: restartable.actorId,
      className: 'Tally',
      name: 'restartable',
    });
    expect(restarted.restarts).toBe(1);
    expect(restarted.reason).toContain(victim.nodeId.slice(0, 8));
    const died = seen.find(([n, e]) => n === 'actorDied' && e.actorId === mortal.actorId)![1];
    expect(died).toMatchObject({ actorId: mortal.actorId, className: 'Tally' });
    expect(died.reason).toMatch(/maxRestarts is used up/);
    // The restarted actor answers from its new node (state rebuilt by its constructor).
    expect(await sunray.get(restartable.bump.remote())).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.filter(([n, e]) => n === 'nodeDead' && e.nodeId === victim.nodeId)).toHaveLength(1);
  });
});
