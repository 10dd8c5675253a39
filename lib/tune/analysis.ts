// ExperimentAnalysis (what tune.run returns, as Ray's): the trials of an experiment and
// queries over them: the best trial, config, result and checkpoint for a metric and mode, each
// trial's last result, and a flat table of them all.
import { InvalidArgumentError } from '../index.js';
import type { Checkpoint } from './checkpoint.js';
import type { ControllerStats } from './controller.js';
import type { Config, Metrics, Mode, TrialResult } from './result.js';
import { readResults } from './storage.js';
import type { Scope, Trial } from './trial.js';
import { flatten } from './variants.js';

/** Picks the best trial by metric and mode; trials without the metric are skipped. */
export function bestTrialOf<T extends Trial<unknown, unknown>>(
  trials: readonly T[],
  metric: string,
  mode: Mode,
  scope: Scope,
): T | undefined {
  let best: T | undefined;
  let bestV = 0;
  for (const t of trials) {
    const v = t.metricValue(metric, mode, scope);
    if (v === undefined || Number.isNaN(v)) continue;
    if (!best || (mode === 'max' ? v > bestV : v < bestV)) {
      best = t;
      bestV = v;
    }
  }
  return best;
}

/** Checks metric and mode for a best-of query, from the arguments or the experiment's defaults. */
export function metricAndMode(
  metric: string | undefined,
  mode: Mode | undefined,
  what: string,
): { metric: string; mode: Mode } {
  if (!metric || !mode) {
    throw new InvalidArgumentError(
      `${what} needs a metric and a mode: pass them here, or to run()/tuneConfig so they are the default`,
    );
  }
  if (mode !== 'min' && mode !== 'max')
    throw new InvalidArgumentError(`${what}: mode must be 'min' or 'max', got ${String(mode)}`);
  return { metric, mode };
}

/** One row per trial: its id, status, flattened last result (config/... included) and directory. */
export function trialRows(trials: readonly Trial<unknown, unknown>[]): Record<string, unknown>[] {
  return trials.map((t) => ({
    trial_id: t.trialId,
    status: t.status,
    ...flatten({ ...(t.lastResult ?? {}), config: t.config }),
    logdir: t.path,
    ...(t.error ? { error: t.error.message } : {}),
  }));
}

/** The results of an experiment run with tune.run(). */
export class ExperimentAnalysis<C = Config, M = Metrics> {
  /** Every trial, in creation order. */
  readonly trials: Trial<C, M>[];
  /** The experiment's directory (storagePath/name). */
  readonly experimentPath: string;
  /** The metric and mode given to run(): the defaults of the best-of queries. */
  readonly defaultMetric: string | undefined;
  /** The mode given to run() ('min' or 'max'), the default of the best-of queries. */
  readonly defaultMode: Mode | undefined;
  /** What running the experiment cost: trials started, actor calls and actors, driver time, wall time. */
  readonly stats: ControllerStats | undefined;

  constructor(
    trials: Trial<C, M>[],
    experimentPath: string,
    metric: string | undefined,
    mode: Mode | undefined,
    stats?: ControllerStats,
  ) {
    this.stats = stats;
    this.trials = trials;
    this.experimentPath = experimentPath;
    this.defaultMetric = metric;
    this.defaultMode = mode;
  }

  /** The best trial by the run's metric and mode (last results). */
  get bestTrial(): Trial<C, M> {
    const t = this.getBestTrial();
    if (!t)
      throw new InvalidArgumentError(`no trial reported '${this.defaultMetric}': there is no best trial`);
    return t;
  }

  /** The best trial's config. */
  get bestConfig(): C {
    return this.bestTrial.config;
  }

  /** The best trial's last result. */
  get bestResult(): TrialResult<M, C> {
    const t = this.bestTrial;
    // The best trial was picked by a value of its results, so it has a last result.
    if (!t.lastResult)
      throw new InvalidArgumentError(`trial ${t.trialId} has no result: there is no best result`);
    return t.lastResult;
  }

  /** The best trial's latest checkpoint, if it saved one. */
  get bestCheckpoint(): Checkpoint | undefined {
    return this.bestTrial.checkpoint;
  }

  /** Each trial's last result, by trial id. */
  get results(): Record<string, TrialResult<M, C>> {
    const out: Record<string, TrialResult<M, C>> = {};
    for (const t of this.trials) if (t.lastResult) out[t.trialId] = t.lastResult;
    return out;
  }

  /** Trials that ended in ERROR. */
  get errors(): Trial<C, M>[] {
    return this.trials.filter((t) => t.status === 'ERROR');
  }

  /**
   * The best trial by metric and mode (default: run()'s), comparing each trial's last result, or
   * with scope 'all' its best result, 'avg' its mean, 'last-5-avg' / 'last-10-avg' its recent mean.
   */
  getBestTrial(metric?: string, mode?: Mode, scope: Scope = 'last'): Trial<C, M> | undefined {
    const m = metricAndMode(metric ?? this.defaultMetric, mode ?? this.defaultMode, 'getBestTrial()');
    return bestTrialOf(this.trials, m.metric, m.mode, scope);
  }

  /** The best trial's config (see getBestTrial). */
  getBestConfig(metric?: string, mode?: Mode, scope: Scope = 'last'): C | undefined {
    return this.getBestTrial(metric, mode, scope)?.config;
  }

  /** The best trial's latest checkpoint (see getBestTrial). */
  getBestCheckpoint(metric?: string, mode?: Mode, scope: Scope = 'last'): Checkpoint | undefined {
    return this.getBestTrial(metric, mode, scope)?.checkpoint;
  }

  /** Every result a trial reported, read from its result.json. */
  trialResults(trial: Trial<C, M> | string): TrialResult<M, C>[] {
    const t = typeof trial === 'string' ? this.trials.find((x) => x.trialId === trial) : trial;
    if (!t) throw new InvalidArgumentError(`no trial with id ${String(trial)} in this experiment`);
    return readResults(t.path) as TrialResult<M, C>[];
  }

  /** One row per trial: id, status, flattened last result and config, directory (Ray's results_df). */
  rows(): Record<string, unknown>[] {
    return trialRows(this.trials);
  }
}
