// tune.run(): Ray's one-call API. Runs the experiment and returns an ExperimentAnalysis; by
// default (raiseOnFailedTrial) throws a TuneError carrying that analysis if any trial ended in
// ERROR, as Ray does.
import { ExperimentAnalysis } from './analysis.js';
import type { CheckpointConfig } from './controller.js';
import { TuneError } from './errors.js';
import { runExperiment } from './experiment.js';
import type { ProgressReporterOptions } from './progress.js';
import type { ResourcesPerTrial } from './resources.js';
import type { MetricName, Metrics, Mode } from './result.js';
import type { TrialScheduler } from './scheduler.js';
import type { Resolved, SearchSpace } from './search-space.js';
import type { Searcher } from './searcher.js';
import type { StopCriteria } from './stoppers.js';
import type { Trainable } from './trainable.js';
import type { Trial } from './trial.js';

/** A function trainable for configs of type C: returns its metrics, or reports them with tune.report(). */
// biome-ignore lint/suspicious/noConfusingVoidType: a trainable that only reports returns void (Promise<void>).
export type TrainableFunction<C, M> = (config: C) => M | void | Promise<M | void>;

/** A trainable: a function of the config, or a class extending Trainable. */
export type TrainableLike<C, M> = TrainableFunction<C, M> | (new () => Trainable<unknown, Metrics>);

/** Options of tune.run (Ray's names, in camelCase). */
export interface RunOptions<S, M> {
  /** The search space: domains (gridSearch, choice, uniform, ...), constants and nested objects. */
  config?: S;
  /** The metric to optimize: the default of analysis.bestConfig and friends, and of schedulers and searchers. */
  metric?: NoInfer<MetricName<M>>;
  /** 'max' or 'min'. */
  mode?: Mode;
  /** Resources each trial's actor holds: { cpu: 1 } by default; gpu and custom resources by name. */
  resourcesPerTrial?: ResourcesPerTrial;
  /** Times to repeat the grid (with grid search), or trials to run (other searchers). Default 1. */
  numSamples?: number;
  /** 0 silent, 1 a status line (default), 2 a table of trials, 3 also every result. */
  verbose?: 0 | 1 | 2 | 3;
  /** The trial scheduler (default FIFOScheduler). */
  scheduler?: TrialScheduler;
  /** The search algorithm (default BasicVariantGenerator: grid and random search). */
  searchAlg?: Searcher;
  /** When trials stop: { training_iteration: 10 }, a function (trialId, result) => boolean, or a Stopper. */
  stop?: StopCriteria;
  /** Trials running at once at most (default: as many as the cluster's resources fit). */
  maxConcurrentTrials?: number;
  /** Retries of a failed trial (from its latest checkpoint); -1: no limit. Default 0. */
  maxFailures?: number;
  /** Where experiments are kept (default ~/sunray_results). */
  storagePath?: string;
  /** The experiment's directory name (default: trainable name and date). */
  name?: string;
  /** Continue the experiment storagePath/name if it exists ('AUTO'), or require it (true). */
  resume?: boolean | 'AUTO';
  /** Run trial after trial in the same actors (default true). */
  reuseActors?: boolean;
  /** Checkpoints kept and, for class trainables, how often they are saved. */
  checkpointConfig?: CheckpointConfig;
  /** Throw a TuneError if a trial ended in ERROR (default true, as in Ray). */
  raiseOnFailedTrial?: boolean;
  /** Seconds the experiment may take; then its trials stop. */
  timeBudgetS?: number;
  /** Where and how often progress is printed. */
  progressReporter?: ProgressReporterOptions;
}

/**
 * Runs a hyperparameter search: one trial per config the searcher makes from `config`, each on
 * an actor holding resourcesPerTrial, results written under storagePath/name. The config type
 * a function trainable takes must accept the resolved search space.
 */
export async function run<const S extends SearchSpace = {}, M extends Metrics = Metrics>(
  trainable: TrainableLike<NoInfer<Resolved<S>>, M>,
  opts: RunOptions<S, M> = {},
): Promise<ExperimentAnalysis<Resolved<S>, M>> {
  const out = await runExperiment({
    trainable,
    paramSpace: opts.config as Record<string, unknown> | undefined,
    metric: opts.metric,
    mode: opts.mode,
    numSamples: opts.numSamples,
    searchAlg: opts.searchAlg,
    scheduler: opts.scheduler,
    maxConcurrentTrials: opts.maxConcurrentTrials,
    reuseActors: opts.reuseActors,
    resourcesPerTrial: opts.resourcesPerTrial,
    name: opts.name,
    storagePath: opts.storagePath,
    stop: opts.stop,
    checkpointConfig: opts.checkpointConfig,
    maxFailures: opts.maxFailures,
    failFast: false,
    verbose: opts.verbose,
    progressReporter: opts.progressReporter,
    timeBudgetS: opts.timeBudgetS,
    resume: opts.resume,
  });
  const analysis = new ExperimentAnalysis<Resolved<S>, M>(
    // The trials ran this trainable on this space: their configs and results are of these types.
    out.trials as Trial<Resolved<S>, M>[],
    out.path,
    out.metric,
    out.mode,
    out.stats,
  );
  const failed = analysis.errors;
  if (failed.length > 0 && (opts.raiseOnFailedTrial ?? true)) {
    const err = new TuneError(
      `${failed.length} of ${analysis.trials.length} trials ended in ERROR: ${failed
        .slice(0, 3)
        .map((t) => t.trialId)
        .join(', ')}${failed.length > 3 ? ', ...' : ''}. Their errors are in trial.error and error.txt; ` +
        'pass raiseOnFailedTrial: false to get the analysis without this error (it is in err.analysis).',
      { cause: failed[0]?.error },
    );
    err.analysis = analysis;
    throw err;
  }
  return analysis;
}
