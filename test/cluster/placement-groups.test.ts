// Placement groups across a real cluster: the driver's node is the head (no CPUs of its own)
// and three node processes have 2 CPUs each. Each strategy puts bundles where it says, and
// the group's tasks run on their bundle's node; reservation is all or none; a group that
// can never fit waits, with the reason, and is listed; a node's death places its bundles
// again and restarts the actor that lived in one.
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster, type NodeHandle } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

let cluster: Cluster;
let nodes: NodeHandle[];

beforeAll(async () => {
  await sunray.init({ numCpus: 0, objectStoreMemory: 64 * 1024 * 1024 });
  cluster = new Cluster({ heartbeatTimeout: 3000 });
  nodes = [];
  for (let i = 0; i < 3; i++) nodes.push(await cluster.addNode({ numCpus: 2 }));
}, 60_000);
afterAll(async () => {
  await cluster.shutdown();
  await sunray.shutdown();
});

const whereAmI = sunray.remote(
  async () => {
    const s = await import('sunray');
    return s.getRuntimeContext().nodeId;
  },
  { numCpus: 1 },
);

/** The nodes of a created group's bundles, and where a task of each bundle ran. */
async function placedAndRan(pg: sunray.PlacementGroup): Promise<{ bundles: string[]; ran: string[] }> {
  await pg.ready();
  const row = await sunray.placementGroupTable(pg);
  const ran = await sunray.get(
    row.bundles.map((b) =>
      whereAmI.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: b.bundleIndex } }).remote(),
    ),
  );
  return { bundles: row.bundles.map((b) => b.nodeId), ran };
}

describe('placement groups in a cluster of three nodes', () => {
  test('PACK and STRICT_PACK put both bundles on one node; their tasks run there', async () => {
    for (const strategy of ['PACK', 'STRICT_PACK'] as const) {
      const pg = sunray.placementGroup([{ CPU: 1 }, { CPU: 1 }], { strategy });
      const { bundles, ran } = await placedAndRan(pg);
      expect(new Set(bundles).size).toBe(1);
      expect(ran).toEqual(bundles);
      expect(nodes.map((n) => n.nodeId)).toContain(bundles[0]);
      await sunray.removePlacementGroup(pg);
    }
  }, 60_000);

  test('SPREAD and STRICT_SPREAD put three bundles on three nodes; their tasks run there', async () => {
    for (const strategy of ['SPREAD', 'STRICT_SPREAD'] as const) {
      const pg = sunray.placementGroup([{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], { strategy });
      const { bundles, ran } = await placedAndRan(pg);
      expect(new Set(bundles)).toEqual(new Set(nodes.map((n) => n.nodeId)));
      expect(ran).toEqual(bundles);
      await sunray.removePlacementGroup(pg);
    }
  }, 60_000);

  test('all or none: while one node lacks room nothing is held anywhere; then all at once', async () => {
    const first = nodes[0]!;
    // An actor holds 1 of the first node's 2 CPUs: three 2-CPU bundles on three nodes cannot fit.
    class Holder {
      ping() {
        return 'ok';
      }
    }
    const H = sunray.remote(Holder, { numCpus: 1 });
    const h = H.options({ schedulingStrategy: { nodeId: first.nodeId } }).remote();
    expect(await sunray.get(h.ping.remote())).toBe('ok');
    const pg = sunray.placementGroup([{ CPU: 2 }, { CPU: 2 }, { CPU: 2 }], { strategy: 'STRICT_SPREAD' });
    expect(await pg.wait(2)).toBe(false);
    expect((await sunray.placementGroupTable(pg)).state).toBe('PENDING');
    // No bundle is held on the two nodes that had room: they still have every CPU free.
    const free = await waitFor(async () => {
      const f = (await sunray.availableResourcesAsync()).CPU;
      return f === 5 ? f : undefined;
    }, 5000);
    expect(free).toBe(5);
    sunray.kill(h);
    await pg.ready();
    expect(new Set((await sunray.placementGroupTable(pg)).bundles.map((b) => b.nodeId)).size).toBe(3);
    await sunray.removePlacementGroup(pg);
  }, 60_000);

  test('a group no three nodes can hold waits as infeasible, and is listed with its reason', async () => {
    const pg = sunray.placementGroup([{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }, { CPU: 1 }], {
      strategy: 'STRICT_SPREAD',
      name: 'four-nodes',
    });
    expect(await pg.wait(1)).toBe(false);
    const listed = await sunray.listPlacementGroups({ filters: [['name', '=', 'four-nodes']], detail: true });
    expect(listed).toHaveLength(1);
    expect(listed[0]?.state).toBe('PENDING');
    expect(listed[0]?.pendingReason).toMatch(/infeasible.*STRICT_SPREAD/);
    // The CLI lists it too, from the head.
    const r = await runNode(CLI, ['list', 'placement-groups', '--address', cluster.address, '--json'], {
      env: { SUNRAY_CLUSTER_TOKEN: cluster.token },
    });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; state: string }>;
    expect(rows.find((r) => r.name === 'four-nodes')?.state).toBe('PENDING');
    // `sunray status` reports it as it reports infeasible tasks: with the reason.
    const st = await runNode(CLI, ['status', '--address', cluster.address], {
      env: { SUNRAY_CLUSTER_TOKEN: cluster.token },
    });
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(
      /placement groups waiting to be placed:\n {2}four-nodes PENDING: infeasible: STRICT_SPREAD/,
    );
    await sunray.removePlacementGroup(pg);
  }, 60_000);

  test("a node's death places its bundle again, and the bundle's actor restarts there", async () => {
    const pg = sunray.placementGroup([{ CPU: 1 }, { CPU: 1 }], { strategy: 'STRICT_SPREAD' });
    await pg.ready();
    class Where {
      async node() {
        const s = await import('sunray');
        return s.getRuntimeContext().nodeId;
      }
    }
    const W = sunray.remote(Where, { numCpus: 1, maxRestarts: 1 });
    const w = W.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: 0 } }).remote();
    const before = await sunray.get(w.node.remote());
    const row = await sunray.placementGroupTable(pg);
    expect(row.bundles[0]?.nodeId).toBe(before);
    const victim = nodes.find((n) => n.nodeId === before)!;
    victim.process.kill('SIGKILL');
    const moved = await waitFor(async () => {
      const r = await sunray.placementGroupTable(pg);
      return r.state === 'CREATED' && r.bundles[0]?.nodeId !== before ? r : undefined;
    }, 30_000);
    expect(moved.bundles[0]?.nodeId).not.toBe(moved.bundles[1]?.nodeId); // still spread
    expect(moved.bundles[1]?.nodeId).toBe(row.bundles[1]?.nodeId); // the survivor stayed
    const after = await sunray.get(w.node.remote(), { timeout: 30_000 });
    expect(after).toBe(moved.bundles[0]?.nodeId);
    await sunray.removePlacementGroup(pg);
  }, 90_000);
});

/** Polls f every 100 ms until it gives a value (or throws after ms). */
async function waitFor<T>(f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`no answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
