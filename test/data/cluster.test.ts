// sunray/data on a Cluster of two nodes: the pipeline's tasks run on both nodes, and the
// driver's iterBatches pulls every block (those made on the other node through the store's
// transfer) in order, each row once.
import * as sunray from 'sunray';
import * as data from 'sunray/data';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

describe('sunray/data across two nodes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    data.DataContext.getCurrent().progress = 'off';
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 2 });
    await cluster.addNode({ numCpus: 2 });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('iterBatches gets every row, in order, from tasks on both nodes', async () => {
    const N = 200_000;
    const ds = data.range(N, { parallelism: 16 }).mapBatches(async (b: { id: ArrayLike<number> }) => {
      const { getRuntimeContext } = await import('sunray');
      const node = getRuntimeContext().nodeId;
      // Long enough that the scheduler spreads the tasks over both nodes' CPUs.
      await new Promise((r) => setTimeout(r, 100));
      return { id: b.id, sq: Float64Array.from(b.id, (v) => v * v), node: Array.from(b.id, () => node) };
    });
    let next = 0;
    let ok = true;
    const nodes = new Set<string>();
    for await (const b of ds.iterBatches({ batchSize: 10_000, batchFormat: 'columns', prefetchBatches: 2 })) {
      const ids = b.id as ArrayLike<number>;
      const sq = b.sq as ArrayLike<number>;
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] !== next || sq[i] !== next * next) ok = false;
        next++;
      }
      for (const n of Array.from(b.node as ArrayLike<string>)) nodes.add(n);
    }
    expect(ok).toBe(true);
    expect(next).toBe(N);
    const clusterNodes = new Set(cluster.nodes.map((n) => n.nodeId));
    expect(nodes.size).toBe(2);
    for (const n of nodes) expect(clusterNodes.has(n)).toBe(true);
  }, 120_000);
});
