// ResultGrid (what Tuner.fit returns, as Ray's): one Result per trial, iterable and indexable,
// with the best result for a metric, the errors, and a flat table of every trial.
import { InvalidArgumentError } from '../index.js';
import { bestTrialOf, metricAndMode, trialRows } from './analysis.js';
import { Checkpoint } from './checkpoint.js';
import type { ControllerStats } from './controller.js';
import type { TrialFailedError } from './errors.js';
import type { Config, Metrics, Mode, TrialResult } from './result.js';
import { readResults } from './storage.js';
import type { Scope, Trial } from './trial.js';

/** One trial's outcome. */
export class Result<C = Config, M = Metrics> {
  /** The trial's config. */
  readonly config: C;
  /** Its last result (undefined if it never reported). */
  readonly metrics: TrialResult<M, C> | undefined;
  /** Its latest checkpoint. */
  readonly checkpoint: Checkpoint | undefined;
  /** Why it failed, if it ended in ERROR. */
  readonly error: TrialFailedError | undefined;
  /** Its directory. */
  readonly path: string;
  /** The trial itself (status, id, statistics). */
  readonly trial: Trial<C, M>;

  constructor(trial: Trial<C, M>) {
    this.trial = trial;
    this.config = trial.config;
    this.metrics = trial.lastResult;
    this.checkpoint = trial.checkpoint;
    this.error = trial.error;
    this.path = trial.path;
  }

  /** Every result the trial reported (from its result.json). */
  metricsRows(): TrialResult<M, C>[] {
    return readResults(this.path) as TrialResult<M, C>[];
  }

  /** The checkpoints kept in the trial's directory, with the results they were saved with. */
  get bestCheckpoints(): [Checkpoint, Record<string, unknown> | undefined][] {
    return this.trial.checkpoints.map((c) => [Checkpoint.fromDirectory(c.path), c.result]);
  }
}

/** The results of Tuner.fit(): a Result per trial. */
export class ResultGrid<C = Config, M = Metrics> implements Iterable<Result<C, M>> {
  private readonly results: Result<C, M>[];
  /** The experiment's directory (storagePath/name). */
  readonly experimentPath: string;
  private readonly metric: string | undefined;
  private readonly mode: Mode | undefined;
  private readonly trials: Trial<C, M>[];
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
    this.results = trials.map((t) => new Result(t));
    this.experimentPath = experimentPath;
    this.metric = metric;
    this.mode = mode;
  }

  /** The number of trials. */
  get length(): number {
    return this.results.length;
  }

  /** The i-th trial's Result (creation order). */
  get(i: number): Result<C, M> {
    const r = this.results[i];
    if (!r) throw new InvalidArgumentError(`ResultGrid.get(${i}): there are ${this.results.length} results`);
    return r;
  }

  /** The results, in trial creation order. */
  [Symbol.iterator](): Iterator<Result<C, M>> {
    return this.results[Symbol.iterator]();
  }

  /** The errors of the trials that ended in ERROR. */
  get errors(): TrialFailedError[] {
    return this.results.flatMap((r) => (r.error ? [r.error] : []));
  }

  /** How many trials ended in ERROR. */
  get numErrors(): number {
    return this.errors.length;
  }

  /** How many trials ended TERMINATED (finished or stopped, without error). */
  get numTerminated(): number {
    return this.trials.filter((t) => t.status === 'TERMINATED').length;
  }

  /** The best Result by metric and mode (default: tuneConfig's); see ExperimentAnalysis.getBestTrial for scope. */
  getBestResult(metric?: string, mode?: Mode, scope: Scope = 'last'): Result<C, M> {
    const m = metricAndMode(metric ?? this.metric, mode ?? this.mode, 'getBestResult()');
    const t = bestTrialOf(this.trials, m.metric, m.mode, scope);
    if (!t) throw new InvalidArgumentError(`no trial reported '${m.metric}': there is no best result`);
    return this.results[this.trials.indexOf(t)] as Result<C, M>; // results[i] is trials[i]'s
  }

  /** One row per trial: id, status, flattened last result and config, directory (Ray's get_dataframe). */
  rows(): Record<string, unknown>[] {
    return trialRows(this.trials);
  }
}
