// Actors placed on other nodes: calls, order, handles passed to tasks, names.

import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, runNode, until, untilGoneAfterGc } from '../helpers.js';

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

  test('a handle found by name on another node knows its limit, groups and generator methods', async () => {
    const Feed = sunray.remote(
      class Feed {
        async *items(k: number) {
          for (let i = 0; i < k; i++) yield i;
        }
        async slow(ms: number) {
          await new Promise((r) => setTimeout(r, ms));
          return ms;
        }
      },
      { resources: { gpuish: 1 }, maxPendingCalls: 1, concurrencyGroups: { io: 2 } },
    );
    const f = Feed.options({ name: 'feed' }).remote();
    type FeedClass = typeof Feed extends sunray.ActorClass<infer C, string> ? InstanceType<C> : never;
    const found = await sunray.getActor<FeedClass>('feed');
    const got: number[] = [];
    for await (const ref of found.items.remote(3)) got.push(await sunray.get(ref));
    expect(got).toEqual([0, 1, 2]);
    const first = found.slow.options({ concurrencyGroup: 'io' }).remote(200);
    expect(() => found.slow.remote(1)).toThrow(sunray.PendingCallsLimitError);
    expect(await sunray.get(first)).toBe(200);
    expect(() => found.slow.options({ concurrencyGroup: 'gpu' })).toThrow(/no concurrency group 'gpu'/);
    sunray.kill(f);
  });

  test('an actor name is unique across the cluster; getIfExists finds it on its node', async () => {
    const C = sunray.remote(Counter);
    const a = C.options({ name: 'only-one', resources: { gpuish: 1 } }).remote();
    expect(await sunray.get(a.add.remote(1))).toBe(1);
    // Not on the node that asks (the driver's node has no CPUs): the head's directory decides.
    const dup = C.options({ name: 'only-one' }).remote();
    await expect(sunray.get(dup.add.remote(1))).rejects.toThrow(/'only-one' already exists/);
    const same = C.options({ name: 'only-one', getIfExists: true }).remote();
    expect(await sunray.get(same.add.remote(10))).toBe(11);
    expect(await sunray.get(same.where.remote())).toBe(await sunray.get(a.where.remote()));
    // Killed for good, it frees the name for a new actor.
    sunray.kill(a);
    await until(
      async () => (await sunray.getActor('only-one').catch(() => null)) === null,
      10_000,
      'the name to be freed',
    );
    const next = C.options({ name: 'only-one' }).remote();
    expect(await sunray.get(next.add.remote(5))).toBe(5);
    sunray.kill(next);
  });

  test('dropping the last handle to an actor on another node ends it', async () => {
    const C = sunray.remote(Counter);
    let c: ReturnType<typeof C.remote> | undefined = C.options({ resources: { gpuish: 1 } }).remote();
    const pid = await sunray.get(c.where.remote());
    expect(isAlive(pid)).toBe(true);
    c = undefined;
    await untilGoneAfterGc(pid, 'the actor to end after its last handle is gone');
  });

  test('shared actors on another node: one host for many, each its own state, found by name, killed alone', async () => {
    const there = cluster.nodes[1]!;
    const S = sunray
      .remote(Counter)
      .options({ isolation: 'shared', schedulingStrategy: { nodeId: there.nodeId, soft: false } });
    const hs = Array.from({ length: 200 }, () => S.remote());
    expect(await sunray.get(hs.map((h, i) => h.add.remote(i)))).toEqual(hs.map((_, i) => i));
    const pids = new Set(await sunray.get(hs.map((h) => h.where.remote())));
    expect(pids.size).toBe(1); // that node has one CPU: one host
    expect(pids.has(process.pid)).toBe(false);
    const named = S.options({ name: 'shared-there' }).remote();
    await sunray.get(named.add.remote(7));
    const found = await sunray.getActor<Counter>('shared-there');
    expect(await sunray.get(found.add.remote(1))).toBe(8);
    const [gone, ...rest] = hs;
    sunray.kill(gone!);
    await expect(
      (async () => {
        for (let i = 0; i < 50; i++) {
          await sunray.get(gone!.add.remote(1));
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
    ).rejects.toThrow(sunray.ActorDiedError);
    expect(await sunray.get(rest.map((h) => h.add.remote(1000)))).toEqual(rest.map((_, i) => i + 1 + 1000));
    for (const h of [...rest, named]) sunray.kill(h);
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

  test('kills sent just before another driver shuts down still end the actors', async () => {
    // Detached, named actors on the other nodes; a second driver kills them and shuts down in
    // the same turn. Its connections end after what they carry is sent, not reset.
    const C = sunray.remote(Counter);
    const n = 8;
    const kept = Array.from({ length: n }, (_, i) =>
      C.options({ name: `kept-${i}`, namespace: 'kept', lifetime: 'detached' }).remote(),
    );
    const pids = await sunray.get(kept.map((c) => c.where.remote()));
    const r = await runNode(join(import.meta.dirname, 'fixtures', 'kill-then-exit.mjs'), [
      cluster.address,
      cluster.token,
      String(n),
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('killed and shut down');
    await until(() => pids.every((p) => !isAlive(p)), 20_000, 'every killed actor to exit');
    for (const c of kept) await expect(sunray.get(c.add.remote(1))).rejects.toThrow(sunray.ActorDiedError);
  });

  test('concurrency groups and exitActor() reach an actor on another node', async () => {
    const Gate = sunray.remote(
      class Gate {
        release: (() => void) | undefined;
        async hold() {
          await new Promise<void>((r) => {
            this.release = r;
          });
          return 'held';
        }
        free() {
          if (!this.release) return 'nothing held';
          this.release();
          return 'freed';
        }
        async quit() {
          (await import('sunray')).exitActor();
          return 'bye';
        }
        ping() {
          return 'pong';
        }
      },
      { resources: { gpuish: 1 }, maxConcurrency: 1, maxRestarts: 2, concurrencyGroups: { io: 1 } },
    );
    const g = Gate.remote(); // on node 1, the only one with gpuish
    // hold() fills the default group (limit 1): free() runs only because the group travelled.
    const held = g.hold.remote();
    expect(await sunray.get(g.free.options({ concurrencyGroup: 'io' }).remote())).toBe('freed');
    expect(await sunray.get(held)).toBe('held');
    expect(await sunray.get(g.quit.remote())).toBe('bye');
    await expect(sunray.get(g.ping.remote())).rejects.toThrow(/exited intentionally/);
  });
});
