// ConcurrencyLimiter and TPESearch decide which configs run: tested with fake trials
// (suggest, then report a result computed here), no processes.
import { InvalidArgumentError } from 'sunray';
import * as tune from 'sunray/tune';
import { describe, expect, test } from 'vitest';

const result = (m: Record<string, number>) => m as unknown as tune.TrialResult;

describe('ConcurrencyLimiter', () => {
  function limited(maxConcurrent: number, batch = false) {
    const inner = new tune.BasicVariantGenerator();
    const l = new tune.ConcurrencyLimiter(inner, { maxConcurrent, batch });
    l.setSearchProperties({ metric: 'x', mode: 'max', config: { a: tune.uniform(0, 1) }, numSamples: 10 });
    return l;
  }

  test('at most maxConcurrent live trials; a completion frees a slot', () => {
    const l = limited(2);
    expect(l.suggest('a')).toBeTypeOf('object');
    expect(l.suggest('b')).toBeTypeOf('object');
    expect(l.suggest('c')).toBeUndefined();
    l.onTrialComplete('a', result({ x: 1 }));
    expect(l.suggest('c')).toBeTypeOf('object');
    expect(l.suggest('d')).toBeUndefined();
    expect(l.handlesNumSamples).toBe(true); // numSamples stays the inner BasicVariantGenerator's
  });

  test('batch: the next batch starts only when the whole batch has completed', () => {
    const l = limited(2, true);
    l.suggest('a');
    l.suggest('b');
    l.onTrialComplete('a', result({ x: 1 }));
    expect(l.suggest('c')).toBeUndefined();
    l.onTrialComplete('b', result({ x: 1 }));
    expect(l.suggest('c')).toBeTypeOf('object');
  });

  test('maxConcurrent below 1 is refused', () => {
    expect(() => new tune.ConcurrencyLimiter(new tune.BasicVariantGenerator(), { maxConcurrent: 0 })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('TPESearch', () => {
  const space = {
    x: tune.uniform(-10, 10),
    lr: tune.loguniform(1e-5, 1),
    layers: tune.randint(1, 9),
    act: tune.choice(['relu', 'tanh', 'gelu']),
    fixed: 'yes',
  };
  /** The objective: best at x = 3, lr = 1e-2, layers = 4, act = 'tanh' (minimized). */
  const loss = (c: Record<string, any>) =>
    (c.x - 3) ** 2 + (Math.log10(c.lr) + 2) ** 2 + (c.layers - 4) ** 2 + (c.act === 'tanh' ? 0 : 5);

  function runSearch(searcher: tune.Searcher, n: number) {
    searcher.setSearchProperties({ metric: 'loss', mode: 'min', config: space, numSamples: n });
    const seen: { config: Record<string, any>; loss: number }[] = [];
    for (let i = 0; i < n; i++) {
      const c = searcher.suggest(`t${i}`);
      if (c === undefined || c === tune.FINISHED) throw new Error('TPE held back');
      const l = loss(c);
      seen.push({ config: c, loss: l });
      searcher.onTrialComplete(`t${i}`, result({ loss: l }));
    }
    return seen;
  }

  test('the same seed and the same results give the same suggestions', () => {
    const a = runSearch(new tune.TPESearch({ seed: 11 }), 40).map((s) => s.config);
    const b = runSearch(new tune.TPESearch({ seed: 11 }), 40).map((s) => s.config);
    const c = runSearch(new tune.TPESearch({ seed: 12 }), 40).map((s) => s.config);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  test('values stay in their domains and keep their types; constants pass through', () => {
    for (const { config: c } of runSearch(new tune.TPESearch({ seed: 5 }), 40)) {
      expect(c.x).toBeGreaterThanOrEqual(-10);
      expect(c.x).toBeLessThanOrEqual(10);
      expect(c.lr).toBeGreaterThanOrEqual(1e-5);
      expect(c.lr).toBeLessThanOrEqual(1);
      expect(Number.isInteger(c.layers) && c.layers >= 1 && c.layers <= 8).toBe(true);
      expect(['relu', 'tanh', 'gelu']).toContain(c.act);
      expect(c.fixed).toBe('yes');
    }
  });

  test('after its random start-up trials it suggests far better configs than random search', () => {
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (let seed = 1; seed <= 6; seed++) {
      const tpe = runSearch(new tune.TPESearch({ seed, nStartupTrials: 10 }), 60).map((s) => s.loss);
      const random = runSearch(new tune.BasicVariantGenerator({ randomState: seed }), 60).map((s) => s.loss);
      // The model's suggestions (the last 30) against random ones: less than half the loss.
      expect(mean(tpe.slice(30))).toBeLessThan(0.5 * mean(random.slice(30)));
    }
  });

  test('the model is used only after nStartupTrials finished trials; failed ones do not count', () => {
    const s = new tune.TPESearch({ seed: 1, nStartupTrials: 3 });
    s.setSearchProperties({ metric: 'loss', mode: 'min', config: space, numSamples: 10 });
    for (let i = 0; i < 3; i++) {
      s.suggest(`t${i}`);
      s.onTrialComplete(`t${i}`, result({ loss: 1 }), i === 0);
    }
    expect(s.numObservations).toBe(2);
  });

  test('mode max is maximized', () => {
    const s = new tune.TPESearch({ seed: 3, metric: 'score', mode: 'max' });
    s.setSearchProperties({
      metric: undefined,
      mode: undefined,
      config: { x: tune.uniform(0, 1) },
      numSamples: 0,
    });
    const xs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const c = s.suggest(`t${i}`) as Record<string, number>;
      xs.push(c.x!);
      s.onTrialComplete(`t${i}`, result({ score: c.x! }));
    }
    const late = xs.slice(30).reduce((a, b) => a + b, 0) / 20;
    expect(late).toBeGreaterThan(0.7);
  });

  test('a grid in its space is refused: TPE picks every value itself', () => {
    const s = new tune.TPESearch();
    expect(() =>
      s.setSearchProperties({
        metric: 'l',
        mode: 'min',
        config: { a: tune.gridSearch([1, 2]) },
        numSamples: 1,
      }),
    ).toThrow(/use choice\(\) instead/);
  });

  test('restoreFromTrials rebuilds what it learned from finished trials', () => {
    const first = new tune.TPESearch({ seed: 9, nStartupTrials: 5 });
    const seen = runSearch(first, 12);
    const again = new tune.TPESearch({ seed: 9, nStartupTrials: 5 });
    again.setSearchProperties({ metric: 'loss', mode: 'min', config: space, numSamples: 20 });
    again.restoreFromTrials(
      seen.map((s, i) => ({
        trialId: `t${i}`,
        config: s.config,
        status: 'TERMINATED',
        lastResult: result({ loss: s.loss }),
      })),
    );
    expect(again.numObservations).toBe(12);
  });
});
