// Tuner.restore: an experiment directory back to a running experiment. tuner.json gives the
// settings (and rebuilds built-in searchers and schedulers from their kind and options), the
// journal gives the trials (created, checkpointed, ended), result.json their results. Trials
// that ended stay as they are; the others are PENDING, to resume from their latest checkpoint.
import * as sunray from '../index.js';
import { ASHAScheduler, type ASHASchedulerOptions } from './asha.js';
import { BasicVariantGenerator, type BasicVariantGeneratorOptions } from './basic-variant.js';
import { ConcurrencyLimiter, type ConcurrencyLimiterOptions } from './concurrency-limiter.js';
import { TrialFailedError, TuneError } from './errors.js';
import { type ExperimentOutcome, execute, type Settings } from './execute.js';
import { MedianStoppingRule, type MedianStoppingRuleOptions } from './median-stopping.js';
import { PopulationBasedTraining, type PopulationBasedTrainingOptions } from './pbt.js';
import { slots } from './resources.js';
import { FIFOScheduler, type TrialScheduler } from './scheduler.js';
import { spaceFromJSON } from './search-space.js';
import type { Described, Searcher } from './searcher.js';
import { type StopCriteria, toStopper } from './stoppers.js';
import { ExperimentStorage, readResults } from './storage.js';
import { TPESearch, type TPESearchOptions } from './tpe.js';
import { makeTrainableDef } from './trainable-def.js';
import { Trial } from './trial.js';

/** What Tuner.restore may give again: what tuner.json cannot hold (functions, custom classes). */
export interface RestoreOptions {
  /** The search space, if it held sampleFrom() functions. */
  paramSpace?: Record<string, unknown>;
  /** The searcher, if it was not a built-in one (or had functions). */
  searchAlg?: Searcher;
  /** The scheduler, if it was not a built-in one (or had functions). */
  scheduler?: TrialScheduler;
  /** The stop criteria, if they were a function or a Stopper. */
  stop?: StopCriteria;
  /** Trials that ended in ERROR run again from their latest checkpoint (default false). */
  resumeErrored?: boolean;
  /** Trials that ended in ERROR run again from the start (default false). */
  restartErrored?: boolean;
  /** Progress output (default: as saved). */
  verbose?: 0 | 1 | 2 | 3;
}

// Each built-in's describe() saved its constructor's options (spaces as JSON): they are read back as those.
function rebuildSearcher(d: Described | null | undefined): Searcher | undefined {
  if (!d) return undefined;
  switch (d.kind) {
    case 'BasicVariantGenerator':
      return new BasicVariantGenerator(d.options as BasicVariantGeneratorOptions);
    case 'TPESearch': {
      const o = d.options as TPESearchOptions;
      return new TPESearch({
        ...o,
        space: o.space === undefined ? undefined : (spaceFromJSON(o.space) as Record<string, unknown>),
      });
    }
    case 'ConcurrencyLimiter': {
      const o = d.options as ConcurrencyLimiterOptions & { searcher?: Described };
      const inner = rebuildSearcher(o.searcher);
      return inner && new ConcurrencyLimiter(inner, { maxConcurrent: o.maxConcurrent, batch: o.batch });
    }
    default:
      return undefined;
  }
}

function rebuildScheduler(d: Described | null | undefined): TrialScheduler | undefined {
  if (!d) return undefined;
  switch (d.kind) {
    case 'FIFOScheduler':
      return new FIFOScheduler();
    case 'ASHAScheduler':
      return new ASHAScheduler(d.options as ASHASchedulerOptions);
    case 'MedianStoppingRule':
      return new MedianStoppingRule(d.options as MedianStoppingRuleOptions);
    case 'PopulationBasedTraining': {
      const o = d.options as PopulationBasedTrainingOptions;
      return new PopulationBasedTraining({
        ...o,
        hyperparamMutations: spaceFromJSON(
          o.hyperparamMutations,
        ) as PopulationBasedTrainingOptions['hyperparamMutations'],
      });
    }
    default:
      return undefined;
  }
}

/** Continues the experiment at path: finished trials stay as they are; the others resume from their latest checkpoint. */
export async function restoreExperiment(
  path: string,
  trainable: unknown,
  opts: RestoreOptions = {},
): Promise<ExperimentOutcome> {
  const storage = ExperimentStorage.open(path);
  let settings: Settings;
  try {
    settings = storage.readSettings() as Settings; // checked by its format below
  } catch (err) {
    storage.close();
    throw new TuneError(`cannot read ${storage.path}/tuner.json: ${(err as Error).message}`, { cause: err });
  }
  try {
    if (settings.format !== 'sunray-tune/1')
      throw new TuneError(`${storage.path}/tuner.json is not in a format this version reads`);
    const def = await makeTrainableDef(trainable);
    if (def.kind !== settings.trainable.kind) {
      throw new sunray.InvalidArgumentError(
        `the experiment ran a ${settings.trainable.kind} trainable (${settings.trainable.name}); restore it with the same trainable`,
      );
    }
    if (settings.paramSpaceHasFunctions && !opts.paramSpace) {
      throw new TuneError(
        'the search space held sampleFrom() functions, which tuner.json cannot keep: pass it again (Tuner.restore(path, trainable, { paramSpace }))',
      );
    }
    const paramSpace = opts.paramSpace ?? (spaceFromJSON(settings.paramSpace) as Record<string, unknown>);
    const searcher = opts.searchAlg ?? rebuildSearcher(settings.searchAlg);
    if (!searcher)
      throw new TuneError(
        'the experiment used a custom searcher: pass it again (Tuner.restore(path, trainable, { searchAlg }))',
      );
    const scheduler = opts.scheduler ?? rebuildScheduler(settings.scheduler);
    if (!scheduler)
      throw new TuneError(
        'the experiment used a custom scheduler: pass it again (Tuner.restore(path, trainable, { scheduler }))',
      );
    if (settings.stop === 'function' && !opts.stop) {
      throw new TuneError(
        'the experiment stopped trials by a function or Stopper: pass it again (Tuner.restore(path, trainable, { stop }))',
      );
    }
    const stopper = toStopper(
      opts.stop ?? (settings.stop === 'function' ? undefined : (settings.stop ?? undefined)),
    );
    const trials = trialsFromJournal(storage, def.name, opts);
    if (opts.verbose !== undefined) settings.verbose = opts.verbose;
    if (!sunray.isInitialized()) await sunray.init();
    const maxConcurrent = slots(settings.resources, settings.maxConcurrentTrials ?? undefined);
    storage.log({ e: 'resume', at: new Date().toISOString() });
    return await execute(
      settings,
      storage,
      def,
      paramSpace,
      searcher,
      scheduler,
      stopper,
      maxConcurrent,
      trials,
      undefined,
    );
  } catch (err) {
    storage.close();
    throw err;
  }
}

/** The trials as the journal recorded them, with their results read back from result.json. */
function trialsFromJournal(storage: ExperimentStorage, trainableName: string, opts: RestoreOptions): Trial[] {
  const trials = new Map<string, Trial>();
  for (const ev of storage.readJournal()) {
    if (ev.e === 'trial') {
      const t = new Trial(
        ev.id,
        ev.index,
        ev.config as Record<string, unknown>,
        `${trainableName}_${ev.id}`,
        ev.dir,
        `${storage.path}/${ev.dir}`,
      );
      trials.set(ev.id, t);
      continue;
    }
    if (!('id' in ev)) continue;
    const t = trials.get(ev.id);
    if (!t) continue;
    if (ev.e === 'ckpt') {
      t.checkpoints.push({
        name: ev.name,
        path: `${t.path}/${ev.name}`,
        iteration: ev.iteration,
        timeTotal: ev.timeTotal,
        result: undefined,
      });
      t.checkpointCount = Math.max(t.checkpointCount, Number(ev.name.slice('checkpoint_'.length)) + 1);
    } else if (ev.e === 'ckpt-del') {
      const i = t.checkpoints.findIndex((c) => c.name === ev.name);
      if (i >= 0) t.checkpoints.splice(i, 1);
    } else if (ev.e === 'config') t.config = ev.config as Record<string, unknown>;
    else if (ev.e === 'status') {
      t.status = ev.status as Trial['status'];
      t.numFailures = ev.failures;
      t.error = ev.error ? new TrialFailedError(ev.error, t.trialId, ev.failures) : undefined;
    }
  }
  for (const t of trials.values()) {
    const byCheckpoint = new Map(t.checkpoints.map((c) => [c.name, c]));
    for (const r of readResults(t.path)) {
      t.recordResult(r);
      const ck =
        typeof r.checkpoint_dir_name === 'string' ? byCheckpoint.get(r.checkpoint_dir_name) : undefined;
      if (ck) ck.result = r;
    }
    if (t.status === 'ERROR' && (opts.resumeErrored || opts.restartErrored)) {
      if (opts.restartErrored) t.checkpoints.length = 0;
      t.status = 'PENDING';
      t.error = undefined;
      t.numFailures = 0;
    }
    if (t.status !== 'TERMINATED' && t.status !== 'ERROR') t.status = 'PENDING';
  }
  return [...trials.values()].sort((a, b) => a.index - b.index);
}
