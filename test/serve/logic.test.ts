// The logic that decides, with fakes: routing (power of two choices, local node first, the
// queue and its limit), the autoscaling policy, the rolling-update plan, serve.batch, and the
// checks of deployment options. No processes: these run in a few milliseconds.
import { describe, expect, test, vi } from 'vitest';
// The same draws every run (mulberry32, as sunray/data's shuffles use).
import { seededRandom } from '../../dist/data/table-ops.js';
import {
  averageLoad,
  decideReplicas,
  desiredReplicas,
  newAutoscalingState,
  recordLoad,
} from '../../dist/serve/autoscaling.js';
import { batch } from '../../dist/serve/batch.js';
import { checkOptions, resolveConfig } from '../../dist/serve/config.js';
import { type PlanReplica, planRollout } from '../../dist/serve/rollout.js';
import { QUEUE_FULL, ReplicaRouter } from '../../dist/serve/router.js';

const rep = (id: string, nodeId = 'n1') => ({ id, nodeId });

/** A fixed sequence of "random" numbers. */
function seq(...xs: number[]): () => number {
  let i = 0;
  return () => xs[i++ % xs.length]!;
}

describe('router: power of two choices', () => {
  test('of the two replicas drawn, the one with fewer requests in flight is taken', () => {
    const r = new ReplicaRouter({ maxOngoing: 10, maxQueued: -1 }, seq(0, 0.5));
    r.update([rep('a'), rep('b'), rep('c')]);
    // Draws: i = floor(0 * 3) = a, j = floor(0.5 * 2) = 1 -> skips a -> c.
    expect(r.acquire()).toEqual(rep('a')); // both at 0: the first drawn
    expect(r.acquire()).toEqual(rep('c')); // a has 1, c has 0
    expect(r.ongoing('a')).toBe(1);
    expect(r.ongoing('c')).toBe(1);
  });

  test('the load spreads evenly over many requests', () => {
    // Seeded, so the test is the same every run: two random choices leave a replica off
    // the even share by 3 or 4 now and then (about 1 run in 200), a single one by ~10.
    const spread = (seed: number) => {
      const r = new ReplicaRouter({ maxOngoing: 1000, maxQueued: -1 }, seededRandom(seed));
      r.update([rep('a'), rep('b'), rep('c'), rep('d')]);
      for (let i = 0; i < 400; i++) r.acquire();
      return Math.max(...['a', 'b', 'c', 'd'].map((id) => Math.abs(r.ongoing(id) - 100)));
    };
    const worst = Array.from({ length: 200 }, (_, seed) => spread(seed + 1));
    expect(Math.max(...worst)).toBeLessThanOrEqual(4);
    expect(worst.filter((d) => d <= 2).length).toBeGreaterThanOrEqual(190);
  });

  test('replicas on the caller node are preferred while they have room', () => {
    const r = new ReplicaRouter({ maxOngoing: 2, maxQueued: -1, localNodeId: 'here' });
    r.update([rep('far1', 'there'), rep('near', 'here'), rep('far2', 'there')]);
    expect((r.acquire() as { id: string }).id).toBe('near');
    expect((r.acquire() as { id: string }).id).toBe('near');
    expect((r.acquire() as { id: string }).id).toMatch(/^far/);
  });

  test('all full: requests queue first come first served, and get the slots freed', async () => {
    const r = new ReplicaRouter({ maxOngoing: 1, maxQueued: -1 });
    r.update([rep('a'), rep('b')]);
    type R = { id: string; nodeId: string };
    const a = r.acquire() as R;
    const b = r.acquire() as R;
    const w1 = r.acquire() as { promise: Promise<R> };
    const w2 = r.acquire() as { promise: Promise<R> };
    expect(r.queued).toBe(2);
    r.release(b);
    expect((await w1.promise).id).toBe(b.id);
    r.release(a);
    expect((await w2.promise).id).toBe(a.id);
    expect(r.queued).toBe(0);
  });

  test('past maxQueued the request is refused at once', () => {
    const r = new ReplicaRouter({ maxOngoing: 1, maxQueued: 1 });
    r.update([rep('a')]);
    r.acquire();
    expect(r.acquire()).not.toBe(QUEUE_FULL);
    expect(r.acquire()).toBe(QUEUE_FULL);
  });

  test('a waiting request can be cancelled; a dead replica is skipped; new replicas take the queue', async () => {
    const r = new ReplicaRouter({ maxOngoing: 1, maxQueued: -1 });
    r.update([rep('a')]);
    r.acquire();
    const w = r.acquire() as { promise: Promise<unknown>; cancel(e: unknown): boolean };
    expect(w.cancel(new Error('gone'))).toBe(true);
    await expect(w.promise).rejects.toThrow('gone');
    const w2 = r.acquire() as { promise: Promise<{ id: string }> };
    r.remove('a');
    r.update([rep('b')]);
    expect((await w2.promise).id).toBe('b');
    expect(r.acquire('b')).not.toEqual(rep('b')); // excluded on a retry: waits
  });
});

describe('autoscaling policy', () => {
  const cfg = {
    minReplicas: 1,
    maxReplicas: 5,
    initialReplicas: 1,
    targetOngoingRequests: 2,
    upscaleDelayMs: 1000,
    downscaleDelayMs: 3000,
    lookBackPeriodMs: 2000,
  };

  test('wants load / target replicas, within min and max; from zero, one at once', () => {
    expect(desiredReplicas(cfg, 1, 0)).toBe(1);
    expect(desiredReplicas(cfg, 1, 7)).toBe(4);
    expect(desiredReplicas(cfg, 1, 100)).toBe(5);
    expect(desiredReplicas({ ...cfg, minReplicas: 0 }, 0, 0.1)).toBe(1);
  });

  test('the load is averaged over the look-back window', () => {
    const s = newAutoscalingState();
    recordLoad(s, 0, 10, 2000);
    recordLoad(s, 1000, 0, 2000);
    expect(averageLoad(s)).toBe(5);
    recordLoad(s, 2500, 0, 2000); // the sample at 0 falls out
    expect(averageLoad(s)).toBe(0);
  });

  test('scales up only after upscaleDelayMs of asking, down after downscaleDelayMs', () => {
    const s = newAutoscalingState();
    recordLoad(s, 0, 8, 2000);
    expect(decideReplicas(cfg, 1, s, 0)).toBe(1);
    expect(decideReplicas(cfg, 1, s, 999)).toBe(1);
    expect(decideReplicas(cfg, 1, s, 1000)).toBe(4);
    const d = newAutoscalingState();
    recordLoad(d, 0, 0, 2000);
    expect(decideReplicas(cfg, 4, d, 0)).toBe(4);
    expect(decideReplicas(cfg, 4, d, 2999)).toBe(4);
    expect(decideReplicas(cfg, 4, d, 3000)).toBe(1);
  });

  test('a load that stops asking resets the delay', () => {
    const s = newAutoscalingState();
    recordLoad(s, 0, 8, 100);
    expect(decideReplicas(cfg, 1, s, 0)).toBe(1);
    recordLoad(s, 500, 2, 100); // 2 / target 2 = 1: no change wanted
    expect(decideReplicas(cfg, 1, s, 500)).toBe(1);
    recordLoad(s, 900, 8, 100);
    expect(decideReplicas(cfg, 1, s, 1200)).toBe(1); // asking again since this decision only
    expect(decideReplicas(cfg, 1, s, 2199)).toBe(1);
    expect(decideReplicas(cfg, 1, s, 2200)).toBe(4);
  });
});

describe('rolling update plan', () => {
  /** Runs the plan to the end: started replicas run at the next step. Returns the states seen. */
  function simulate(target: number, replicas: PlanReplica[], version: string) {
    let t = 100;
    let n = 0;
    const seen: { serving: number; live: number }[] = [];
    for (let step = 0; step < 50; step++) {
      for (const r of replicas) if (r.state === 'STARTING') r.state = 'RUNNING';
      const plan = planRollout(target, version, 0, replicas);
      replicas = replicas.filter((r) => !plan.stop.includes(r.id));
      for (let i = 0; i < plan.start; i++)
        replicas.push({ id: `new${n++}`, version, configVersion: 0, state: 'STARTING', startedAt: t++ });
      seen.push({
        serving: replicas.filter((r) => r.state === 'RUNNING').length,
        live: replicas.length,
      });
      if (plan.start === 0 && plan.stop.length === 0) break;
    }
    return { replicas, seen };
  }
  const old = (n: number): PlanReplica[] =>
    Array.from({ length: n }, (_, i) => ({
      id: `old${i}`,
      version: 'v1',
      configVersion: 0,
      state: 'RUNNING' as const,
      startedAt: i,
    }));

  test('new code: replicas are replaced one by one, never fewer serving than the target nor more than one extra', () => {
    const { replicas, seen } = simulate(3, old(3), 'v2');
    expect(replicas.map((r) => r.version)).toEqual(['v2', 'v2', 'v2']);
    for (const s of seen) {
      expect(s.serving).toBeGreaterThanOrEqual(3);
      expect(s.live).toBeLessThanOrEqual(4);
    }
  });

  test('a new replica is started before any old one stops; none stop while a new one starts', () => {
    const first = planRollout(2, 'v2', 0, old(2));
    expect(first).toEqual({ start: 1, stop: [], reconfigure: [] });
    const starting = [
      ...old(2),
      { id: 'n', version: 'v2', configVersion: 0, state: 'STARTING' as const, startedAt: 9 },
    ];
    expect(planRollout(2, 'v2', 0, starting)).toEqual({ start: 0, stop: [], reconfigure: [] });
    starting[2]!.state = 'RUNNING';
    expect(planRollout(2, 'v2', 0, starting).stop).toHaveLength(1);
  });

  test('only userConfig changed: running replicas are reconfigured in place', () => {
    const rs = old(2);
    expect(planRollout(2, 'v1', 1, rs)).toEqual({ start: 0, stop: [], reconfigure: ['old0', 'old1'] });
  });

  test('scaling: up starts the difference; down stops starting ones first, then the newest', () => {
    expect(planRollout(5, 'v1', 0, old(2)).start).toBe(3);
    const rs = [
      ...old(3),
      { id: 's', version: 'v1', configVersion: 0, state: 'STARTING' as const, startedAt: 1 },
    ];
    expect(planRollout(2, 'v1', 0, rs).stop).toEqual(['s', 'old2']);
  });
});

describe('serve.batch', () => {
  test('calls that arrive together go as one batch of at most maxBatchSize, results in order', async () => {
    const sizes: number[] = [];
    const double = batch(
      async (xs: number[]) => {
        sizes.push(xs.length);
        return xs.map((x) => x * 2);
      },
      { maxBatchSize: 4, batchWaitTimeoutMs: 20 },
    );
    const out = await Promise.all(Array.from({ length: 10 }, (_, i) => double(i)));
    expect(out).toEqual(Array.from({ length: 10 }, (_, i) => i * 2));
    expect(sizes).toEqual([4, 4, 2]);
  });

  test('a lone call goes after batchWaitTimeoutMs', async () => {
    vi.useFakeTimers();
    try {
      const seen: number[][] = [];
      const f = batch(
        async (xs: number[]) => {
          seen.push(xs);
          return xs;
        },
        {
          maxBatchSize: 8,
          batchWaitTimeoutMs: 50,
        },
      );
      const p = f(1);
      await vi.advanceTimersByTimeAsync(49);
      expect(seen).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(await p).toBe(1);
      expect(seen).toEqual([[1]]);
    } finally {
      vi.useRealTimers();
    }
  });

  test('a throwing batch fails each of its calls; a wrong-sized result is a named error', async () => {
    const boom = batch(async (_xs: number[]): Promise<number[]> => {
      throw new Error('model broke');
    });
    await expect(Promise.all([boom(1), boom(2)])).rejects.toThrow('model broke');
    const short = batch(async (xs: number[]) => xs.slice(1), { batchWaitTimeoutMs: 1 });
    await expect(Promise.all([short(1), short(2)])).rejects.toMatchObject({
      code: 'SUNRAY_INVALID_ARGUMENT',
    });
    expect(() => batch(async (xs: number[]) => xs, { maxBatchSize: 0 })).toThrow(/maxBatchSize/);
  });

  test('`this` is the caller: a class field batches per instance', async () => {
    class M {
      k = 3;
      f = batch(async function (this: M, xs: number[]) {
        return xs.map((x) => x * this.k);
      });
    }
    const m = new M();
    expect(await Promise.all([m.f(1), m.f(2)])).toEqual([3, 6]);
  });
});

describe('deployment options', () => {
  test("defaults are Ray Serve's", () => {
    const c = resolveConfig({});
    expect(c).toMatchObject({
      numReplicas: 1,
      maxOngoingRequests: 5,
      maxQueuedRequests: -1,
      autoscaling: undefined,
    });
    const a = resolveConfig({ numReplicas: 'auto' });
    expect(a.autoscaling).toMatchObject({ minReplicas: 1, maxReplicas: 100, targetOngoingRequests: 2 });
  });

  test('bad options fail naming the option', () => {
    expect(() => checkOptions({ numReplicas: -1 })).toThrow(/numReplicas must be a whole number >= 0/);
    expect(() => checkOptions({ maxOngoingRequests: 0 })).toThrow(/maxOngoingRequests/);
    expect(() => checkOptions({ numReplicas: 2, autoscalingConfig: {} })).toThrow(/exclude each other/);
    expect(() => checkOptions({ autoscalingConfig: { minReplicas: 3, maxReplicas: 2 } })).toThrow(
      /below minReplicas/,
    );
    expect(() => checkOptions({ numReplica: 2 } as never)).toThrow(/numReplica is not an option/);
    expect(() => checkOptions({ actorOptions: { name: 'x' } } as never)).toThrow(/actorOptions.name/);
  });
});
