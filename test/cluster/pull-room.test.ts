// A pull into a node whose store is full of pinned objects waits for the pins to go, as a
// get does, rather than failing the task: node A's actor pins most of A's 64 MiB store
// with views; a task on A needs a 20 MiB argument from the driver's node, and runs once
// the actor lets its views go.
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';

const MIB = 1024 * 1024;
let cluster: Cluster;

beforeAll(async () => {
  cluster = new Cluster();
  await cluster.addNode({ numCpus: 1, objectStoreMemory: 64 * MIB, resources: { a: 1 } });
  await sunray.init({ address: cluster.address, token: cluster.token, objectStoreMemory: 256 * MIB });
});
afterAll(async () => {
  await sunray.shutdown();
  await cluster.shutdown();
});

class Holder {
  refs: sunray.ObjectRef<Buffer>[] = [];
  views: Buffer[] = [];
  /** Puts two 28 MiB objects in this node's store and keeps views of them (pinned). */
  async hold(): Promise<number> {
    const s = await import('sunray');
    this.refs = [s.put(Buffer.alloc(28 * 1024 * 1024, 1)), s.put(Buffer.alloc(28 * 1024 * 1024, 2))];
    this.views = await s.get(this.refs);
    return this.views.length;
  }
  /** Lets the views go: release() of their refs drops their pins. */
  letGo(): number {
    for (const r of this.refs) r.release();
    this.views = [];
    return 0;
  }
}

test('a pull into a store full of pins waits for them, then the task runs', async () => {
  const holder = sunray.remote(Holder, { numCpus: 0, resources: { a: 0.5 } }).remote();
  expect(await sunray.get(holder.hold.remote())).toBe(2);
  const arg = sunray.put(Buffer.alloc(20 * MIB, 9));
  const size = sunray.remote((b: Uint8Array) => [b.length, b[b.length - 1]], { resources: { a: 0.5 } });
  const started = Date.now();
  const result = size.remote(arg);
  const letGo = new Promise((resolve) => setTimeout(() => resolve(sunray.get(holder.letGo.remote())), 800));
  expect(await sunray.get(result)).toEqual([20 * MIB, 9]);
  expect(await letGo).toBe(0);
  // It waited for the pins (the pull could not have fitted before), not failed.
  expect(Date.now() - started).toBeGreaterThanOrEqual(700);
});
