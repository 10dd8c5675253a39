// The state API over a cluster of two nodes and a driver: listActors gathers every node's
// actors, listWorkers every node's processes, listNodes the head's table, listTasks the
// head's task table (every node ships its task events there); `sunray list`, `summary`,
// `get` and `timeline` give the same from the command line, asking the head.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

class Seat {
  kept: unknown[] = [];
  where() {
    return process.pid;
  }
  keep(box: { ref: unknown }) {
    this.kept.push(box.ref);
    return process.pid;
  }
}

describe('state API across nodes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1 });
    await cluster.addNode({ numCpus: 1, metricsPort: 0 });
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
    const bad = await runNode(CLI, ['list', 'bananas', ...flags]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/one of actors, workers, nodes, tasks, objects/);

    // Objects: the driver's put, borrowed by an actor on the second node; each node lists its processes'.
    const ref = sunray.put({ big: 'x'.repeat(1000) });
    const keeper = there[0];
    if (!keeper) throw new Error('three shared actors expected');
    const keeperPid = await sunray.get(keeper.keep.remote({ ref }));
    const objects = await sunray.listObjects({ filters: [['objectId', '=', ref.hex]], detail: true });
    expect(objects.find((o) => o.pid === keeperPid)).toMatchObject({
      nodeId: second.nodeId,
      referenceType: 'BORROWED',
    });
    expect(objects.find((o) => o.pid === process.pid)).toMatchObject({
      type: 'DRIVER',
      referenceType: 'LOCAL_REFERENCE',
    });
    const listedObjects = await runNode(CLI, [
      'list',
      'objects',
      ...flags,
      '--filter',
      `objectId=${ref.hex}`,
      '--json',
    ]);
    expect(listedObjects.code, listedObjects.stderr).toBe(0);
    expect(
      JSON.parse(listedObjects.stdout)
        .map((o: { pid: number }) => o.pid)
        .sort(),
    ).toEqual([process.pid, keeperPid].sort());
    const objectSummary = await runNode(CLI, ['summary', 'objects', ...flags, '--json']);
    expect(objectSummary.code, objectSummary.stderr).toBe(0);
    expect(JSON.parse(objectSummary.stdout).totalObjects).toBeGreaterThanOrEqual(1);

    const got = await runNode(CLI, ['get', 'actor', here.actorId, ...flags, '--json']);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ actorId: here.actorId, className: 'Seat', pid: pids[0] });

    for (const h of [here, ...there]) sunray.kill(h);
  });

  test("tasks of every node in the head's table, from the API and from `sunray list|summary|get|timeline`", async () => {
    const [head, second] = cluster.nodes;
    if (!head || !second) throw new Error('two nodes expected');
    const on = (nodeId: string) => ({ schedulingStrategy: { nodeId, soft: false } }) as const;
    const fails = sunray.remote(function fails() {
      throw new RangeError('too far');
    }, on(second.nodeId));
    // Runs on the second node and submits a task that runs on the head: three nodes record it.
    const branch = sunray.remote(async function branch(headId: string) {
      const s = await import('sunray');
      const strategy = { nodeId: headId, soft: false };
      const leaf = s.remote(
        function leaf(x: number) {
          return x + 1;
        },
        { schedulingStrategy: strategy },
      );
      const ref = leaf.remote(1);
      return [ref.hex.slice(0, 48), await s.get(ref), process.pid];
    }, on(second.nodeId));
    const [leafId, two, branchPid] = (await sunray.get(branch.remote(head.nodeId))) as [
      string,
      number,
      number,
    ];
    expect(two).toBe(2);
    const failed = fails.remote() as sunray.ObjectRef<unknown>;
    await expect(sunray.get(failed)).rejects.toMatchObject({ name: 'TaskError' });
    const failedId = failed.hex.slice(0, 48);

    // The nodes ship within a second; the driver's own events go with its question.
    await until(async () => (await sunray.getTask(failedId))?.state === 'FAILED', 10_000, 'fails FAILED');
    await until(async () => (await sunray.getTask(leafId))?.state === 'FINISHED', 10_000, 'leaf FINISHED');
    const leafRow = await sunray.getTask(leafId);
    expect(leafRow).toMatchObject({
      name: 'leaf',
      nodeId: head.nodeId,
      ownerPid: branchPid,
      ownerNodeId: second.nodeId,
    });
    const branchRows = await sunray.listTasks({ filters: [['name', '=', 'branch']], detail: true });
    expect(branchRows).toHaveLength(1);
    expect(branchRows[0]).toMatchObject({
      state: 'FINISHED',
      nodeId: second.nodeId,
      workerPid: branchPid,
      ownerPid: process.pid,
    });
    // From a task on the other node: it asks the head too.
    const count = sunray.remote(async () => {
      const s = await import('sunray');
      return (await s.listTasks({ filters: [['name', '=', 'leaf']] })).length;
    }, on(second.nodeId));
    expect(await sunray.get(count.remote())).toBe(1);

    const flags = ['--address', cluster.address, '--token', cluster.token];
    const listed = await runNode(CLI, ['list', 'tasks', ...flags, '--filter', 'state=FAILED', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ taskId: failedId, errorType: 'RangeError' }),
    ]);
    const summary = await runNode(CLI, ['summary', 'tasks', ...flags, '--json']);
    expect(summary.code, summary.stderr).toBe(0);
    expect(JSON.parse(summary.stdout).byName).toMatchObject({
      leaf: { type: 'NORMAL_TASK', states: { FINISHED: 1 } },
      fails: { states: { FAILED: 1 } },
    });
    // The second node serves /metrics (sunray start --metrics-port): its tasks, and a program's metric set there.
    expect(second.metricsAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const visit = sunray.remote(async () => {
      const m = await import('sunray/metrics');
      new m.Counter('branch_visits_total', { tagKeys: ['kind'] }).inc(4, { kind: 'leaf' });
      return 1;
    }, on(second.nodeId));
    await sunray.get(visit.remote());
    let scraped = '';
    await until(
      async () => {
        scraped = await (await fetch(`http://${second.metricsAddress}/metrics`)).text();
        return /^branch_visits_total\{kind="leaf",node_id="[0-9a-f]+"\} 4$/m.test(scraped);
      },
      10_000,
      "the second node's /metrics to show the task's counter",
    );
    expect(scraped).toMatch(
      new RegExp(`^sunray_tasks_failed_total\\{node_id="${second.nodeId}"\\} [1-9]`, 'm'),
    );

    const got = await runNode(CLI, ['get', 'task', failedId, ...flags]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(/^errorType: RangeError$/m);
    expect(got.stdout).toMatch(/^errorMessage: too far$/m);
    expect(got.stdout).toMatch(/RangeError: too far\n\s+at fails/);
    const missing = await runNode(CLI, ['get', 'task', 'ab'.repeat(24), ...flags]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no task/);

    const file = join(tmpdir(), `sunray-cli-timeline-${process.pid}.json`);
    try {
      const tl = await runNode(CLI, ['timeline', ...flags, '--output', file]);
      expect(tl.code, tl.stderr).toBe(0);
      expect(tl.stdout).toMatch(/wrote \d+ task run\(s\) to /);
      const trace = JSON.parse(readFileSync(file, 'utf8')) as Array<{
        ph: string;
        name: string;
        tid: number;
        args?: { taskId?: string };
      }>;
      const leafSlice = trace.find((e) => e.ph === 'X' && e.args?.taskId === leafId);
      expect(leafSlice).toMatchObject({ name: 'leaf', tid: leafRow?.workerPid });
      expect(trace.filter((e) => e.name === 'process_name').length).toBeGreaterThanOrEqual(2);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
