// ray.util's counterparts across two nodes: an ActorPool whose actors live on different
// nodes, and a Queue used by tasks and actors on both nodes.
import * as sunray from 'sunray';
import { ActorPool, Queue } from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

const Where = sunray.remote(
  class Where {
    async square(x: number) {
      const s = await import('sunray');
      return { y: x * x, node: s.getRuntimeContext().nodeId };
    }
  },
);

describe('ray.util across two nodes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 2, resources: { near: 4 } });
    await cluster.addNode({
      numCpus: 2,
      resources: { far: 4 },
      labels: { zone: 'far-1', 'example.com/tier': 'gold' },
    });
    await sunray.init({
      address: cluster.address,
      token: cluster.token,
      namespace: 'team',
      labels: { role: 'driver' },
    });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('an ActorPool spreads map over actors on both nodes and keeps the order', async () => {
    const near = Where.options({ resources: { near: 1 } }).remote();
    const far = Where.options({ resources: { far: 1 } }).remote();
    const pool = new ActorPool([near, far]);
    const values = Array.from({ length: 20 }, (_, i) => i);
    const got: Array<{ y: number; node: string }> = [];
    for await (const r of pool.map((a, v) => a.square.remote(v), values)) got.push(r);
    expect(got.map((r) => r.y)).toEqual(values.map((v) => v * v));
    expect(new Set(got.map((r) => r.node))).toEqual(new Set(cluster.nodes.map((n) => n.nodeId)));
    const unordered: number[] = [];
    for await (const r of pool.mapUnordered((a, v) => a.square.remote(v), [1, 2, 3])) unordered.push(r.y);
    expect(unordered.sort()).toEqual([1, 4, 9]);
    sunray.kill(near);
    sunray.kill(far);
  });

  test('a Queue on one node is shared by a task on the other node and the driver', async () => {
    // The queue's actor on the far node; the producer on the near one; the driver takes.
    const q = new Queue<{ i: number; node: string }>({ maxsize: 3, actorOptions: { resources: { far: 1 } } });
    const produce = sunray.remote(
      async (q: Queue<{ i: number; node: string }>, n: number) => {
        const s = await import('sunray');
        if (!(q instanceof s.Queue)) throw new Error('the queue did not arrive as a Queue');
        const node = s.getRuntimeContext().nodeId;
        for (let i = 0; i < n; i++) await q.put({ i, node }, { timeout: 20_000 });
        return node;
      },
      { resources: { near: 1 } },
    );
    const consume = sunray.remote(
      async (q: Queue<{ i: number; node: string }>, n: number) => {
        const out: number[] = [];
        for (let k = 0; k < n; k++) out.push((await q.get({ timeout: 20_000 })).i);
        return out;
      },
      { resources: { far: 1 } },
    );
    const producer = produce.remote(q, 20);
    const got: Array<{ i: number; node: string }> = [];
    for (let k = 0; k < 10; k++) got.push(await q.get({ timeout: 20_000 }));
    const rest = await sunray.get(consume.remote(q, 10));
    const node = await sunray.get(producer);
    expect(node).toBe(cluster.nodes[0]!.nodeId);
    expect(got.map((x) => x.i)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(got.every((x) => x.node === node)).toBe(true);
    expect(rest).toEqual(Array.from({ length: 10 }, (_, i) => i + 10));
    await expect(q.get({ timeout: 50 })).rejects.toBeInstanceOf(sunray.QueueEmptyError);
    q.shutdown();
  });

  test('nodes() lists every node with its address and resources, from the driver and a task', async () => {
    const nodes = await sunray.nodes();
    const [head, second] = cluster.nodes;
    const byId = new Map(nodes.map((n) => [n.nodeId, n]));
    expect(byId.get(head!.nodeId)).toMatchObject({
      address: head!.address,
      alive: true,
      isHead: true,
      isDriver: false,
      resources: expect.objectContaining({ CPU: 2, near: 4 }),
      labels: { 'sunray.io/node-id': head!.nodeId },
    });
    expect(byId.get(second!.nodeId)).toMatchObject({
      address: second!.address,
      alive: true,
      isHead: false,
      resources: expect.objectContaining({ CPU: 2, far: 4 }),
      // The labels it was started with (sunray start --labels), and its id.
      labels: { zone: 'far-1', 'example.com/tier': 'gold', 'sunray.io/node-id': second!.nodeId },
    });
    // The driver's own node is listed too, marked as a driver's, with init's labels.
    const driver = byId.get(sunray.getRuntimeContext().nodeId);
    expect(driver).toMatchObject({ alive: true, isDriver: true });
    expect(driver?.labels).toEqual({ role: 'driver', 'sunray.io/node-id': driver?.nodeId });
    expect(nodes).toHaveLength(3);
    const inTask = sunray.remote(async () => (await import('sunray')).nodes(), { resources: { far: 1 } });
    // A node hears of a node that joined with its next heartbeat's table (within a second).
    let seen: sunray.NodeInfo[] = [];
    await until(async () => {
      seen = await sunray.get(inTask.remote());
      return seen.filter((n) => n.alive).length === byId.size;
    }, 10_000);
    expect(new Set(seen.filter((n) => n.alive).map((n) => n.nodeId))).toEqual(new Set(byId.keys()));
    // A worker of a `sunray start` node serves every driver: it names the job (and the
    // namespace) of the call it runs, a nested call's too, and an actor's calls its creator's.
    const mine = sunray.getRuntimeContext();
    expect(mine.jobId).toMatch(/^[0-9a-f]{8}$/);
    expect(mine.namespace).toBe('team');
    const ctx = sunray.remote(
      async () => {
        const s = await import('sunray');
        const inner = s.remote(async () => (await import('sunray')).getRuntimeContext(), {
          resources: { near: 1 },
        });
        return { outer: s.getRuntimeContext(), inner: await s.get(inner.remote()) };
      },
      { resources: { far: 1 } },
    );
    const got = await sunray.get(ctx.remote());
    expect(got.outer).toMatchObject({ jobId: mine.jobId, namespace: mine.namespace });
    expect(got.inner).toMatchObject({ jobId: mine.jobId, namespace: mine.namespace });
    expect(got.outer.assignedResources).toEqual({ CPU: 1, far: 1 });
    const Where = sunray.remote(
      class Where {
        context() {
          return import('sunray').then((s) => s.getRuntimeContext());
        }
      },
      { resources: { far: 1 } },
    );
    const w = Where.remote();
    expect(await sunray.get(w.context.remote())).toMatchObject({
      jobId: mine.jobId,
      namespace: mine.namespace,
    });
    sunray.kill(w);
    // A named actor made by a task there is in the driver's namespace: the driver finds it.
    const makeNamed = sunray.remote(
      async () => {
        const s = await import('sunray');
        const Named = s.remote(
          class Named {
            hi() {
              return 'hi';
            }
          },
          { resources: { far: 1 } },
        );
        const h = Named.options({ name: 'made-in-task', lifetime: 'detached' }).remote();
        return s.get(h.hi.remote());
      },
      { resources: { far: 1 } },
    );
    expect(await sunray.get(makeNamed.remote())).toBe('hi');
    const found = await sunray.getActor<{ hi(): string }>('made-in-task');
    expect(await sunray.get(found.hi.remote())).toBe('hi');
    sunray.kill(found);
  });
});
