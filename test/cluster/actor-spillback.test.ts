// Actors queued on the driver's node for lack of room move to a node that has it (Ray's
// spillback): the driver (1 CPU, the cluster's head) creates three 1-CPU actors right as a
// 2-CPU node joins, so the placement at creation time may not see that node yet; every
// actor must come up, the ones that waited on the driver's node on the new one.
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';

let cluster: Cluster;

beforeAll(async () => {
  await sunray.init({ numCpus: 1, objectStoreMemory: 128 * 1024 * 1024 });
  cluster = new Cluster();
});
afterAll(async () => {
  await cluster.shutdown();
  await sunray.shutdown();
});

class Trial {
  async where(): Promise<string> {
    const s = await import('sunray');
    return s.getRuntimeContext().nodeId;
  }
}

test('actors waiting on a full node are created on a node with room, calls and all', async () => {
  const node = cluster.addNode({ numCpus: 2 });
  const T = sunray.remote(Trial, { numCpus: 1 });
  const trials = [T.remote(), T.remote(), T.remote()];
  // Calls queued before any actor is placed follow their actor wherever it goes.
  const wheres = trials.map((t) => t.where.remote());
  const { nodeId } = await node;
  const got = await sunray.get(wheres, { timeout: 20_000 });
  const here = sunray.getRuntimeContext().nodeId;
  expect(got.filter((n) => n === here).length).toBeLessThanOrEqual(1);
  expect(got.filter((n) => n === nodeId).length).toBeGreaterThanOrEqual(2);
}, 60_000);
