// sunray/tune: Ray Tune for TypeScript, on sunray's public API. Hyperparameter search with
// trials as reused actors, grid/random/TPE search, FIFO/ASHA/median-stopping/PBT schedulers,
// results and checkpoints on disk in Ray's layout, and restore of interrupted experiments.

/**
 * Hyperparameter search (Ray Tune): search spaces, searchers, schedulers, results and checkpoints.
 *
 * @module sunray/tune
 */

export { ExperimentAnalysis } from './analysis.js';
export {
  ASHAScheduler,
  type ASHASchedulerOptions,
} from './asha.js';
export { BasicVariantGenerator, type BasicVariantGeneratorOptions } from './basic-variant.js';
export { Checkpoint } from './checkpoint.js';
export { ConcurrencyLimiter, type ConcurrencyLimiterOptions } from './concurrency-limiter.js';
export type { CheckpointConfig, ControllerStats as ExperimentStats } from './controller.js';
export { TrialFailedError, TuneError } from './errors.js';
export { MedianStoppingRule, type MedianStoppingRuleOptions } from './median-stopping.js';
export { type Mutation, PopulationBasedTraining, type PopulationBasedTrainingOptions } from './pbt.js';
export type { ProgressReporterOptions } from './progress.js';
export { type ResourcesPerTrial, withResources } from './resources.js';
export type { RestoreOptions } from './restore.js';
export type {
  AutoMetricName,
  AutoResultFields,
  Config,
  MetricName,
  Metrics,
  Mode,
  TrialResult,
} from './result.js';
export { Result, ResultGrid } from './result-grid.js';
export { type RunOptions, run, type TrainableFunction, type TrainableLike } from './run.js';
export {
  type ExploitDecision,
  FIFOScheduler,
  type SchedulerDecision,
  type TrialRunnerView,
  TrialScheduler,
  type TrialStatus,
  type TrialView,
} from './scheduler.js';
export {
  Categorical,
  choice,
  Domain,
  Float,
  GridSearch,
  gridSearch,
  Integer,
  lograndint,
  loguniform,
  Normal,
  qloguniform,
  qrandint,
  qrandn,
  quniform,
  type Resolved,
  randint,
  randn,
  SampleFrom,
  type SampleSpec,
  type SearchSpace,
  sampleFrom,
  uniform,
} from './search-space.js';
export { type Described, FINISHED, type RecordedTrial, Searcher, type SearchProperties } from './searcher.js';
export { getCheckpoint, getContext, type ReportOptions, report, type TrialContext } from './session.js';
export { type StopCriteria, Stopper } from './stoppers.js';
export { TPESearch, type TPESearchOptions } from './tpe.js';
export { Trainable } from './trainable.js';
export { withModule } from './trainable-def.js';
export { type MetricStats, type Scope, Trial, type TrialCheckpoint } from './trial.js';
export { type FailureConfig, type RunConfig, type TuneConfig, Tuner, type TunerOptions } from './tuner.js';
