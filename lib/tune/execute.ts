// Running an experiment whose directory is ready (new, or restored with its trials): the
// searcher and scheduler get the search properties (a restored scheduler sees every recorded
// result again), then the controller runs with an actor pool and a progress reporter.
import { ActorPool, type TrialResources } from './actor-pool.js';
import { BasicVariantGenerator } from './basic-variant.js';
import { type CheckpointConfig, type ControllerStats, TuneController } from './controller.js';
import { ProgressReporter, type ProgressReporterOptions } from './progress.js';
import type { Mode } from './result.js';
import type { TrialScheduler } from './scheduler.js';
import type { Described, RecordedTrial, Searcher } from './searcher.js';
import type { Stopper } from './stoppers.js';
import { type ExperimentStorage, readResults } from './storage.js';
import type { TrainableDef } from './trainable-def.js';
import type { Trial } from './trial.js';
import { leavesOf } from './variants.js';

/** A finished experiment. */
export interface ExperimentOutcome {
  trials: Trial[];
  path: string;
  metric: string | undefined;
  mode: Mode | undefined;
  stats: ControllerStats;
}

/** The settings saved in tuner.json. */
export interface Settings {
  format: 'sunray-tune/1';
  name: string;
  experimentId: string;
  idPrefix: string;
  trainable: { name: string; kind: string };
  metric: string | undefined;
  mode: Mode | undefined;
  numSamples: number;
  paramSpace: unknown;
  paramSpaceHasFunctions: boolean;
  searchAlg: Described | null;
  searchAlgCustom: boolean;
  scheduler: Described | null;
  schedulerCustom: boolean;
  stop: Record<string, number> | 'function' | null;
  maxFailures: number;
  failFast: boolean;
  reuseActors: boolean;
  maxConcurrentTrials: number | null;
  resources: TrialResources;
  checkpointConfig: CheckpointConfig;
  verbose: 0 | 1 | 2 | 3;
  timeBudgetS: number | null;
  createdAt: string;
}

/** Runs the experiment's trials to their end. */
export async function execute(
  s: Settings,
  storage: ExperimentStorage,
  def: TrainableDef,
  paramSpace: Record<string, unknown>,
  searcher: Searcher,
  scheduler: TrialScheduler,
  stopper: Stopper | undefined,
  maxConcurrent: number,
  restored: Trial[],
  reporterOpts: ProgressReporterOptions | undefined,
): Promise<ExperimentOutcome> {
  const leaves = leavesOf(paramSpace);
  searcher.setSearchProperties({
    metric: s.metric,
    mode: s.mode,
    config: paramSpace,
    numSamples: s.numSamples,
  });
  scheduler.setSearchProperties(s.metric, s.mode);
  if (restored.length > 0) {
    const records: RecordedTrial[] = restored.map((t) => ({
      trialId: t.trialId,
      config: t.config,
      status: t.status,
      lastResult: t.lastResult,
    }));
    searcher.restoreFromTrials(records);
    // The scheduler's state (rungs, histories) is rebuilt by showing it every recorded result again.
    const view = { getTrials: () => restored, getWaitingTrials: () => [] };
    for (const t of restored) {
      scheduler.onTrialAdd(view, t);
      for (const r of readResults(t.path)) scheduler.onTrialResult(view, t, r);
      if (t.status === 'TERMINATED') scheduler.onTrialComplete(view, t, t.lastResult);
      else if (t.status === 'ERROR') scheduler.onTrialError(view, t);
    }
  }
  const total = searcher instanceof BasicVariantGenerator ? searcher.totalSamples : s.numSamples;
  const reporter = new ProgressReporter(
    { ...reporterOpts, verbose: reporterOpts?.verbose ?? s.verbose },
    s.metric,
    s.mode,
    leaves,
    total,
    storage.path,
  );
  const pool = new ActorPool(s.resources, s.reuseActors);
  const controller = new TuneController({
    def,
    searcher,
    scheduler,
    storage,
    pool,
    experimentName: s.name,
    experimentId: s.experimentId,
    idPrefix: s.idPrefix,
    numSamples: s.numSamples,
    maxConcurrent,
    maxFailures: s.maxFailures,
    failFast: s.failFast,
    stopper,
    checkpointConfig: s.checkpointConfig,
    reporter,
    leaves,
    timeBudgetS: s.timeBudgetS ?? undefined,
    restored,
  });
  await controller.run();
  return {
    trials: controller.trials as Trial[],
    path: storage.path,
    metric: s.metric,
    mode: s.mode,
    stats: controller.stats,
  };
}
