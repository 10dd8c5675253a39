// Shared actors (isolation: 'shared'): many actors in one host process, each keeping actor
// semantics (its own state, its callers' order, its own maxConcurrency, restarts, kill,
// exit, names and lifetime), packed into hosts spread over the node's CPUs.
import * as sunray from 'sunray';
import { nodeStats } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 64 << 20 });
});
afterAll(async () => {
  await sunray.shutdown();
});

class Log {
  calls: string[] = [];
  add(who: string, k: number) {
    this.calls.push(`${who}${k}`);
    return this.calls.length;
  }
  log() {
    return this.calls;
  }
  pid() {
    return process.pid;
  }
}

class Counter {
  n = 0;
  inc() {
    return ++this.n;
  }
  pid() {
    return process.pid;
  }
  async leave() {
    const s = await import('sunray');
    s.exitActor();
    return this.n;
  }
}

/** Handles grouped by the pid of their host. */
async function byHost<T extends { pid: { remote(): unknown } }>(hs: T[]): Promise<Map<number, T[]>> {
  const pids = (await sunray.get(hs.map((h) => h.pid.remote() as sunray.ObjectRef<number>))) as number[];
  const out = new Map<number, T[]>();
  pids.forEach((pid, i) => {
    const list = out.get(pid) ?? [];
    list.push(hs[i] as T);
    out.set(pid, list);
  });
  return out;
}

const Shared = sunray.remote(Counter).options({ isolation: 'shared' });

describe('shared actors', () => {
  test('2,000 keep their own state and each caller its order, in hosts spread over the CPUs', async () => {
    const L = sunray.remote(Log).options({ isolation: 'shared' });
    const actors = Array.from({ length: 2000 }, () => L.remote());
    const rounds = 3;
    // A second caller: a task calling every actor, while the driver does too.
    const caller = sunray.remote(async (hs: (typeof actors)[number][], n: number) => {
      const s = await import('sunray');
      const refs = [];
      for (let k = 0; k < n; k++) for (const h of hs) refs.push(h.add.remote('t', k));
      await s.get(refs);
      return refs.length;
    });
    const fromTask = caller.remote(actors, rounds);
    const mine = [];
    for (let k = 0; k < rounds; k++) for (const h of actors) mine.push(h.add.remote('d', k));
    await sunray.get(mine);
    expect(await sunray.get(fromTask)).toBe(2000 * rounds);
    const logs = await sunray.get(actors.map((h) => h.log.remote()));
    for (const log of logs) {
      expect(log).toHaveLength(2 * rounds);
      expect(log.filter((c) => c.startsWith('d'))).toEqual(['d0', 'd1', 'd2']);
      expect(log.filter((c) => c.startsWith('t'))).toEqual(['t0', 't1', 't2']);
    }
    // 1,000 a host at most, spread over both CPUs: two hosts, neither the driver.
    const hosts = await byHost(actors);
    expect([...hosts.values()].map((l) => l.length).sort()).toEqual([1000, 1000]);
    expect(hosts.has(process.pid)).toBe(false);
    expect(nodeStats().sharedHosts).toBe(2);
    for (const h of actors) sunray.kill(h);
    // A host whose last actor left is stopped.
    await until(
      () => nodeStats().sharedHosts === 0,
      20_000,
      () => `hosts to stop (${JSON.stringify(nodeStats())})`,
    );
  });

  test('killing one leaves its neighbours answering; with restarts it comes back alone', async () => {
    const actors = Array.from({ length: 6 }, () => Shared.options({ maxRestarts: 1 }).remote());
    await sunray.get(actors.map((h) => h.inc.remote()));
    const [[pid, mates] = [0, []]] = [...(await byHost(actors))].filter(([, l]) => l.length >= 3);
    const [gone, back, neighbour] = mates as typeof actors;
    if (!gone || !back || !neighbour) throw new Error('expected three actors in one host');
    sunray.kill(gone);
    await expect(sunray.get(gone.inc.remote())).rejects.toMatchObject({
      name: 'ActorDiedError',
      message: expect.stringContaining('killed with sunray.kill()'),
    });
    expect(await sunray.get(neighbour.inc.remote())).toBe(2);
    sunray.kill(back, { noRestart: false });
    expect(await sunray.get(back.inc.remote())).toBe(1); // its constructor ran again
    expect(await sunray.get(neighbour.inc.remote())).toBe(3);
    expect(await sunray.get(neighbour.pid.remote())).toBe(pid);
    for (const h of actors) sunray.kill(h);
  });

  test('kill -9 of a host restarts its actors elsewhere within their budgets', async () => {
    // (A call sent before the node saw the death is retried: maxTaskRetries.)
    const keep = Array.from({ length: 6 }, () =>
      Shared.options({ maxRestarts: 1, maxTaskRetries: 1 }).remote(),
    );
    const lose = Array.from({ length: 4 }, () => Shared.remote());
    const all = [...keep, ...lose];
    await sunray.get(all.map((h) => h.inc.remote()));
    const hosts = await byHost(all);
    const [victim] = [...hosts.keys()];
    if (victim === undefined) throw new Error('no host');
    const onVictim = new Set(hosts.get(victim));
    process.kill(victim, 'SIGKILL');
    for (const h of keep) {
      // Restarted (fresh state, another process) if it was there; untouched otherwise.
      expect(await sunray.get(h.inc.remote())).toBe(onVictim.has(h) ? 1 : 2);
      expect(await sunray.get(h.pid.remote())).not.toBe(victim);
    }
    for (const h of lose) {
      if (onVictim.has(h)) {
        await expect(sunray.get(h.inc.remote())).rejects.toMatchObject({
          name: 'ActorDiedError',
          message: expect.stringContaining('maxRestarts (0) is used up'),
        });
      } else expect(await sunray.get(h.inc.remote())).toBe(2);
    }
    for (const h of all) sunray.kill(h);
  });

  test('a named, detached shared actor is found with getActor', async () => {
    const a = Shared.options({ name: 'room-1', lifetime: 'detached' }).remote();
    await sunray.get(a.inc.remote());
    const found = await sunray.getActor<Counter>('room-1');
    expect(await sunray.get(found.inc.remote())).toBe(2);
    expect(await sunray.get(found.pid.remote())).toBe(await sunray.get(a.pid.remote()));
    sunray.kill(found);
    await expect(sunray.get(a.inc.remote())).rejects.toMatchObject({ name: 'ActorDiedError' });
  });

  test('exitActor() in one ends it alone; its host and neighbours run on', async () => {
    const [a, b] = [Shared.remote(), Shared.options({ actorsPerProcess: 1000 }).remote()];
    await sunray.get([a.inc.remote(), b.inc.remote()]);
    expect(await sunray.get(a.leave.remote())).toBe(1);
    await expect(sunray.get(a.inc.remote())).rejects.toMatchObject({
      name: 'ActorDiedError',
      message: expect.stringContaining('exited intentionally'),
    });
    expect(await sunray.get(b.inc.remote())).toBe(2);
    sunray.kill(b);
  });

  test('each keeps its own maxConcurrency in a shared host', async () => {
    class Gate {
      running = 0;
      most = 0;
      async hold() {
        this.running++;
        this.most = Math.max(this.most, this.running);
        await new Promise((r) => setTimeout(r, 150));
        this.running--;
        return this.most;
      }
    }
    const G = sunray.remote(Gate).options({ isolation: 'shared', actorsPerProcess: 2 });
    const one = G.options({ maxConcurrency: 1 }).remote();
    const three = G.options({ maxConcurrency: 3 }).remote();
    const [a, b] = await Promise.all([
      sunray.get(Array.from({ length: 4 }, () => one.hold.remote())),
      sunray.get(Array.from({ length: 6 }, () => three.hold.remote())),
    ]);
    expect(Math.max(...a)).toBe(1);
    expect(Math.max(...b)).toBe(3);
    sunray.kill(one);
    sunray.kill(three);
  });

  test('refs: a shared actor takes refs, puts objects, calls tasks and returns their refs', async () => {
    class Keeper {
      kept: unknown;
      async keep(v: unknown) {
        this.kept = v;
        const s = await import('sunray');
        const double = s.remote((x: number[]) => x.map((n) => n * 2));
        return { put: s.put(new Uint8Array(1 << 20).fill(7)), doubled: double.remote(v as number[]) };
      }
      kept2() {
        return this.kept;
      }
    }
    const K = sunray.remote(Keeper).options({ isolation: 'shared' });
    const [a, b] = [K.remote(), K.remote()];
    const arg = sunray.put([1, 2, 3]);
    const out = await sunray.get(a.keep.remote(arg));
    const big = (await sunray.get(out.put)) as Uint8Array;
    expect([big.length, big[0], big[big.length - 1]]).toEqual([1 << 20, 7, 7]);
    expect(await sunray.get(out.doubled)).toEqual([2, 4, 6]);
    expect(await sunray.get(a.kept2.remote())).toEqual([1, 2, 3]);
    expect(await sunray.get(b.kept2.remote())).toBeUndefined(); // its own state
    sunray.kill(a);
    sunray.kill(b);
  });

  test('bad options fail at creation with InvalidArgumentError', () => {
    expect(() => Shared.options({ numGpus: 1 }).remote()).toThrow(/shared actor cannot take GPUs/);
    expect(() => Shared.options({ actorsPerProcess: 0 }).remote()).toThrow(/actorsPerProcess/);
    expect(() =>
      sunray
        .remote(Counter)
        .options({ isolation: 'thread' as 'shared' })
        .remote(),
    ).toThrow(/isolation must be/);
  });
});
