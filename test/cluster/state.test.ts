// The state API over a cluster of two nodes and a driver: listActors gathers every node's
// actors, listWorkers every node's processes, listNodes the head's table; `sunray list`
// and `sunray summary` give the same from the command line, asking the head.
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

class Seat {
  where() {
    return process.pid;
  }
}

describe('state API across nodes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1 });
    await cluster.addNode({ numCpus: 1 });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('actors, workers and nodes of every node, from the API and from `sunray list`', async () => {
    const [head, second] = cluster.nodes;
    if (!head || !second) throw new Error('two nodes expected');
    const on = (nodeId: string) => ({ schedulingStrategy: { nodeId, soft: false } }) as const;
    const here = sunray.remote(Seat).options(on(head.nodeId)).remote();
    const there = Array.from({ length: 3 }, () =>
      sunray
        .remote(Seat)
        .options({ ...on(second.nodeId), isolation: 'shared' })
        .remote(),
    );
    const pids = await sunray.get([here, ...there].map((h) => h.where.remote()));

    const actors = await sunray.listActors();
    expect(actors.unreachableNodes).toEqual([]);
    const byId = new Map(actors.map((r) => [r.actorId, r]));
    expect(byId.get(here.actorId)).toMatchObject({ state: 'ALIVE', nodeId: head.nodeId, pid: pids[0] });
    there.forEach((h, i) => {
      expect(byId.get(h.actorId)).toMatchObject({ state: 'ALIVE', nodeId: second.nodeId, pid: pids[i + 1] });
    });
    const onSecond = await sunray.listActors({ filters: [['nodeId', '=', second.nodeId]] });
    expect(onSecond.map((r) => r.actorId).sort()).toEqual(there.map((h) => h.actorId).sort());

    const workers = await sunray.listWorkers({ detail: true });
    expect(workers.find((w) => w.pid === pids[0])).toMatchObject({
      nodeId: head.nodeId,
      actorId: here.actorId,
    });
    expect(workers.find((w) => w.pid === pids[1])).toMatchObject({ nodeId: second.nodeId, sharedActors: 3 });
    expect(workers.filter((w) => w.workerType === 'DRIVER').map((w) => w.pid)).toContain(process.pid);

    // From a task on the other node: its node gathers from every node too.
    const count = sunray.remote(async () => {
      const s = await import('sunray');
      return (await s.listActors({ filters: [['state', '=', 'ALIVE']] })).length;
    }, on(second.nodeId));
    expect(await sunray.get(count.remote())).toBeGreaterThanOrEqual(4);

    const nodes = await sunray.listNodes();
    expect(nodes.map((n) => n.nodeId)).toEqual(expect.arrayContaining([head.nodeId, second.nodeId]));
    expect(nodes.find((n) => n.nodeId === head.nodeId)).toMatchObject({ state: 'ALIVE', isHead: true });

    // The command line asks the head, which gathers from every node.
    const flags = ['--address', cluster.address, '--token', cluster.token];
    const listed = await runNode(CLI, ['list', 'actors', ...flags, '--filter', 'state=ALIVE', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as Array<{ actorId: string; state: string }>;
    expect(rows.map((r) => r.actorId)).toEqual(
      expect.arrayContaining([here.actorId, ...there.map((h) => h.actorId)]),
    );
    const text = await runNode(CLI, ['list', 'workers', ...flags, '--filter', `nodeId=${second.nodeId}`]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^workerId\s+workerType\s+nodeId\s+pid\s+isAlive\s+state$/);
    expect(text.stdout).toContain(String(pids[1]));
    expect(text.stdout).not.toContain(String(pids[0]));
    const summary = await runNode(CLI, ['summary', 'actors', ...flags, '--json']);
    expect(summary.code, summary.stderr).toBe(0);
    expect(JSON.parse(summary.stdout).byClass.Seat).toMatchObject({ ALIVE: 4 });
    const bad = await runNode(CLI, ['list', 'tasks', ...flags]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/one of actors, workers, nodes/);

    for (const h of [here, ...there]) sunray.kill(h);
  });
});
