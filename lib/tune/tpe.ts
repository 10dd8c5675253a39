// TPESearch: tree-structured Parzen estimators (Bergstra et al. 2011), as Optuna's default
// sampler works, built in because Node has no Optuna to plug in. The first nStartupTrials
// configs are random; after that, finished trials are split into the best gamma(n) and the rest,
// each parameter gets a Parzen estimator l(x) over the best and g(x) over the rest, and the
// next value is the one of nEiCandidates draws from l with the highest l(x)/g(x). Parameters are
// modelled independently (univariate TPE). With a seed the suggestions are deterministic.
import { InvalidArgumentError } from '../index.js';
import { CategoricalParzen, defaultWeights, NumericParzen } from './parzen.js';
import type { Config, Mode, TrialResult } from './result.js';
import { deriveSeed, Rng } from './rng.js';
import { Categorical, Float, Integer, Normal, spaceToJSON } from './search-space.js';
import {
  type Described,
  type FINISHED,
  type RecordedTrial,
  Searcher,
  type SearchProperties,
} from './searcher.js';
import { getPath, type Leaf, leavesOf, resolveConfig } from './variants.js';

/** Options of TPESearch. */
export interface TPESearchOptions {
  /** The search space (default: the experiment's config / paramSpace). */
  space?: Record<string, unknown>;
  /** The metric to optimize (default: the experiment's). */
  metric?: string;
  /** 'min' or 'max' (default: the experiment's). */
  mode?: Mode;
  /** Random configs before the model is used (default 10, as Optuna). */
  nStartupTrials?: number;
  /** Draws from l(x) scored per suggestion (default 24, as Optuna). */
  nEiCandidates?: number;
  /** Weight of the prior kernel (default 1). */
  priorWeight?: number;
  /** Seed: the same seed and the same results give the same suggestions (default: drawn). */
  seed?: number;
}

/** A parameter as TPE models it: a numeric range (in log space for log domains) or categories. */
type Param =
  | {
      leaf: Leaf;
      kind: 'numeric';
      low: number;
      high: number;
      toValue: (x: number) => number;
      toInternal: (v: number) => number;
    }
  | { leaf: Leaf; kind: 'categorical'; categories: readonly unknown[] };

interface Observation {
  trialId: string;
  internal: Map<Leaf, number>;
  loss: number;
}

/** Optuna's default: the best ceil(10%) of trials, at most 25, form the "good" set. */
function gamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Model-based search with tree-structured Parzen estimators (Optuna's default sampler). */
export class TPESearch extends Searcher {
  private space: Record<string, unknown> | undefined;
  private readonly ownSpace: boolean;
  private leaves: Leaf[] = [];
  private params: Param[] = [];
  private readonly nStartup: number;
  private readonly nEi: number;
  private readonly priorWeight: number;
  /** The seed (saved in tuner.json). */
  readonly seed: number;
  private rng: Rng;
  private readonly pending = new Map<string, Map<Leaf, number>>();
  private readonly observations: Observation[] = [];

  constructor(opts: TPESearchOptions = {}) {
    super();
    this.metric = opts.metric;
    this.mode = opts.mode;
    if (this.mode !== undefined && this.mode !== 'min' && this.mode !== 'max') {
      throw new InvalidArgumentError(`TPESearch: mode must be 'min' or 'max', got ${String(this.mode)}`);
    }
    this.nStartup = opts.nStartupTrials ?? 10;
    this.nEi = opts.nEiCandidates ?? 24;
    this.priorWeight = opts.priorWeight ?? 1;
    for (const [k, v] of [
      ['nStartupTrials', this.nStartup],
      ['nEiCandidates', this.nEi],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new InvalidArgumentError(`TPESearch: ${k} must be an integer >= 1, got ${v}`);
    }
    if (!(this.priorWeight > 0)) throw new InvalidArgumentError('TPESearch: priorWeight must be above 0');
    this.seed = (opts.seed ?? new Rng().int(2 ** 32)) >>> 0;
    this.rng = new Rng(this.seed);
    this.ownSpace = opts.space !== undefined;
    if (opts.space) this.setSpace(opts.space);
  }

  private setSpace(space: Record<string, unknown>): void {
    this.space = space;
    this.leaves = leavesOf(space);
    this.params = [];
    for (const leaf of this.leaves) {
      const d = leaf.domain;
      if (d.kind === 'grid') {
        throw new InvalidArgumentError(
          `TPESearch chooses every value itself: '${leaf.key}' is a gridSearch(); use choice() instead`,
        );
      }
      if (d instanceof Float) {
        const log = d.log;
        const half = d.q !== undefined && !log ? d.q / 2 : 0;
        const f = log ? Math.log : (v: number) => v;
        this.params.push({
          leaf,
          kind: 'numeric',
          low: f(d.lower) - half,
          high: f(d.upper) + half,
          toInternal: f,
          toValue: (x) => {
            let v = log ? Math.exp(x) : x;
            if (d.q !== undefined) v = Math.round(v / d.q) * d.q;
            return Math.min(Math.max(v, d.lower), d.upper);
          },
        });
      } else if (d instanceof Integer) {
        const log = d.log;
        const f = log ? Math.log : (v: number) => v;
        this.params.push({
          leaf,
          kind: 'numeric',
          low: log ? Math.log(d.lower) : d.lower - d.q / 2,
          high: log ? Math.log(d.max + 1) : d.max + d.q / 2,
          toInternal: (v) => f(v),
          toValue: (x) => {
            let v = log ? Math.floor(Math.exp(x)) : Math.round(x);
            if (d.q !== 1) v = Math.round(v / d.q) * d.q;
            return Math.min(Math.max(v, d.lower), d.max);
          },
        });
      } else if (d instanceof Normal) {
        // Modelled over mean ± 4 sd: Parzen estimators need a bounded range.
        const q = d.q;
        this.params.push({
          leaf,
          kind: 'numeric',
          low: d.mean - 4 * d.sd,
          high: d.mean + 4 * d.sd,
          toInternal: (v) => v,
          toValue: (x) => (q === undefined ? x : Math.round(x / q) * q),
        });
      } else if (d instanceof Categorical) {
        this.params.push({ leaf, kind: 'categorical', categories: d.categories });
      }
      // sampleFrom: resolved from the rest after the model picks.
    }
  }

  override setSearchProperties(props: SearchProperties): boolean {
    super.setSearchProperties(props);
    if (!this.ownSpace) this.setSpace(props.config);
    return true;
  }

  suggest(trialId: string): Config | undefined | typeof FINISHED {
    if (!this.space)
      throw new InvalidArgumentError('TPESearch: no search space (pass { space } or a config to run)');
    const fixed = new Map<Leaf, unknown>();
    const internal = new Map<Leaf, number>();
    if (this.observations.length >= this.nStartup) {
      if (!this.metric || !this.mode) {
        throw new InvalidArgumentError(
          'TPESearch needs a metric and a mode (its options, or run()/tuneConfig)',
        );
      }
      const sorted = [...this.observations].sort((a, b) => a.loss - b.loss);
      const nBelow = gamma(sorted.length);
      const belowSet = new Set(sorted.slice(0, nBelow));
      // Kept in trial order: the weights favour recent trials.
      const below = this.observations.filter((o) => belowSet.has(o));
      const above = this.observations.filter((o) => !belowSet.has(o));
      const wBelow = defaultWeights(below.length);
      const wAbove = defaultWeights(above.length);
      for (const p of this.params) {
        // Every observation has a value for every parameter: observe() keeps no other.
        const xb = below.map((o) => o.internal.get(p.leaf) as number);
        const xa = above.map((o) => o.internal.get(p.leaf) as number);
        let l: NumericParzen | CategoricalParzen;
        let g: NumericParzen | CategoricalParzen;
        if (p.kind === 'numeric') {
          l = new NumericParzen(xb, wBelow, p.low, p.high, this.priorWeight);
          g = new NumericParzen(xa, wAbove, p.low, p.high, this.priorWeight);
        } else {
          l = new CategoricalParzen(xb, wBelow, p.categories.length, this.priorWeight);
          g = new CategoricalParzen(xa, wAbove, p.categories.length, this.priorWeight);
        }
        let best = 0;
        let bestScore = -Infinity;
        for (let i = 0; i < this.nEi; i++) {
          const x = l.sample(this.rng);
          const score = l.logPdf(x) - g.logPdf(x);
          if (score > bestScore) {
            bestScore = score;
            best = x;
          }
        }
        if (p.kind === 'numeric') {
          const v = p.toValue(best);
          fixed.set(p.leaf, v);
          internal.set(p.leaf, Math.min(Math.max(p.toInternal(v), p.low), p.high));
        } else {
          fixed.set(p.leaf, p.categories[best]);
          internal.set(p.leaf, best);
        }
      }
    }
    const config = resolveConfig(this.space, this.leaves, fixed, this.rng);
    this.pending.set(trialId, internal.size > 0 ? internal : this.internalOf(config));
    return config;
  }

  /** A config's values as the model sees them (log space, category indices). */
  private internalOf(config: Config): Map<Leaf, number> {
    const m = new Map<Leaf, number>();
    for (const p of this.params) {
      const v = getPath(config, p.leaf.path);
      if (p.kind === 'numeric') {
        if (typeof v === 'number' && Number.isFinite(p.toInternal(v))) {
          m.set(p.leaf, Math.min(Math.max(p.toInternal(v), p.low), p.high));
        }
      } else {
        const key = JSON.stringify(v);
        const i = p.categories.findIndex((c) => c === v || JSON.stringify(c) === key);
        if (i >= 0) m.set(p.leaf, i);
      }
    }
    return m;
  }

  override onTrialComplete(trialId: string, result: TrialResult | undefined, error = false): void {
    const internal = this.pending.get(trialId);
    this.pending.delete(trialId);
    if (!internal || error || !result || !this.metric) return;
    this.observe(trialId, internal, result);
  }

  private observe(trialId: string, internal: Map<Leaf, number>, result: TrialResult): void {
    const v = this.metric === undefined ? undefined : (result as Record<string, unknown>)[this.metric];
    if (typeof v !== 'number' || Number.isNaN(v)) return;
    if (internal.size < this.params.length) return; // a config from outside the space
    this.observations.push({ trialId, internal, loss: this.mode === 'max' ? -v : v });
  }

  override restoreFromTrials(trials: readonly RecordedTrial[]): void {
    this.rng = new Rng(deriveSeed(this.seed, trials.length));
    for (const t of trials) {
      const internal = this.internalOf(t.config);
      if (t.status === 'TERMINATED' && t.lastResult) this.observe(t.trialId, internal, t.lastResult);
      else if (t.status !== 'ERROR') this.pending.set(t.trialId, internal);
    }
  }

  /** How many finished trials the model has learned from. */
  get numObservations(): number {
    return this.observations.length;
  }

  override describe(): Described | undefined {
    let space: unknown;
    if (this.ownSpace) {
      const s = spaceToJSON(this.space);
      if (s.hasFunctions) return undefined;
      space = s.json;
    }
    return {
      kind: 'TPESearch',
      options: {
        space,
        metric: this.metric,
        mode: this.mode,
        nStartupTrials: this.nStartup,
        nEiCandidates: this.nEi,
        priorWeight: this.priorWeight,
        seed: this.seed,
      },
    };
  }
}
