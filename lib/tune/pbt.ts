// Population based training (Jaderberg et al. 2017, Ray's PopulationBasedTraining): every
// perturbationInterval of timeAttr, a trial in the bottom quantile of the population copies a
// trial of the top quantile (exploit: restart from its latest checkpoint) and perturbs its
// hyperparameters (explore: resample with resampleProbability, else scale numbers by 1.2 or
// 0.8 and shift list choices to a neighbour).
import { InvalidArgumentError } from '../index.js';
import type { Config, Mode, TrialResult } from './result.js';
import { Rng } from './rng.js';
import { type SchedulerDecision, type TrialRunnerView, TrialScheduler, type TrialView } from './scheduler.js';
import { type Domain, isDomain, isPlainObject } from './search-space.js';
import type { Described } from './searcher.js';

/** How one hyperparameter may change: a list of values, a domain, a function drawing a value, or nested mutations. */
export type Mutation = readonly unknown[] | Domain | (() => unknown) | { [key: string]: Mutation };

/** Options of PopulationBasedTraining (Ray's names and defaults). */
export interface PopulationBasedTrainingOptions {
  /** The result field that measures time (default 'time_total_s'). */
  timeAttr?: string;
  /** The metric compared (default: the experiment's). */
  metric?: string;
  /** 'min' or 'max' (default: the experiment's). */
  mode?: Mode;
  /** timeAttr between perturbations of a trial (default 60). */
  perturbationInterval?: number;
  /** No perturbation before this much timeAttr (default 0). */
  burnInPeriod?: number;
  /** The hyperparameters to explore and how. */
  hyperparamMutations?: Record<string, Mutation>;
  /** Fraction of the population in the top and in the bottom quantile (default 0.25, at most 0.5). */
  quantileFraction?: number;
  /** Chance to resample a value rather than perturb it (default 0.25). */
  resampleProbability?: number;
  /** Factors numbers are scaled by when perturbed (default [1.2, 0.8]). */
  perturbationFactors?: readonly [number, number];
  /** Applied to each explored config after the mutations (runs in the driver). */
  customExploreFn?: (config: Config) => Config;
  /** Seed of the choices (default: drawn). */
  seed?: number;
}

interface State {
  lastPerturbationTime: number;
  lastScore: number | undefined;
}

/** Population based training: the bottom of the population copies the top, then perturbs. */
export class PopulationBasedTraining extends TrialScheduler {
  /** The result field that measures time. */
  readonly timeAttr: string;
  /** timeAttr between perturbations of a trial. */
  readonly perturbationInterval: number;
  /** No perturbation before this much timeAttr. */
  readonly burnInPeriod: number;
  /** Fraction of the population in the top and in the bottom quantile. */
  readonly quantileFraction: number;
  /** Chance to resample a value rather than perturb it. */
  readonly resampleProbability: number;
  private readonly factors: readonly [number, number];
  private readonly mutations: Record<string, Mutation>;
  private readonly customExploreFn: ((config: Config) => Config) | undefined;
  private readonly rng: Rng;
  private readonly seed: number;
  private readonly state = new Map<string, State>();
  /** Exploits decided so far. */
  numPerturbations = 0;

  constructor(opts: PopulationBasedTrainingOptions = {}) {
    super();
    this.timeAttr = opts.timeAttr ?? 'time_total_s';
    this.metric = opts.metric;
    this.mode = opts.mode;
    this.perturbationInterval = opts.perturbationInterval ?? 60;
    this.burnInPeriod = opts.burnInPeriod ?? 0;
    this.quantileFraction = opts.quantileFraction ?? 0.25;
    this.resampleProbability = opts.resampleProbability ?? 0.25;
    this.factors = opts.perturbationFactors ?? [1.2, 0.8];
    this.mutations = opts.hyperparamMutations ?? {};
    this.customExploreFn = opts.customExploreFn;
    this.seed = (opts.seed ?? new Rng().int(2 ** 32)) >>> 0;
    this.rng = new Rng(this.seed);
    if (!(this.perturbationInterval > 0)) {
      throw new InvalidArgumentError('PopulationBasedTraining: perturbationInterval must be above 0');
    }
    if (!(this.quantileFraction > 0 && this.quantileFraction <= 0.5)) {
      throw new InvalidArgumentError('PopulationBasedTraining: quantileFraction must be in (0, 0.5]');
    }
    if (!(this.resampleProbability >= 0 && this.resampleProbability <= 1)) {
      throw new InvalidArgumentError('PopulationBasedTraining: resampleProbability must be in [0, 1]');
    }
    if (Object.keys(this.mutations).length === 0 && !this.customExploreFn) {
      throw new InvalidArgumentError(
        'PopulationBasedTraining needs hyperparamMutations (or customExploreFn): what to explore',
      );
    }
    checkMutations(this.mutations, '');
  }

  override onTrialAdd(_runner: TrialRunnerView, trial: TrialView): void {
    this.state.set(trial.trialId, { lastPerturbationTime: 0, lastScore: undefined });
  }

  onTrialResult(runner: TrialRunnerView, trial: TrialView, result: TrialResult): SchedulerDecision {
    const t = (result as Record<string, unknown>)[this.timeAttr];
    const score = this.score(result);
    if (typeof t !== 'number' || score === undefined) return TrialScheduler.CONTINUE;
    let st = this.state.get(trial.trialId);
    if (!st) this.state.set(trial.trialId, (st = { lastPerturbationTime: 0, lastScore: undefined }));
    st.lastScore = score;
    if (t < this.burnInPeriod) return TrialScheduler.CONTINUE;
    if (t - st.lastPerturbationTime < this.perturbationInterval) return TrialScheduler.CONTINUE;
    st.lastPerturbationTime = t;
    const { lower, upper } = this.quantiles(runner);
    if (lower.some((x) => x.trialId === trial.trialId)) {
      const donors = upper.filter((x) => x.hasCheckpoint && x.trialId !== trial.trialId);
      if (donors.length > 0) {
        const donor = this.rng.pick(donors);
        this.numPerturbations++;
        return { action: 'EXPLOIT', donorTrialId: donor.trialId, config: this.explore(donor.config) };
      }
    }
    // Let trials waiting for a slot have a turn, as Ray's PBT does.
    const waiting = runner.getWaitingTrials().length > 0;
    return waiting ? TrialScheduler.PAUSE : TrialScheduler.CONTINUE;
  }

  /** The bottom and top quantiles of the trials that have a score (each at most half of them). */
  quantiles(runner: TrialRunnerView): {
    /** The worst trials: they copy from the upper ones. */
    lower: TrialView[];
    /** The best trials. */
    upper: TrialView[];
  } {
    const scoreOf = (t: TrialView): number | undefined => this.state.get(t.trialId)?.lastScore;
    const scored = runner
      .getTrials()
      .flatMap((t) => {
        const score = scoreOf(t);
        return score === undefined || t.status === 'ERROR' ? [] : [{ t, score }];
      })
      .sort((a, b) => a.score - b.score)
      .map((s) => s.t);
    if (scored.length <= 1) return { lower: [], upper: [] };
    let n = Math.ceil(scored.length * this.quantileFraction);
    if (n > scored.length / 2) n = Math.floor(scored.length / 2);
    return { lower: scored.slice(0, n), upper: scored.slice(scored.length - n) };
  }

  /** A perturbed copy of config: each hyperparameter in hyperparamMutations resampled or perturbed. */
  explore(config: Config): Config {
    const out = structuredClone(config);
    this.exploreInto(out, config, this.mutations);
    return this.customExploreFn ? this.customExploreFn(out) : out;
  }

  private exploreInto(out: Config, config: Config, mutations: Record<string, Mutation>): void {
    for (const [key, m] of Object.entries(mutations)) {
      const cur = config[key];
      if (isPlainObject(m) && !isDomain(m)) {
        const sub = isPlainObject(out[key]) ? (out[key] as Config) : {};
        out[key] = sub;
        this.exploreInto(sub, isPlainObject(cur) ? (cur as Config) : {}, m as Record<string, Mutation>);
      } else if (Array.isArray(m)) {
        const i = m.findIndex((x) => x === cur || JSON.stringify(x) === JSON.stringify(cur));
        if (i < 0 || this.rng.next() < this.resampleProbability) out[key] = this.rng.pick(m);
        else out[key] = m[Math.min(Math.max(i + (this.rng.next() < 0.5 ? -1 : 1), 0), m.length - 1)];
      } else if (this.rng.next() < this.resampleProbability || typeof cur !== 'number') {
        out[key] = isDomain(m) ? m.sample(this.rng) : (m as () => unknown)();
      } else {
        const v = cur * (this.rng.next() < 0.5 ? this.factors[0] : this.factors[1]);
        out[key] = Number.isInteger(cur) ? Math.round(v) : v;
      }
    }
  }

  override describe(): Described | undefined {
    if (this.customExploreFn || hasFunctions(this.mutations)) return undefined;
    const json = (m: Mutation): unknown =>
      isDomain(m)
        ? m.toJSON()
        : Array.isArray(m)
          ? m
          : Object.fromEntries(Object.entries(m as Record<string, Mutation>).map(([k, v]) => [k, json(v)]));
    return {
      kind: 'PopulationBasedTraining',
      options: {
        timeAttr: this.timeAttr,
        metric: this.metric,
        mode: this.mode,
        perturbationInterval: this.perturbationInterval,
        burnInPeriod: this.burnInPeriod,
        hyperparamMutations: json(this.mutations),
        quantileFraction: this.quantileFraction,
        resampleProbability: this.resampleProbability,
        perturbationFactors: this.factors,
        seed: this.seed,
      },
    };
  }
}

function checkMutations(m: Record<string, Mutation>, prefix: string): void {
  for (const [k, v] of Object.entries(m)) {
    if (isPlainObject(v) && !isDomain(v)) {
      checkMutations(v as Record<string, Mutation>, `${prefix}${k}/`);
      continue;
    }
    const ok =
      (Array.isArray(v) && v.length > 0) ||
      typeof v === 'function' ||
      (isDomain(v) && v.kind !== 'grid' && v.kind !== 'function');
    if (!ok) {
      throw new InvalidArgumentError(
        `PopulationBasedTraining: hyperparamMutations['${prefix}${k}'] must be a non-empty list, a domain ` +
          '(uniform(), choice(), ...; not gridSearch or sampleFrom), a function or nested mutations',
      );
    }
  }
}

function hasFunctions(m: Record<string, Mutation>): boolean {
  return Object.values(m).some(
    (v) =>
      typeof v === 'function' ||
      (isPlainObject(v) && !isDomain(v) && hasFunctions(v as Record<string, Mutation>)),
  );
}
