// sunray.nodes() on an embedded node in no cluster: the node alone, the same from the driver
// and from inside a task. (test/cluster/util.test.ts has the cluster's.)
import * as sunray from 'sunray';
import { afterAll, beforeAll, expect, test } from 'vitest';

beforeAll(() => sunray.init({ numCpus: 2, resources: { disk: 3 }, objectStoreMemory: 64 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

test('an embedded node lists itself alone, from the driver and from a task', async () => {
  const nodes = await sunray.nodes();
  const id = sunray.getRuntimeContext().nodeId;
  expect(nodes).toEqual([
    {
      nodeId: id,
      address: '',
      alive: true,
      isHead: true,
      isDriver: false,
      resources: expect.objectContaining({ CPU: 2, disk: 3 }),
      labels: { 'sunray.io/node-id': id },
    },
  ]);
  const inTask = sunray.remote(async () => (await import('sunray')).nodes());
  expect(await sunray.get(inTask.remote())).toEqual(nodes);
});
