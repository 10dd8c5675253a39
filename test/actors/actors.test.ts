import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, until, untilGoneAfterGc } from '../helpers.js';
import { Victim } from './victim.js';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 128 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

const Counter = sunray.remote(
  class Counter {
    n = 0;
    constructor(start = 0) {
      this.n = start;
    }
    incr(k = 1) {
      this.n += k;
      return this.n;
    }
    pid() {
      return process.pid;
    }
    async slowAppend(log: string[], x: string, ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return [...log, x];
    }
  },
);

describe('actors', () => {
  test('state lives in the actor; calls from one caller run in order', async () => {
    const c = Counter.remote();
    expect(await sunray.get(c.incr.remote(2))).toBe(2);
    const refs = Array.from({ length: 100 }, () => c.incr.remote());
    expect(await sunray.get(refs)).toEqual(Array.from({ length: 100 }, (_, i) => i + 3));
    const c2 = Counter.remote(10);
    expect(await sunray.get(c2.incr.remote())).toBe(11);
  });

  test('one process per actor', async () => {
    const a = Counter.remote();
    const b = Counter.remote();
    const [pa, pb] = await sunray.get([a.pid.remote(), b.pid.remote()]);
    expect(pa).not.toBe(pb);
    expect(pa).not.toBe(process.pid);
  });

  test('actors take 1 CPU to place and none to run', async () => {
    const actors = Array.from({ length: 4 }, () => Counter.remote());
    await sunray.get(actors.map((a) => a.incr.remote()));
    // Four actors alive on two CPUs, and tasks still run.
    expect(await sunray.get(sunray.remote(() => 'ran').remote())).toBe('ran');
    expect(sunray.availableResources().CPU).toBe(2);
  });

  test('async methods, and maxConcurrency lets calls interleave', async () => {
    const Sleeper = sunray.remote(
      class Sleeper {
        async nap(ms: number) {
          const t0 = Date.now();
          await new Promise((r) => setTimeout(r, ms));
          return [t0, Date.now()] as [number, number];
        }
      },
    );
    // An async class runs up to 1000 calls at once by default (Ray's rule): 1 makes them serial.
    const serial = Sleeper.options({ maxConcurrency: 1 }).remote();
    const t0 = performance.now();
    await sunray.get([serial.nap.remote(200), serial.nap.remote(200), serial.nap.remote(200)]);
    expect(performance.now() - t0).toBeGreaterThan(580);
    const parallel = Sleeper.options({ maxConcurrency: 3 }).remote();
    await sunray.get(parallel.nap.remote(1)); // started
    // All three naps overlap (each says when it ran): a start before every end.
    const spans = await sunray.get([
      parallel.nap.remote(500),
      parallel.nap.remote(500),
      parallel.nap.remote(500),
    ]);
    expect(Math.max(...spans.map(([a]) => a))).toBeLessThan(Math.min(...spans.map(([, b]) => b)));
  });

  test('handles pass to tasks and to other actors, and come back from them', async () => {
    const c = Counter.remote();
    const useHandle = sunray.remote(async (h: { incr: { remote(k: number): unknown } }) => {
      const s = await import('sunray');
      return s.get(h.incr.remote(5) as never);
    });
    expect(await sunray.get(useHandle.remote(c as never))).toBe(5);
    const Holder = sunray.remote(
      class Holder {
        held: any;
        hold(h: unknown) {
          this.held = h;
          return true;
        }
        async bump() {
          const s = await import('sunray');
          return s.get(this.held.incr.remote(100));
        }
        give() {
          return this.held;
        }
      },
    );
    const holder = Holder.remote();
    await sunray.get(holder.hold.remote(c));
    expect(await sunray.get(holder.bump.remote())).toBe(105);
    const back = (await sunray.get(holder.give.remote())) as typeof c;
    expect(await sunray.get(back.incr.remote(1))).toBe(106);
    // An actor created inside a task works too, and its handle comes back.
    const make = sunray.remote(async () => {
      const s = await import('sunray');
      const K = s.remote(
        class K {
          v = 7;
          get() {
            return this.v;
          }
        },
      );
      const k = K.options({ lifetime: 'detached' }).remote();
      await s.get(k.get.remote());
      return k;
    });
    const k = (await sunray.get(make.remote())) as unknown as { get: { remote(): sunray.ObjectRef<number> } };
    expect(await sunray.get(k.get.remote())).toBe(7);
  });

  test('method results are ObjectRefs that can be passed to tasks', async () => {
    const c = Counter.remote(1);
    const double = sunray.remote((x: number) => x * 2);
    expect(await sunray.get(double.remote(c.incr.remote(1)))).toBe(4);
  });

  test('a constructor that throws makes every call fail with ActorDiedError carrying the cause', async () => {
    const Bad = sunray.remote(
      class Bad {
        constructor() {
          throw new TypeError('no config');
        }
        f() {
          return 1;
        }
      },
    );
    const b = Bad.remote();
    const err = await sunray.get(b.f.remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sunray.ActorDiedError);
    expect(String(err)).toMatch(/TypeError: no config/);
    await expect(sunray.get(b.f.remote())).rejects.toBeInstanceOf(sunray.ActorDiedError);
  });

  test('a method that throws fails that call with TaskError; the actor lives on', async () => {
    const Flaky = sunray.remote(
      class Flaky {
        n = 0;
        bad() {
          throw new Error('nope');
        }
        good() {
          return ++this.n;
        }
      },
    );
    const f = Flaky.remote();
    await expect(sunray.get(f.bad.remote())).rejects.toBeInstanceOf(sunray.TaskError);
    expect(await sunray.get(f.good.remote())).toBe(1);
  });

  test('kill -9 of the actor process: restarted up to maxRestarts, state rebuilt by the constructor', async () => {
    const c = Counter.options({ maxRestarts: 1 }).remote(100);
    expect(await sunray.get(c.incr.remote())).toBe(101);
    const pid1 = await sunray.get(c.pid.remote());
    process.kill(pid1, 'SIGKILL');
    await until(() => !isAlive(pid1), 5000, 'the actor process to die');
    // The node has seen the death (a call sent before it did would be one the process was
    // running when it died, which fails without maxTaskRetries).
    const restarted = async (n: number) =>
      ((await sunray.listActors()).find((r) => r.actorId === c.actorId)?.numRestarts ?? 0) >= n;
    await until(() => restarted(1), 5000, 'the node to restart the actor');
    // Restarted: state is the constructor's again.
    expect(await sunray.get(c.incr.remote())).toBe(101);
    const pid2 = await sunray.get(c.pid.remote());
    expect(pid2).not.toBe(pid1);
    process.kill(pid2, 'SIGKILL');
    await until(() => !isAlive(pid2), 5000, 'the actor process to die');
    await until(
      async () => (await sunray.listActors()).find((r) => r.actorId === c.actorId)?.state === 'DEAD',
      5000,
      'the node to see the actor dead',
    );
    // maxRestarts used up.
    await expect(sunray.get(c.incr.remote())).rejects.toBeInstanceOf(sunray.ActorDiedError);
  });

  test('calls in flight when the process dies fail, unless maxTaskRetries allows a retry', async () => {
    const { existsSync, readFileSync, rmSync } = await import('node:fs');
    for (const retries of [0, 1]) {
      const marker = `/tmp/sunray-test-actor-${process.pid}-${retries}`;
      rmSync(marker, { force: true });
      const v = Victim.options({ maxRestarts: 1, maxTaskRetries: retries }).remote();
      const ref = v.hang.remote(marker);
      await until(() => existsSync(marker), 10_000, 'the call to start');
      process.kill(Number(readFileSync(marker, 'utf8')), 'SIGKILL');
      if (retries === 0) await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.ActorDiedError);
      else expect(await sunray.get(ref)).toBe('done');
      rmSync(marker, { force: true });
    }
  });

  test('kill(): calls fail with ActorDiedError; with noRestart: false it restarts', async () => {
    const c = Counter.options({ maxRestarts: 1 }).remote(5);
    const pid = await sunray.get(c.pid.remote());
    sunray.kill(c, { noRestart: false });
    await until(() => !isAlive(pid), 5000, 'the actor process to die');
    expect(await sunray.get(c.incr.remote())).toBe(6);
    sunray.kill(c);
    await expect(sunray.get(c.incr.remote())).rejects.toBeInstanceOf(sunray.ActorDiedError);
  });

  test('named actors: getActor by namespace, getIfExists, and duplicate names refused', async () => {
    const a = Counter.options({ name: 'shared', namespace: 'team' }).remote(1);
    await sunray.get(a.incr.remote());
    const found = await sunray.getActor<{ incr(k?: number): number }>('shared', {
      namespace: 'team',
    });
    expect(await sunray.get(found.incr.remote())).toBe(3);
    await expect(sunray.getActor('shared')).rejects.toThrow(
      /no live actor named 'shared' in namespace 'default'/,
    );
    expect(() => Counter.options({ name: 'shared', namespace: 'team' }).remote()).toThrow(/already exists/);
    const same = Counter.options({ name: 'shared', namespace: 'team', getIfExists: true }).remote(1000);
    expect(await sunray.get(same.incr.remote())).toBe(4);
    sunray.kill(a);
    await until(
      async () => (await sunray.getActor('shared', { namespace: 'team' }).catch(() => null)) === null,
      5000,
      'the name to be freed',
    );
  });

  test('a non-detached actor ends when no handle to it is left', async () => {
    let c: ReturnType<typeof Counter.remote> | undefined = Counter.remote();
    const pid = await sunray.get(c.pid.remote());
    c = undefined;
    await untilGoneAfterGc(pid, 'the actor to end after its last handle is gone');
  });
});
