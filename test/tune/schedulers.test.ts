// The schedulers decide which trials go on: ASHA's rungs, the median stopping rule and PBT's
// exploit/explore, driven by fake trials and results, no processes.
import { InvalidArgumentError } from 'sunray';
import * as tune from 'sunray/tune';
import { describe, expect, test } from 'vitest';

interface FakeTrial {
  trialId: string;
  config: Record<string, any>;
  status: tune.TrialStatus;
  lastResult: tune.TrialResult | undefined;
  hasCheckpoint: boolean;
}

class FakeRunner implements tune.TrialRunnerView {
  trials: FakeTrial[] = [];
  add(id: string, config: Record<string, any> = {}, scheduler?: tune.TrialScheduler): FakeTrial {
    const t: FakeTrial = {
      trialId: id,
      config,
      status: 'RUNNING',
      lastResult: undefined,
      hasCheckpoint: true,
    };
    this.trials.push(t);
    scheduler?.onTrialAdd(this, t);
    return t;
  }
  getTrials() {
    return this.trials;
  }
  getWaitingTrials() {
    return this.trials.filter((t) => t.status === 'PENDING' || t.status === 'PAUSED');
  }
}

function report(s: tune.TrialScheduler, r: FakeRunner, t: FakeTrial, fields: Record<string, number>) {
  const res = fields as unknown as tune.TrialResult;
  t.lastResult = res;
  return s.onTrialResult(r, t, res);
}

describe('ASHAScheduler', () => {
  test('rungs at gracePeriod * reductionFactor^k below maxT', () => {
    const s = new tune.ASHAScheduler({
      metric: 'score',
      mode: 'max',
      maxT: 16,
      gracePeriod: 1,
      reductionFactor: 2,
    });
    expect(s.rungs()[0]!.map((r) => r.milestone)).toEqual([16, 8, 4, 2, 1]);
    const s3 = new tune.ASHAScheduler({ maxT: 100, gracePeriod: 1, reductionFactor: 4 });
    expect(s3.rungs()[0]!.map((r) => r.milestone)).toEqual([64, 16, 4, 1]);
  });

  test('a trial below the top 1/rf of its rung stops there; trials at or above go on', () => {
    const s = new tune.ASHAScheduler({
      metric: 'score',
      mode: 'max',
      maxT: 16,
      gracePeriod: 1,
      reductionFactor: 2,
    });
    const r = new FakeRunner();
    const ts = [1, 2, 3, 4].map((q) => r.add(`t${q}`, { q }, s));
    // Rung 1 fills: each is compared with those recorded before it (the median with rf 2).
    for (const t of ts)
      expect(report(s, r, t, { training_iteration: 1, score: t.config.q })).toBe('CONTINUE');
    // Recorded at rung 1: 1, 2, 3, 4; the 50th percentile is 2.5.
    const late = r.add('late', { q: 2 }, s);
    expect(report(s, r, late, { training_iteration: 1, score: 2 })).toBe('STOP');
    const good = r.add('good', { q: 3 }, s);
    expect(report(s, r, good, { training_iteration: 1, score: 3 })).toBe('CONTINUE');
    // Between rungs nothing is decided; at the next rung the comparison starts afresh.
    expect(report(s, r, ts[0]!, { training_iteration: 2, score: 1 })).toBe('CONTINUE');
    expect(report(s, r, ts[3]!, { training_iteration: 2, score: 4 })).toBe('CONTINUE');
    expect(report(s, r, ts[1]!, { training_iteration: 2, score: 2 })).toBe('STOP'); // below percentile([1, 4], 50)
    expect(s.numStopped).toBe(2);
  });

  test('every trial stops at maxT; mode min compares the other way', () => {
    const s = new tune.ASHAScheduler({
      metric: 'loss',
      mode: 'min',
      maxT: 4,
      gracePeriod: 1,
      reductionFactor: 2,
    });
    const r = new FakeRunner();
    const a = r.add('a', {}, s);
    const b = r.add('b', {}, s);
    expect(report(s, r, a, { training_iteration: 1, loss: 1 })).toBe('CONTINUE');
    expect(report(s, r, b, { training_iteration: 1, loss: 5 })).toBe('STOP'); // higher loss is worse
    expect(report(s, r, a, { training_iteration: 4, loss: 0.5 })).toBe('STOP'); // maxT
  });

  test('over a population, the bad trials stop early and the best reaches maxT', () => {
    const s = new tune.ASHAScheduler({
      metric: 'score',
      mode: 'max',
      maxT: 16,
      gracePeriod: 1,
      reductionFactor: 2,
    });
    const r = new FakeRunner();
    const qs = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.4];
    const live = qs.map((q, i) => ({ t: r.add(`t${i}`, { q }, s), iter: 0 }));
    let total = 0;
    const reached: number[] = [];
    // Two at a time, as two slots would run them.
    while (live.length > 0) {
      for (const x of live.splice(0, 2)) {
        let d: tune.SchedulerDecision = 'CONTINUE';
        while (d === 'CONTINUE') {
          x.iter++;
          total++;
          d = report(s, r, x.t, {
            training_iteration: x.iter,
            score: x.t.config.q * (1 - Math.exp(-x.iter / 5)),
          });
        }
        if (x.iter === 16) reached.push(x.t.config.q);
      }
    }
    expect(total).toBeLessThan(qs.length * 16 * 0.6);
    expect(reached).toContain(0.9);
  });

  test('bad options are refused', () => {
    expect(() => new tune.ASHAScheduler({ reductionFactor: 1 })).toThrow(InvalidArgumentError);
    expect(() => new tune.ASHAScheduler({ maxT: 1, gracePeriod: 2 })).toThrow(/maxT/);
  });
});

describe('MedianStoppingRule', () => {
  test('after the grace period, a trial whose best is below the median of the others stops', () => {
    const s = new tune.MedianStoppingRule({
      timeAttr: 'training_iteration',
      metric: 'acc',
      mode: 'max',
      gracePeriod: 2,
      minSamplesRequired: 2,
    });
    const r = new FakeRunner();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => r.add(id, {}, s));
    for (let i = 1; i <= 4; i++) {
      expect(report(s, r, a!, { training_iteration: i, acc: 0.8 })).toBe('CONTINUE');
      expect(report(s, r, b!, { training_iteration: i, acc: 0.7 })).toBe('CONTINUE');
    }
    // Within the grace period nothing stops.
    expect(report(s, r, c!, { training_iteration: 1, acc: 0.1 })).toBe('CONTINUE');
    // Past it: the median of a's and b's means up to t=2 is 0.75.
    expect(report(s, r, c!, { training_iteration: 2, acc: 0.2 })).toBe('STOP');
    const d = r.add('d', {}, s);
    report(s, r, d, { training_iteration: 1, acc: 0.9 });
    expect(report(s, r, d, { training_iteration: 2, acc: 0.9 })).toBe('CONTINUE');
  });

  test('too few other trials: it goes on; without hardStop it pauses instead', () => {
    const s = new tune.MedianStoppingRule({
      timeAttr: 'training_iteration',
      metric: 'acc',
      mode: 'max',
      gracePeriod: 1,
      minSamplesRequired: 2,
      hardStop: false,
    });
    const r = new FakeRunner();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => r.add(id, {}, s));
    for (let i = 1; i <= 3; i++) report(s, r, a!, { training_iteration: i, acc: 1 });
    expect(report(s, r, c!, { training_iteration: 1, acc: 0 })).toBe('CONTINUE'); // only a to compare with
    for (let i = 1; i <= 3; i++) report(s, r, b!, { training_iteration: i, acc: 1 });
    expect(report(s, r, c!, { training_iteration: 2, acc: 0 })).toBe('PAUSE');
  });
});

describe('PopulationBasedTraining', () => {
  function population(s: tune.PopulationBasedTraining, scores: number[]) {
    const r = new FakeRunner();
    const ts = scores.map((_, i) => r.add(`t${i}`, { lr: 0.1 * (i + 1), opt: 'sgd', layers: 4 }, s));
    for (const [i, t] of ts.entries()) report(s, r, t, { training_iteration: 1, score: scores[i]! });
    return { r, ts };
  }

  test('at its perturbation interval, a bottom-quantile trial copies a top one and perturbs its config', () => {
    const s = new tune.PopulationBasedTraining({
      timeAttr: 'training_iteration',
      metric: 'score',
      mode: 'max',
      perturbationInterval: 2,
      hyperparamMutations: { lr: tune.uniform(0.001, 1), opt: ['adam', 'sgd', 'rmsprop'] },
      resampleProbability: 0,
      seed: 4,
    });
    const { r, ts } = population(s, [1, 2, 3, 4]);
    // Not yet at the interval (2 iterations since 0).
    expect(report(s, r, ts[0]!, { training_iteration: 1, score: 1 })).toBe('CONTINUE');
    const d = report(s, r, ts[0]!, { training_iteration: 2, score: 1 });
    expect(d).toMatchObject({ action: 'EXPLOIT', donorTrialId: 't3' }); // the top quantile of 4: one trial
    const cfg = (d as tune.ExploitDecision).config;
    // lr perturbed from the donor's 0.4 by 1.2 or 0.8; opt moved to a neighbour of 'sgd'; layers kept.
    expect([0.4 * 1.2, 0.4 * 0.8].some((v) => Math.abs(v - (cfg.lr as number)) < 1e-12)).toBe(true);
    expect(['adam', 'rmsprop']).toContain(cfg.opt);
    expect(cfg.layers).toBe(4);
    // A top trial at its interval goes on.
    expect(report(s, r, ts[3]!, { training_iteration: 2, score: 5 })).toBe('CONTINUE');
    expect(s.numPerturbations).toBe(1);
  });

  test('no exploit from a trial without a checkpoint; trials waiting for a slot get it (PAUSE)', () => {
    const s = new tune.PopulationBasedTraining({
      timeAttr: 'training_iteration',
      metric: 'score',
      mode: 'max',
      perturbationInterval: 1,
      hyperparamMutations: { lr: [0.1, 0.2] },
    });
    const { r, ts } = population(s, [1, 2, 3, 4]);
    ts[3]!.hasCheckpoint = false;
    expect(report(s, r, ts[0]!, { training_iteration: 2, score: 1 })).toBe('CONTINUE');
    r.add('waiting', {}, s).status = 'PENDING';
    expect(report(s, r, ts[1]!, { training_iteration: 2, score: 2 })).toBe('PAUSE');
  });

  test('resampling draws from the domain or list; quantiles are at most half the population', () => {
    const s = new tune.PopulationBasedTraining({
      timeAttr: 'training_iteration',
      metric: 'score',
      mode: 'max',
      perturbationInterval: 1,
      hyperparamMutations: { lr: tune.uniform(5, 6), opt: ['x', 'y'] },
      resampleProbability: 1,
      quantileFraction: 0.5,
      seed: 1,
    });
    const { r } = population(s, [1, 2, 3]);
    const q = s.quantiles(r);
    expect(q.lower.map((t) => t.trialId)).toEqual(['t0']);
    expect(q.upper.map((t) => t.trialId)).toEqual(['t2']);
    const c = s.explore({ lr: 0.1, opt: 'sgd' });
    expect(c.lr).toBeGreaterThanOrEqual(5);
    expect(['x', 'y']).toContain(c.opt);
  });

  test('mutations must say how to change each value', () => {
    expect(() => new tune.PopulationBasedTraining({ hyperparamMutations: {} })).toThrow(InvalidArgumentError);
    expect(
      () => new tune.PopulationBasedTraining({ hyperparamMutations: { a: tune.gridSearch([1]) } }),
    ).toThrow(/not gridSearch/);
  });
});
