// ray.util's counterparts across two nodes: an ActorPool whose actors live on different
// nodes, and a Queue used by tasks and actors on both nodes.
import * as sunray from 'sunray';
import { ActorPool } from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

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
    await cluster.addNode({ numCpus: 2, resources: { far: 4 } });
    await sunray.init({ address: cluster.address, token: cluster.token });
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
});
