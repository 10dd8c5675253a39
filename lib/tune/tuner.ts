// The Tuner (Ray's Tuner API): a trainable, a param space, a TuneConfig and a RunConfig;
// fit() runs the experiment and returns a ResultGrid; Tuner.restore() continues an experiment
// that was interrupted (a killed driver included), without rerunning finished trials.
import type { CheckpointConfig } from './controller.js';
import { runExperiment } from './experiment.js';
import type { ProgressReporterOptions } from './progress.js';
import { type RestoreOptions, restoreExperiment } from './restore.js';
import type { MetricName, Metrics, Mode } from './result.js';
import { ResultGrid } from './result-grid.js';
import type { TrainableLike } from './run.js';
import type { TrialScheduler } from './scheduler.js';
import type { Resolved, SearchSpace } from './search-space.js';
import type { Searcher } from './searcher.js';
import type { StopCriteria } from './stoppers.js';
import { ExperimentStorage } from './storage.js';
import type { Trial } from './trial.js';

/** How to search (Ray's TuneConfig). */
export interface TuneConfig<M = Metrics> {
  /** The metric to optimize (a key of the trainable's results): the default of best-of queries and schedulers. */
  metric?: NoInfer<MetricName<M>>;
  /** 'min' or 'max': whether lower or higher values of metric are better. */
  mode?: Mode;
  /** Times to repeat the grid (grid search), or trials to run (other searchers). Default 1. */
  numSamples?: number;
  /** Decides after each result whether a trial goes on, pauses or stops (default FIFOScheduler: every trial runs to its end). */
  scheduler?: TrialScheduler;
  /** Suggests the trials' configs (default BasicVariantGenerator: grid and random search over paramSpace). */
  searchAlg?: Searcher;
  /** Trials running at once at most (default: as many as the cluster's resources fit). */
  maxConcurrentTrials?: number;
  /** Run trial after trial in the same actors (default true). */
  reuseActors?: boolean;
  /** Seconds the experiment may take; then its trials stop. */
  timeBudgetS?: number;
}

/** What to do when trials fail (Ray's FailureConfig). */
export interface FailureConfig {
  /** Retries of a failed trial (from its latest checkpoint); -1: no limit. Default 0. */
  maxFailures?: number;
  /** End the experiment at the first trial that ends in ERROR (default false). */
  failFast?: boolean;
}

/** Where and how the experiment runs (Ray's RunConfig). */
export interface RunConfig {
  /** The experiment's directory name (default: trainable name and date). */
  name?: string;
  /** Where experiments are kept (default ~/sunray_results). */
  storagePath?: string;
  /** When trials stop: result fields' values to reach, a function of the result, or a Stopper. */
  stop?: StopCriteria;
  /** How many checkpoints each trial keeps, and which. */
  checkpointConfig?: CheckpointConfig;
  /** What to do when trials fail. */
  failureConfig?: FailureConfig;
  /** 0 silent, 1 a status line (default), 2 a table of trials, 3 also every result. */
  verbose?: 0 | 1 | 2 | 3;
  /** Where and how progress is printed. */
  progressReporter?: ProgressReporterOptions;
}

/** Options of new Tuner(). Resources per trial: tune.withResources(trainable, { cpu, gpu }). */
export interface TunerOptions<S, M> {
  /** The search space: a config whose values may be domains (tune.uniform, tune.gridSearch, ...). */
  paramSpace?: S;
  /** What to optimize and how to search. */
  tuneConfig?: TuneConfig<M>;
  /** Where and how the experiment runs. */
  runConfig?: RunConfig;
}

/** Runs a hyperparameter search with fit(); continue an interrupted one with Tuner.restore(). */
export class Tuner<const S extends SearchSpace = {}, M extends Metrics = Metrics> {
  private readonly trainable: unknown;
  private readonly opts: TunerOptions<S, M>;
  private readonly restorePath: string | undefined;
  private readonly restoreOpts: RestoreOptions | undefined;

  constructor(trainable: TrainableLike<NoInfer<Resolved<S>>, M>, opts: TunerOptions<S, M> = {}) {
    this.trainable = trainable;
    this.opts = opts;
    this.restorePath = undefined;
    this.restoreOpts = undefined;
  }

  /**
   * A Tuner that continues the experiment at path (storagePath/name): trials that ended stay as
   * they are, the others resume from their latest checkpoint, and the searcher goes on where it
   * stopped. trainable must be the one the experiment ran; opts gives again what tuner.json
   * cannot keep (functions, custom searchers and schedulers).
   */
  static restore<M extends Metrics = Metrics>(
    path: string,
    trainable: TrainableLike<never, M>,
    opts: RestoreOptions = {},
  ): Tuner<SearchSpace, M> {
    // Its configs are whatever the experiment's space made: the trainable takes them as they come.
    const t = new Tuner<SearchSpace, M>(trainable as TrainableLike<Resolved<SearchSpace>, M>, {});
    (t as unknown as { restorePath: string }).restorePath = path;
    (t as unknown as { restoreOpts: RestoreOptions }).restoreOpts = opts;
    return t;
  }

  /** Whether path holds an experiment Tuner.restore can continue. */
  static canRestore(path: string): boolean {
    return ExperimentStorage.exists(path);
  }

  /** Runs (or continues) the experiment; a ResultGrid of every trial, failed ones included. */
  async fit(): Promise<ResultGrid<Resolved<S>, M>> {
    const out = this.restorePath
      ? await restoreExperiment(this.restorePath, this.trainable, this.restoreOpts)
      : await runExperiment({
          trainable: this.trainable,
          paramSpace: this.opts.paramSpace as Record<string, unknown> | undefined,
          metric: this.opts.tuneConfig?.metric,
          mode: this.opts.tuneConfig?.mode,
          numSamples: this.opts.tuneConfig?.numSamples,
          searchAlg: this.opts.tuneConfig?.searchAlg,
          scheduler: this.opts.tuneConfig?.scheduler,
          maxConcurrentTrials: this.opts.tuneConfig?.maxConcurrentTrials,
          reuseActors: this.opts.tuneConfig?.reuseActors,
          timeBudgetS: this.opts.tuneConfig?.timeBudgetS,
          resourcesPerTrial: undefined,
          name: this.opts.runConfig?.name,
          storagePath: this.opts.runConfig?.storagePath,
          stop: this.opts.runConfig?.stop,
          checkpointConfig: this.opts.runConfig?.checkpointConfig,
          maxFailures: this.opts.runConfig?.failureConfig?.maxFailures,
          failFast: this.opts.runConfig?.failureConfig?.failFast,
          verbose: this.opts.runConfig?.verbose,
          progressReporter: this.opts.runConfig?.progressReporter,
          resume: undefined,
        });
    // The trials ran this trainable on this space: their configs and results are of these types.
    const trials = out.trials as Trial<Resolved<S>, M>[];
    return new ResultGrid<Resolved<S>, M>(trials, out.path, out.metric, out.mode, out.stats);
  }
}
