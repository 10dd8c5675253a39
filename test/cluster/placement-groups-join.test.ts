// Placement groups from a driver that joins a cluster (its node is not the head): the head
// keeps the groups, this node asks it where bundles are and waits for them; a group ends
// with the job that made it unless it is detached.
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster, type NodeHandle } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode, until } from '../helpers.js';

const DRIVER = join(repoRoot, 'test', 'cluster', 'fixtures', 'driver-groups.mjs');
let cluster: Cluster;
let nodes: NodeHandle[];

beforeAll(async () => {
  cluster = new Cluster();
  nodes = [await cluster.addNode({ numCpus: 1 }), await cluster.addNode({ numCpus: 1 })];
  await sunray.init({ address: cluster.address, token: cluster.token, namespace: 'pg-test' });
}, 60_000);
afterAll(async () => {
  await sunray.shutdown();
  await cluster.shutdown();
});

describe('placement groups from a driver that joined the cluster', () => {
  test('a STRICT_SPREAD group spans both nodes; tasks and an actor run in their bundles', async () => {
    const pg = sunray.placementGroup([{ CPU: 1 }, { CPU: 1 }], { strategy: 'STRICT_SPREAD' });
    // Work submitted before the group is placed waits for it.
    const where = sunray.remote(
      async () => {
        const s = await import('sunray');
        return s.getRuntimeContext().nodeId;
      },
      { numCpus: 1 },
    );
    const early = [0, 1].map((i) =>
      where.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: i } }).remote(),
    );
    class Echo {
      async node() {
        const s = await import('sunray');
        return s.getRuntimeContext().nodeId;
      }
    }
    const actor = sunray
      .remote(Echo, { numCpus: 0 })
      .options({ schedulingStrategy: { placementGroup: pg, bundleIndex: 1 } })
      .remote();
    const fromActor = actor.node.remote(); // a call made while its actor waits for the group
    await pg.ready();
    const row = await sunray.placementGroupTable(pg);
    const bundleNodes = row.bundles.map((b) => b.nodeId);
    expect(new Set(bundleNodes)).toEqual(new Set(nodes.map((n) => n.nodeId)));
    expect(await sunray.get(early)).toEqual(bundleNodes);
    expect(await sunray.get(fromActor)).toBe(bundleNodes[1]);
    await sunray.removePlacementGroup(pg);
    await expect(sunray.get(actor.node.remote())).rejects.toBeInstanceOf(sunray.ActorDiedError);
  }, 60_000);

  test("a job's groups end with it, but a detached one lives on until removed", async () => {
    const r = await runNode(DRIVER, [cluster.address], { env: { SUNRAY_CLUSTER_TOKEN: cluster.token } });
    expect(r.code).toBe(0);
    const ids = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { temp: string; kept: string };
    await until(
      async () => {
        const t = await sunray.placementGroupTable();
        return t[ids.temp]?.state === 'REMOVED';
      },
      15_000,
      'the job’s group to be removed',
    );
    const kept = await sunray.getPlacementGroup('kept');
    expect(kept.id).toBe(ids.kept);
    expect((await sunray.placementGroupTable(kept)).state).toBe('CREATED');
    await expect(sunray.getPlacementGroup('temp')).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
    await sunray.removePlacementGroup(kept);
    expect((await sunray.placementGroupTable(kept)).state).toBe('REMOVED');
  }, 60_000);
});
