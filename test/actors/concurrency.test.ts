// Actor concurrency as Ray has it, against real actor processes: async classes run many
// calls at once by default (1000), others one; maxPendingCalls refuses calls past a
// caller's limit; exitActor() ends an actor for good; concurrency groups each keep their
// own limit.
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, until } from '../helpers.js';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 64 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

/** Counts the calls of each label that run at once, and the most that ever did. */
class GaugeClass {
  inFlight: Record<string, number> = {};
  peak: Record<string, number> = {};
  release: (() => void) | undefined;
  async work(label: string, ms: number) {
    this.inFlight[label] = (this.inFlight[label] ?? 0) + 1;
    this.peak[label] = Math.max(this.peak[label] ?? 0, this.inFlight[label]!);
    await new Promise((r) => setTimeout(r, ms));
    this.inFlight[label]!--;
    return label;
  }
  /** Waits until free() is called (by another call). */
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
  async fail() {
    throw new Error('no');
  }
  /** Waits in get() for a task of ms. */
  async nested(ms: number) {
    const s = await import('sunray');
    const nap = s.remote(async (t: number) => {
      await new Promise((r) => setTimeout(r, t));
      return t;
    });
    return s.get(nap.remote(ms));
  }
  peaks() {
    return this.peak;
  }
  pid() {
    return process.pid;
  }
}
const Gauge = sunray.remote(GaugeClass);

/** No async function among its methods (one returns a promise all the same): not async by Ray's rule. */
const Plain = sunray.remote(
  class Plain {
    inFlight = 0;
    peak = 0;
    work(ms: number) {
      this.inFlight++;
      this.peak = Math.max(this.peak, this.inFlight);
      return new Promise((r) => setTimeout(r, ms)).then(() => {
        this.inFlight--;
        return this.peak;
      });
    }
  },
);

const Quitter = sunray.remote(
  class Quitter {
    async quit() {
      const s = await import('sunray');
      s.exitActor();
      return 'bye'; // the call that exits still finishes
    }
    pid() {
      return process.pid;
    }
  },
);

describe('maxConcurrency defaults (Ray: 1000 for async actors, 1 otherwise)', () => {
  test('an actor with async methods runs many calls at once without being told to', async () => {
    const g = Gauge.remote();
    await sunray.get(Array.from({ length: 20 }, () => g.work.remote('d', 400)));
    expect((await sunray.get(g.peaks.remote())).d).toBe(20);
  });

  test('an actor without async methods runs one call at a time, even one that returns a promise', async () => {
    const p = Plain.remote();
    const peaks = await sunray.get(Array.from({ length: 5 }, () => p.work.remote(50)));
    expect(Math.max(...peaks)).toBe(1);
  });

  test('an explicit maxConcurrency wins', async () => {
    const one = Gauge.options({ maxConcurrency: 1 }).remote();
    const three = Gauge.options({ maxConcurrency: 3 }).remote();
    await sunray.get([
      ...Array.from({ length: 4 }, () => one.work.remote('x', 50)),
      ...Array.from({ length: 6 }, () => three.work.remote('x', 200)),
    ]);
    expect((await sunray.get(one.peaks.remote())).x).toBe(1);
    expect((await sunray.get(three.peaks.remote())).x).toBe(3);
    const onePlain = Plain.options({ maxConcurrency: 4 }).remote();
    expect(Math.max(...(await sunray.get(Array.from({ length: 4 }, () => onePlain.work.remote(200)))))).toBe(
      4,
    );
  });
});

describe('maxPendingCalls', () => {
  test('a caller past the limit is refused at once; answered calls make room again', async () => {
    const g = Gauge.options({ maxPendingCalls: 2 }).remote();
    const first = [g.work.remote('p', 300), g.work.remote('p', 300)];
    let thrown: unknown;
    try {
      g.work.remote('p', 1);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(sunray.PendingCallsLimitError);
    expect((thrown as sunray.PendingCallsLimitError).code).toBe('SUNRAY_PENDING_CALLS_LIMIT');
    expect((thrown as Error).message).toMatch(/2 calls to the actor unanswered, its maxPendingCalls \(2\)/);
    expect(await sunray.get(first)).toEqual(['p', 'p']);
    // Failed calls are answered too.
    await expect(sunray.get(g.fail.remote())).rejects.toThrow(sunray.TaskError);
    expect(await sunray.get([g.work.remote('p', 1), g.work.remote('p', 1)])).toEqual(['p', 'p']);
  });

  test('the limit travels with the handle: a task calling the actor is refused too', async () => {
    const g = Gauge.options({ maxPendingCalls: 1 }).remote();
    const caller = sunray.remote(async (h: ReturnType<typeof Gauge.remote>) => {
      const s = await import('sunray');
      const first = h.work.remote('t', 200);
      let second = 'accepted';
      try {
        h.work.remote('t', 1);
      } catch (err) {
        second = (err as Error).name;
      }
      return [await s.get(first), second, await s.get(h.work.remote('t', 1))];
    });
    expect(await sunray.get(caller.remote(g))).toEqual(['t', 'PendingCallsLimitError', 't']);
  });

  test('a handle found by name keeps the limit its actor was created with', async () => {
    const g = Gauge.options({ name: 'limited', maxPendingCalls: 1 }).remote();
    const found = await sunray.getActor<GaugeClass>('limited');
    const first = found.work.remote('n', 200);
    expect(() => found.work.remote('n', 1)).toThrow(sunray.PendingCallsLimitError);
    expect(await sunray.get(first)).toBe('n');
    // getIfExists hands out a handle to the same actor, with the same limit.
    const again = Gauge.options({ name: 'limited', getIfExists: true }).remote();
    const held = again.work.remote('m', 200);
    expect(() => again.work.remote('m', 1)).toThrow(sunray.PendingCallsLimitError);
    expect(await sunray.get(held)).toBe('m');
    sunray.kill(g);
  });

  test('what a handle knows of its actor hides no method: one named info still works', async () => {
    const Info = sunray.remote(
      class Info {
        info() {
          return 'mine';
        }
      },
      { maxPendingCalls: 4, concurrencyGroups: { io: 1 } },
    );
    const h = Info.remote();
    expect(await sunray.get(h.info.remote())).toBe('mine');
    expect(await sunray.get(h.info.options({ concurrencyGroup: 'io' }).remote())).toBe('mine');
  });

  test('without the option calls queue without limit', async () => {
    const g = Gauge.options({ maxConcurrency: 1 }).remote();
    const refs = Array.from({ length: 500 }, () => g.work.remote('q', 0));
    expect((await sunray.get(refs)).length).toBe(500);
  });

  test('a bad maxPendingCalls is refused', () => {
    expect(() => Gauge.options({ maxPendingCalls: 0 }).remote()).toThrow(sunray.InvalidArgumentError);
  });
});

describe('exitActor()', () => {
  test('the call that exits finishes; the actor is then dead for good, whatever maxRestarts says', async () => {
    const q = Quitter.options({ maxRestarts: 3, maxConcurrency: 1 }).remote();
    const pid = await sunray.get(q.pid.remote());
    const bye = q.quit.remote();
    const queued = q.pid.remote(); // behind quit(): never runs
    expect(await sunray.get(bye)).toBe('bye');
    await expect(sunray.get(queued)).rejects.toThrow(sunray.ActorDiedError);
    await expect(sunray.get(queued)).rejects.toThrow(/exited intentionally/);
    await until(() => !isAlive(pid), 10_000, 'the actor process to exit');
    // Not restarted: later calls fail the same way.
    await new Promise((r) => setTimeout(r, 300));
    const later = q.pid.remote();
    await expect(sunray.get(later)).rejects.toThrow(/exited intentionally.*exitActor\(\)/);
  });

  test('direct callers see the same: their result, then ActorDiedError saying it exited', async () => {
    const q = Quitter.options({ maxConcurrency: 1 }).remote();
    const caller = sunray.remote(async (h: ReturnType<typeof Quitter.remote>) => {
      const s = await import('sunray');
      await s.get(h.pid.remote()); // opens the direct channel
      const bye = h.quit.remote();
      const after = h.pid.remote();
      const out: string[] = [await s.get(bye)];
      try {
        await s.get(after);
        out.push('ran');
      } catch (err) {
        out.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
      return out;
    });
    const [bye, after] = await sunray.get(caller.remote(q));
    expect(bye).toBe('bye');
    expect(after).toMatch(/^ActorDiedError: .*exited intentionally/);
  });

  test('outside an actor it throws NotInActorError: in the driver and in a task', async () => {
    expect(() => sunray.exitActor()).toThrow(sunray.NotInActorError);
    const inTask = sunray.remote(async () => {
      const s = await import('sunray');
      try {
        s.exitActor();
        return 'no error';
      } catch (err) {
        return `${(err as Error).name} ${(err as { code?: string }).code}`;
      }
    });
    expect(await sunray.get(inTask.remote())).toBe('NotInActorError SUNRAY_NOT_IN_ACTOR');
  });
});

describe('concurrency groups', () => {
  test('each group keeps its own limit; the default group keeps maxConcurrency', async () => {
    const g = Gauge.options({ maxConcurrency: 1, concurrencyGroups: { io: 2, compute: 1 } }).remote();
    const io = g.work.options({ concurrencyGroup: 'io' });
    const compute = g.work.options({ concurrencyGroup: 'compute' });
    await sunray.get([
      ...Array.from({ length: 4 }, () => io.remote('io', 300)),
      ...Array.from({ length: 3 }, () => compute.remote('compute', 200)),
      ...Array.from({ length: 3 }, () => g.work.remote('default', 200)),
    ]);
    expect(await sunray.get(g.peaks.remote())).toEqual({ io: 2, compute: 1, default: 1 });
  });

  test('a full group does not hold back the others', async () => {
    const g = Gauge.options({ maxConcurrency: 1, concurrencyGroups: { io: 1, compute: 1 } }).remote();
    // hold() fills compute (limit 1) until free() runs: free() gets to run only in another group.
    const held = g.hold.options({ concurrencyGroup: 'compute' }).remote();
    await until(
      async () => (await sunray.get(g.work.options({ concurrencyGroup: 'io' }).remote('w', 0))) === 'w',
    );
    expect(await sunray.get(g.free.options({ concurrencyGroup: 'io' }).remote())).toBe('freed');
    expect(await sunray.get(held)).toBe('held');
    // The default group too runs beside a full named group.
    const held2 = g.hold.options({ concurrencyGroup: 'compute' }).remote();
    await new Promise((r) => setTimeout(r, 100));
    expect(await sunray.get(g.free.remote())).toBe('freed');
    expect(await sunray.get(held2)).toBe('held');
  });

  test('a call waiting in get() lends its place in its own group only, and takes it back', async () => {
    const g = Gauge.options({ maxConcurrency: 1, concurrencyGroups: { compute: 1 } }).remote();
    expect(await sunray.get(g.nested.options({ concurrencyGroup: 'compute' }).remote(100))).toBe(100);
    // The default group is neither wedged nor widened by that wait.
    await sunray.get(Array.from({ length: 3 }, () => g.work.remote('after', 100)));
    expect((await sunray.get(g.peaks.remote())).after).toBe(1);
  });

  test('an unknown group is refused when the call is made, by handles found by name too', async () => {
    const g = Gauge.options({ name: 'grouped', concurrencyGroups: { io: 2 } }).remote();
    expect(() => g.work.options({ concurrencyGroup: 'gpu' as never })).toThrow(sunray.InvalidArgumentError);
    expect(() => g.work.options({ concurrencyGroup: 'gpu' as never })).toThrow(
      /no concurrency group 'gpu'.*'io'/,
    );
    const plain = Gauge.remote();
    expect(() => plain.work.options({ concurrencyGroup: 'io' as never })).toThrow(/it declares none/);
    // A handle from getActor knows the groups its actor was created with.
    const found = await sunray.getActor<GaugeClass>('grouped');
    expect(await sunray.get(found.work.options({ concurrencyGroup: 'io' }).remote('ok', 1))).toBe('ok');
    expect(() => found.work.options({ concurrencyGroup: 'gpu' })).toThrow(/no concurrency group 'gpu'.*'io'/);
    // One that cannot know them (getIfExists from a worker, whose registration is answered
    // later) hears it from the actor.
    const viaTask = sunray.remote(async () => {
      const s = await import('sunray');
      const Other = s.remote(
        class Gauge {
          work(label: string) {
            return label;
          }
        },
      );
      const h = Other.options({ name: 'grouped', getIfExists: true }).remote();
      return s
        .get(h.work.options({ concurrencyGroup: 'gpu' as never }).remote('x'))
        .catch((e: Error) => e.message);
    });
    expect(await sunray.get(viaTask.remote())).toMatch(
      /concurrency group 'gpu', which its actor does not declare/,
    );
    // The actor lives on.
    expect(await sunray.get(found.work.remote('still', 1))).toBe('still');
    sunray.kill(g);
  });

  test('bad groups are refused when the actor is created', () => {
    expect(() => Gauge.options({ concurrencyGroups: { io: 0 } }).remote()).toThrow(
      sunray.InvalidArgumentError,
    );
    expect(() => Gauge.options({ concurrencyGroups: { io: 1.5 } }).remote()).toThrow(/whole number/);
  });
});
