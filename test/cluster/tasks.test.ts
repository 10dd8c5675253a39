// A real cluster on this machine: a head process and worker-node processes,
// the test process as a driver joined with 0 CPUs.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runNode, until } from '../helpers.js';

describe('tasks and objects across nodes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1 });
    await cluster.addNode({ numCpus: 1, resources: { special: 1 } });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('a task runs on another node and its result comes back', async () => {
    const f = sunray.remote((x: number) => ({ x: x * 2, pid: process.pid }));
    const r = await sunray.get(f.remote(21));
    expect(r.x).toBe(42);
    expect(cluster.nodes.map((n) => n.pid)).not.toContain(r.pid); // a worker of a node, not the node itself
    expect(r.pid).not.toBe(process.pid);
  });

  test('a task needing a resource only one node has runs there', async () => {
    const f = sunray.remote(async () => (await import('sunray')).getRuntimeContext().nodeId, {
      resources: { special: 1 },
    });
    const special = cluster.nodes[1]!.nodeId;
    const ids = await sunray.get([f.remote(), f.remote(), f.remote()]);
    expect(ids).toEqual([special, special, special]);
  });

  test('large args and results cross nodes byte for byte', async () => {
    const big = Buffer.alloc(20 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    const ref = sunray.put(big);
    const echo = sunray.remote((b: Uint8Array) => {
      const out = Buffer.from(b);
      out[0] = 7;
      return out;
    });
    const back = (await sunray.get(echo.remote(ref))) as Uint8Array;
    expect(back.length).toBe(big.length);
    const expected = Buffer.from(big);
    expected[0] = 7;
    expect(Buffer.compare(Buffer.from(back), expected)).toBe(0);
  });

  test('SPREAD puts tasks on every node', async () => {
    const f = sunray.remote(
      async () => {
        await new Promise((r) => setTimeout(r, 50));
        return (await import('sunray')).getRuntimeContext().nodeId;
      },
      { schedulingStrategy: 'SPREAD' },
    );
    const ids = new Set(await sunray.get(Array.from({ length: 6 }, () => f.remote())));
    expect(ids.size).toBe(2);
  });

  test('node affinity: hard to a node, and an error for an unknown node', async () => {
    const target = cluster.nodes[0]!.nodeId;
    const f = sunray.remote(async () => (await import('sunray')).getRuntimeContext().nodeId);
    expect(await sunray.get(f.options({ schedulingStrategy: { nodeId: target } }).remote())).toBe(target);
    await expect(
      sunray.get(f.options({ schedulingStrategy: { nodeId: 'ff'.repeat(16) } }).remote()),
    ).rejects.toThrow(sunray.TaskUnschedulableError);
    const soft = await sunray.get(
      f.options({ schedulingStrategy: { nodeId: 'ff'.repeat(16), soft: true } }).remote(),
    );
    expect(cluster.nodes.map((n) => n.nodeId)).toContain(soft);
  });

  test('cluster resources add up the nodes; cancel reaches a task on another node', async () => {
    expect(sunray.clusterResources()).toMatchObject({ CPU: 2, special: 1 });
    const slow = sunray.remote(async () => {
      await new Promise((r) => setTimeout(r, 30_000));
      return 'finished';
    });
    const ref = slow.options({ maxRetries: 0 }).remote();
    await new Promise((r) => setTimeout(r, 500));
    sunray.cancel(ref, { force: true });
    await expect(sunray.get(ref)).rejects.toThrow(sunray.TaskCancelledError);
  });

  test('cancel of a task on another node reaches its children, unless recursive: false', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sunray-cluster-cancel-'));
    try {
      // A parent on the 'special' node waits for its child there; each writes a file whole.
      const parent = sunray.remote(
        async (out: string, gate: string) => {
          const s = await import('sunray');
          const fs = await import('node:fs');
          const put = (f: string, v: string) => {
            fs.writeFileSync(`${f}.part`, v);
            fs.renameSync(`${f}.part`, f);
          };
          const child = s.remote(
            async (out: string, gate: string) => {
              const fs = await import('node:fs');
              fs.writeFileSync(`${out}-child.part`, 'started');
              fs.renameSync(`${out}-child.part`, `${out}-child`);
              while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 10));
              fs.writeFileSync(`${out}-child-done`, '');
              return 1;
            },
            { numCpus: 0.5, resources: { special: 0.5 } },
          );
          try {
            put(`${out}-parent`, `value ${await s.get(child.remote(out, gate))}`);
          } catch (e) {
            put(`${out}-parent`, (e as Error).name);
          }
        },
        { numCpus: 0.5, resources: { special: 0.5 }, maxRetries: 0 },
      );
      const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined);
      for (const recursive of [false, true]) {
        const out = join(dir, String(recursive));
        const gate = join(dir, `${recursive}-gate`);
        const ref = parent.remote(out, gate);
        await until(() => existsSync(`${out}-child`), 20_000, 'the child task to start');
        sunray.cancel(ref, { recursive });
        await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
        if (recursive) {
          // The parent's get() of its child was cancelled with it.
          await until(() => read(`${out}-parent`) !== undefined, 10_000, 'the parent to see its child end');
          expect(read(`${out}-parent`)).toBe('TaskCancelledError');
        } else {
          await new Promise((r) => setTimeout(r, 300));
          expect(read(`${out}-parent`)).toBeUndefined(); // the child runs on
        }
        writeFileSync(gate, '');
        await until(() => read(`${out}-parent`) !== undefined, 10_000, 'the parent to end');
        if (!recursive) expect(read(`${out}-parent`)).toBe('value 1');
        // The child (cancelled or not) ends too, and frees what it holds, before the next test.
        await until(() => existsSync(`${out}-child-done`), 10_000, 'the child to end');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a driver that joined a cluster exits by itself when its work is done', async () => {
    const r = await runNode(join(import.meta.dirname, 'fixtures', 'driver-exits.mjs'), [
      cluster.address,
      cluster.token,
    ]);
    expect(r.stdout).toContain('result 42');
    expect(r.code).toBe(0);
  });

  test('nested tasks submitted on a node and objects borrowed across nodes', async () => {
    const inner = sunray.remote((x: number) => x + 1);
    const outer = sunray.remote(
      async (x: number) => {
        const s = await import('sunray');
        const f = s.remote((y: number) => y + 1, { resources: { special: 1 } });
        return (await s.get(f.remote(x))) * 10;
      },
      { numCpus: 0.5 },
    );
    expect(await sunray.get(outer.remote(1))).toBe(20);
    expect(await sunray.get(inner.remote(1))).toBe(2);
    // A ref owned by the driver, read inside a task on another node.
    const ref = sunray.put({ hello: 'x'.repeat(200_000) });
    const len = sunray.remote(async (box: { r: sunray.ObjectRef<{ hello: string }> }) => {
      const s = await import('sunray');
      return (await s.get(box.r)).hello.length;
    });
    expect(await sunray.get(len.remote({ r: ref }))).toBe(200_000);
  });
});
