// Search space domains and their expansion by BasicVariantGenerator: counts (grid x numSamples),
// order, bounds, seeds, sampleFrom, pointsToEvaluate; no processes.
import { InvalidArgumentError } from 'sunray';
import * as tune from 'sunray/tune';
import { describe, expect, test } from 'vitest';

/** All configs a fresh BasicVariantGenerator makes for space x numSamples. */
function expand(
  space: Record<string, unknown>,
  numSamples: number,
  opts: tune.BasicVariantGeneratorOptions = {},
) {
  const g = new tune.BasicVariantGenerator(opts);
  g.setSearchProperties({ metric: undefined, mode: undefined, config: space, numSamples });
  const out: Record<string, any>[] = [];
  for (let i = 0; ; i++) {
    const c = g.suggest(`t${i}`);
    if (c === tune.FINISHED) break;
    if (c === undefined) throw new Error('suggest() held back without maxConcurrent');
    out.push(c);
  }
  return { g, out };
}

describe('grid search', () => {
  test('the seed example grid: 3 x 4 x 3 x 3 = 108 configs, numSamples 10 repeats it: 1,080', () => {
    const space = {
      nEstimators: tune.gridSearch([10, 50, 100]),
      maxDepth: tune.gridSearch([null, 10, 20, 30]),
      minSamplesSplit: tune.gridSearch([2, 5, 10]),
      minSamplesLeaf: tune.gridSearch([1, 2, 4]),
    };
    const { g, out } = expand(space, 10);
    expect(g.totalSamples).toBe(1080);
    expect(out).toHaveLength(1080);
    const distinct = new Set(out.map((c) => JSON.stringify(c)));
    expect(distinct.size).toBe(108);
    // Each config appears numSamples times.
    const counts = new Map<string, number>();
    for (const c of out) counts.set(JSON.stringify(c), (counts.get(JSON.stringify(c)) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 10)).toBe(true);
  });

  test('the first grid key varies fastest; the whole grid comes before it repeats', () => {
    const { out } = expand({ a: tune.gridSearch([1, 2]), b: tune.gridSearch(['x', 'y']), c: 7 }, 2);
    expect(out.map((c) => `${c.a}${c.b}`)).toEqual(['1x', '2x', '1y', '2y', '1x', '2x', '1y', '2y']);
    expect(out.every((c) => c.c === 7)).toBe(true);
  });

  test('nested objects and arrays are searched too; constants and class instances stay as they are', () => {
    const when = new Date(0);
    const { out } = expand(
      { opt: { lr: tune.gridSearch([0.1, 0.01]), betas: [0.9, tune.choice([0.99])] }, when },
      1,
    );
    expect(out).toEqual([
      { opt: { lr: 0.1, betas: [0.9, 0.99] }, when },
      { opt: { lr: 0.01, betas: [0.9, 0.99] }, when },
    ]);
  });
});

describe('random search', () => {
  const space = {
    u: tune.uniform(-1, 1),
    q: tune.quniform(0, 1, 0.1),
    l: tune.loguniform(1e-4, 1e-1),
    i: tune.randint(3, 6),
    qi: tune.qrandint(10, 50, 10),
    n: tune.randn(5, 0.01),
    c: tune.choice(['adam', 'sgd']),
  };

  test('numSamples configs, each value within its domain', () => {
    const { out } = expand(space, 200, { randomState: 1 });
    expect(out).toHaveLength(200);
    for (const c of out) {
      expect(c.u).toBeGreaterThanOrEqual(-1);
      expect(c.u).toBeLessThan(1);
      expect(Math.round(c.q * 10) / 10).toBe(c.q);
      expect(c.l).toBeGreaterThanOrEqual(1e-4);
      expect(c.l).toBeLessThan(1e-1);
      expect([3, 4, 5]).toContain(c.i); // upper excluded, as in Ray
      expect([10, 20, 30, 40, 50]).toContain(c.qi); // upper included, as in Ray
      expect(Math.abs(c.n - 5)).toBeLessThan(0.1);
      expect(['adam', 'sgd']).toContain(c.c);
    }
    // Log-uniform: about as many below 1e-2.5 as above.
    const low = out.filter((c) => c.l < 10 ** -2.5).length;
    expect(low).toBeGreaterThan(60);
    expect(low).toBeLessThan(140);
    expect(new Set(out.map((c) => c.i)).size).toBe(3);
  });

  test('the same randomState gives the same configs; another gives others', () => {
    const a = expand(space, 20, { randomState: 7 }).out;
    const b = expand(space, 20, { randomState: 7 }).out;
    const c = expand(space, 20, { randomState: 8 }).out;
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  test('configAt(n) is trial n: a restored experiment continues the same sequence', () => {
    const { g, out } = expand(space, 10, { randomState: 3 });
    expect(g.configAt(6)).toEqual(out[6]);
    const h = new tune.BasicVariantGenerator({ randomState: 3 });
    h.setSearchProperties({ metric: undefined, mode: undefined, config: space, numSamples: 10 });
    h.restoreFromTrials(
      out
        .slice(0, 4)
        .map((config, i) => ({ trialId: `t${i}`, config, status: 'TERMINATED', lastResult: undefined })),
    );
    expect(h.suggest('t4')).toEqual(out[4]);
  });

  test('sampleFrom sees the rest of the config, resolved', () => {
    const { out } = expand(
      {
        w: tune.gridSearch([2, 3]),
        h: tune.sampleFrom((spec: tune.SampleSpec<{ w: number }>) => spec.config.w * 10),
      },
      1,
    );
    expect(out).toEqual([
      { w: 2, h: 20 },
      { w: 3, h: 30 },
    ]);
  });

  test('pointsToEvaluate come first; what they leave out is resolved', () => {
    const { out } = expand({ a: tune.choice([1, 2]), b: tune.gridSearch(['x', 'y']) }, 1, {
      pointsToEvaluate: [{ a: 5 }],
      randomState: 1,
    });
    expect(out).toHaveLength(3);
    expect(out[0]!.a).toBe(5);
    expect(['x', 'y']).toContain(out[0]!.b);
  });

  test('maxConcurrent holds suggestions back until a trial completes', () => {
    const g = new tune.BasicVariantGenerator({ maxConcurrent: 2 });
    g.setSearchProperties({
      metric: undefined,
      mode: undefined,
      config: { a: tune.uniform(0, 1) },
      numSamples: 5,
    });
    expect(g.suggest('a')).toBeTypeOf('object');
    expect(g.suggest('b')).toBeTypeOf('object');
    expect(g.suggest('c')).toBeUndefined();
    g.onTrialComplete('a');
    expect(g.suggest('c')).toBeTypeOf('object');
  });
});

describe('domains', () => {
  test('bad bounds and empty lists are refused with InvalidArgumentError', () => {
    expect(() => tune.uniform(1, 1)).toThrow(InvalidArgumentError);
    expect(() => tune.loguniform(0, 1)).toThrow(/above 0/);
    expect(() => tune.randint(1.5, 3)).toThrow(/integers/);
    expect(() => tune.gridSearch([])).toThrow(/non-empty/);
    expect(() => tune.choice([])).toThrow(InvalidArgumentError);
    expect(() => tune.quniform(0, 1, 0)).toThrow(/q must be above 0/);
    expect(() => tune.randn(0, -1)).toThrow(/sd/);
    expect(() => expand([1, 2] as any, 1)).toThrow(/plain object/);
  });

  test('a sampleFrom that throws names its key', () => {
    expect(() =>
      expand(
        {
          x: tune.sampleFrom(() => {
            throw new Error('boom');
          }),
        },
        1,
      ),
    ).toThrow(/sampleFrom\(\) at 'x' threw: boom/);
  });
});
