// Streaming generators across two nodes: a generator task that runs on the other node
// streams its values back in order (small ones inline, large ones copied home through the
// store), generatorBackpressure holds it back by what the driver took, a task on one node
// consumes a generator running on the other, an actor's generator method streams across,
// and cancel(gen) reaches the node that runs it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { progressOf } from '../generator-helpers.js';
import { until } from '../helpers.js';

const numbers = sunray.remote(async function* numbers(k: number) {
  const s = await import('sunray');
  for (let i = 0; i < k; i++) yield { i, node: s.getRuntimeContext().nodeId };
});

describe('streaming generators across two nodes', () => {
  let cluster: Cluster;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-gen-cluster-'));
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 2, resources: { near: 4 } });
    await cluster.addNode({ numCpus: 2, resources: { far: 4 } });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('values yielded on another node arrive in order, small and large', async () => {
    const far = cluster.nodes[1]!.nodeId;
    const got: Array<{ i: number; node: string }> = [];
    for await (const ref of numbers.options({ resources: { far: 1 } }).remote(50))
      got.push(await sunray.get(ref));
    expect(got.map((v) => v.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(got.every((v) => v.node === far)).toBe(true);
    const big = sunray.remote(
      function* big(k: number) {
        for (let i = 0; i < k; i++) yield new Float64Array(40_000).fill(i); // in the store: copied home
      },
      { resources: { far: 1 } },
    );
    const arrays: Float64Array[] = [];
    for await (const ref of big.remote(4)) arrays.push(await sunray.get(ref));
    expect(arrays.map((a) => a[39_999])).toEqual([0, 1, 2, 3]);
  });

  test('generatorBackpressure holds a generator on the other node until its values are taken', async () => {
    const log = join(dir, 'bp-log');
    const counted = sunray.remote(
      async function* counted(k: number, log: string) {
        const fs = await import('node:fs');
        for (let i = 0; i < k; i++) {
          fs.writeFileSync(log, String(i + 1));
          yield i;
        }
      },
      { resources: { far: 1 }, generatorBackpressure: 2 },
    );
    const progress = () => progressOf(log);
    const held = counted.remote(10, log);
    await until(() => progress() === 2, 10_000, 'the first 2 values');
    await new Promise((r) => setTimeout(r, 400));
    expect(progress()).toBe(2); // paused: 2 values unconsumed
    expect(await sunray.get((await held.next()).value as sunray.ObjectRef<number>)).toBe(0);
    await until(() => progress() === 3, 10_000, 'one more value after one was taken');
    const rest: number[] = [];
    for await (const ref of held) rest.push(await sunray.get(ref));
    expect(rest).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await sunray.get(held.completed)).toBe(10);
  });

  test('a task on one node consumes a generator running on the other', async () => {
    const consume = sunray.remote(
      async (k: number) => {
        const s = await import('sunray');
        const gen = s.remote(
          async function* inner(k: number) {
            for (let i = 1; i <= k; i++) yield i;
          },
          { resources: { far: 1 } },
        );
        let total = 0;
        for await (const ref of gen.remote(k)) total += await s.get(ref);
        return total;
      },
      { resources: { near: 1 } },
    );
    expect(await sunray.get(consume.remote(40))).toBe(820);
  });

  test("an actor's generator method on the other node streams to the driver and to a task", async () => {
    const Source = sunray.remote(
      class Source {
        sent = 0;
        async *take(k: number) {
          const s = await import('sunray');
          for (let i = 0; i < k; i++) yield { i: this.sent++, node: s.getRuntimeContext().nodeId };
        }
        total() {
          return this.sent;
        }
      },
      { resources: { far: 1 } },
    );
    const src = Source.remote();
    const far = cluster.nodes[1]!.nodeId;
    const got: Array<{ i: number; node: string }> = [];
    for await (const ref of src.take.remote(30)) got.push(await sunray.get(ref));
    expect(got.map((v) => v.i)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(got.every((v) => v.node === far)).toBe(true);
    const consume = sunray.remote(
      async (src: ReturnType<typeof Source.remote>) => {
        const s = await import('sunray');
        const seen: number[] = [];
        for await (const ref of src.take.remote(5)) seen.push((await s.get(ref)).i);
        return seen;
      },
      { resources: { near: 1 } },
    );
    expect(await sunray.get(consume.remote(src))).toEqual([30, 31, 32, 33, 34]);
    expect(await sunray.get(src.total.remote())).toBe(35);
    sunray.kill(src);
  });

  test('cancel(gen) stops a generator running on the other node', async () => {
    const log = join(dir, 'log');
    const endless = sunray.remote(
      async function* endless(log: string) {
        const fs = await import('node:fs');
        for (let i = 0; ; i++) {
          fs.writeFileSync(log, String(i + 1));
          yield i;
          await new Promise((r) => setTimeout(r, 10));
        }
      },
      { resources: { far: 1 } },
    );
    const it = endless.remote(log);
    const first = (await it.next()).value as sunray.ObjectRef<number>;
    sunray.cancel(it);
    await expect(
      (async () => {
        for await (const _ of it);
      })(),
    ).rejects.toBeInstanceOf(sunray.TaskCancelledError);
    await new Promise((r) => setTimeout(r, 200));
    const stopped = existsSync(log) ? Number(readFileSync(log, 'utf8')) : 0;
    await new Promise((r) => setTimeout(r, 300));
    expect(Number(readFileSync(log, 'utf8'))).toBe(stopped);
    expect(await sunray.get(first)).toBe(0);
  });
});
