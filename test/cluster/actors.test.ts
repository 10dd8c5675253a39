// Actors placed on other nodes: calls, order, handles passed to tasks, names.
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

class Counter {
  n = 0;
  add(k: number) {
    this.n += k;
    return this.n;
  }
  where() {
    return process.pid;
  }
}

describe('actors across nodes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 2 });
    await cluster.addNode({ numCpus: 1, resources: { gpuish: 3 } });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('an actor lives on another node and keeps its calls in order', async () => {
    const C = sunray.remote(Counter);
    const c = C.remote();
    const refs = Array.from({ length: 50 }, (_, i) => c.add.remote(i));
    const got = await sunray.get(refs);
    expect(got[49]).toBe((49 * 50) / 2);
    expect(got).toEqual(got.slice().sort((a, b) => a - b));
    expect(await sunray.get(c.where.remote())).not.toBe(process.pid);
  });

  test('resources decide the node of an actor', async () => {
    const C = sunray.remote(Counter, { resources: { gpuish: 1 } });
    const c = C.remote();
    await sunray.get(c.add.remote(1));
    const f = sunray.remote(async () => (await import('sunray')).getRuntimeContext().nodeId, {
      resources: { gpuish: 0.5 },
    });
    // the only node with gpuish is node 1 (the actor holds 1 of its 3)
    expect(await sunray.get(f.remote())).toBe(cluster.nodes[1]!.nodeId);
    sunray.kill(c);
  });

  test('a handle passed to a task on another node reaches the actor', async () => {
    const C = sunray.remote(Counter);
    const c = C.remote();
    await sunray.get(c.add.remote(5));
    const use = sunray.remote(
      async (h: { add: { remote(k: number): sunray.ObjectRef<number> } }) => {
        const s = await import('sunray');
        return s.get(h.add.remote(10));
      },
      { resources: { gpuish: 0.5 } },
    );
    expect(await sunray.get(use.remote(c))).toBe(15);
  });

  test('a named actor is found from the driver', async () => {
    const C = sunray.remote(Counter);
    const c = C.options({ name: 'shared-counter' }).remote();
    await sunray.get(c.add.remote(3));
    const again = await sunray.getActor('shared-counter');
    expect(await sunray.get((again as any).add.remote(1))).toBe(4);
  });

  test('kill() ends an actor on another node', async () => {
    const C = sunray.remote(Counter);
    const c = C.remote();
    await sunray.get(c.add.remote(1));
    sunray.kill(c);
    await expect(
      (async () => {
        for (let i = 0; i < 50; i++) {
          await sunray.get(c.add.remote(1));
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
    ).rejects.toThrow(sunray.ActorDiedError);
  });
});
