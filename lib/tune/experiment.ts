// A new experiment, from options to finished trials: checks the options, makes the experiment
// directory and tuner.json, sizes the slots from the cluster's resources and runs it (or, with
// resume and the directory there, continues it as Tuner.restore does). tune.run and Tuner.fit
// both come here.
import { randomBytes } from 'node:crypto';
import * as sunray from '../index.js';
import { BasicVariantGenerator } from './basic-variant.js';
import type { CheckpointConfig } from './controller.js';
import { TuneError } from './errors.js';
import { type ExperimentOutcome, execute, type Settings } from './execute.js';
import type { ProgressReporterOptions } from './progress.js';
import { parseResources, type ResourcesPerTrial, resourcesOf, slots } from './resources.js';
import { restoreExperiment } from './restore.js';
import type { Mode } from './result.js';
import { FIFOScheduler, TrialScheduler } from './scheduler.js';
import { isPlainObject, spaceToJSON } from './search-space.js';
import { Searcher } from './searcher.js';
import { type StopCriteria, Stopper, toStopper } from './stoppers.js';
import { defaultStoragePath, ExperimentStorage } from './storage.js';
import { makeTrainableDef } from './trainable-def.js';

/** Everything an experiment is run with. */
export interface ExperimentSpec {
  trainable: unknown;
  paramSpace: Record<string, unknown> | undefined;
  metric: string | undefined;
  mode: Mode | undefined;
  numSamples: number | undefined;
  searchAlg: Searcher | undefined;
  scheduler: TrialScheduler | undefined;
  maxConcurrentTrials: number | undefined;
  reuseActors: boolean | undefined;
  resourcesPerTrial: ResourcesPerTrial | undefined;
  name: string | undefined;
  storagePath: string | undefined;
  stop: StopCriteria | undefined;
  checkpointConfig: CheckpointConfig | undefined;
  maxFailures: number | undefined;
  failFast: boolean | undefined;
  verbose: 0 | 1 | 2 | 3 | undefined;
  progressReporter: ProgressReporterOptions | undefined;
  timeBudgetS: number | undefined;
  /** tune.run's resume: continue the experiment at storagePath/name if it exists. */
  resume: boolean | 'AUTO' | undefined;
}

const pad = (n: number) => String(n).padStart(2, '0');
function nameDate(d = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}_${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}`;
}

function checkInt(v: unknown, what: string, min: number): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < min)) {
    throw new sunray.InvalidArgumentError(`${what} must be an integer >= ${min}, got ${String(v)}`);
  }
}

function checkMode(mode: unknown): void {
  if (mode !== undefined && mode !== 'min' && mode !== 'max') {
    throw new sunray.InvalidArgumentError(`mode must be 'min' or 'max', got ${JSON.stringify(mode)}`);
  }
}

/** Runs a new experiment, or (resume, with the directory there) continues it. */
export async function runExperiment(spec: ExperimentSpec): Promise<ExperimentOutcome> {
  checkMode(spec.mode);
  checkInt(spec.numSamples, 'numSamples', 1);
  checkInt(spec.maxConcurrentTrials, 'maxConcurrentTrials', 1);
  checkInt(spec.maxFailures, 'maxFailures', -1);
  if (spec.paramSpace !== undefined && !isPlainObject(spec.paramSpace)) {
    throw new sunray.InvalidArgumentError('config / paramSpace must be a plain object (the search space)');
  }
  if (spec.searchAlg !== undefined && !(spec.searchAlg instanceof Searcher)) {
    throw new sunray.InvalidArgumentError(
      'searchAlg must be a Searcher (BasicVariantGenerator, TPESearch, ConcurrencyLimiter...)',
    );
  }
  if (spec.scheduler !== undefined && !(spec.scheduler instanceof TrialScheduler)) {
    throw new sunray.InvalidArgumentError(
      'scheduler must be a TrialScheduler (FIFOScheduler, ASHAScheduler, ...)',
    );
  }
  const stopper = toStopper(spec.stop);
  const def = await makeTrainableDef(spec.trainable);
  const storagePath = spec.storagePath ?? defaultStoragePath();
  if (spec.resume && spec.name !== undefined) {
    const path = `${storagePath}/${spec.name}`;
    if (ExperimentStorage.exists(path)) {
      return restoreExperiment(path, spec.trainable, {
        ...(spec.paramSpace ? { paramSpace: spec.paramSpace } : {}),
        ...(spec.searchAlg ? { searchAlg: spec.searchAlg } : {}),
        ...(spec.scheduler ? { scheduler: spec.scheduler } : {}),
        ...(spec.stop ? { stop: spec.stop } : {}),
        ...(spec.verbose !== undefined ? { verbose: spec.verbose } : {}),
      });
    }
    if (spec.resume === true)
      throw new TuneError(`resume: true, but there is no experiment at ${path} to resume`);
  }
  const resources = parseResources(resourcesOf(spec.trainable) ?? spec.resourcesPerTrial);
  const paramSpace = spec.paramSpace ?? {};
  const searcher = spec.searchAlg ?? new BasicVariantGenerator();
  const scheduler = spec.scheduler ?? new FIFOScheduler();
  const numSamples = spec.numSamples ?? 1;
  if (!sunray.isInitialized()) await sunray.init();
  const maxConcurrent = slots(resources, spec.maxConcurrentTrials);

  let storage: ExperimentStorage;
  let name = spec.name ?? `${def.name}_${nameDate()}`;
  for (let n = 2; ; n++) {
    try {
      storage = ExperimentStorage.create(storagePath, name);
      break;
    } catch (err) {
      // Two unnamed experiments in the same second: the second gets a suffix.
      if (spec.name !== undefined || !(err instanceof TuneError) || n > 99) throw err;
      name = `${def.name}_${nameDate()}_${n}`;
    }
  }
  const space = spaceToJSON(paramSpace);
  const settings: Settings = {
    format: 'sunray-tune/1',
    name,
    experimentId: randomBytes(16).toString('hex'),
    idPrefix: randomBytes(3).toString('hex').slice(0, 5),
    trainable: { name: def.name, kind: def.kind },
    metric: spec.metric,
    mode: spec.mode,
    numSamples,
    paramSpace: space.json,
    paramSpaceHasFunctions: space.hasFunctions,
    searchAlg: searcher.describe() ?? null,
    searchAlgCustom: searcher.describe() === undefined,
    scheduler: scheduler.describe() ?? null,
    schedulerCustom: scheduler.describe() === undefined,
    stop:
      spec.stop === undefined
        ? null
        : typeof spec.stop === 'function' || spec.stop instanceof Stopper
          ? 'function'
          : { ...spec.stop },
    maxFailures: spec.maxFailures ?? 0,
    failFast: spec.failFast ?? false,
    reuseActors: spec.reuseActors ?? true,
    maxConcurrentTrials: spec.maxConcurrentTrials ?? null,
    resources,
    checkpointConfig: spec.checkpointConfig ?? {},
    verbose: spec.verbose ?? 1,
    timeBudgetS: spec.timeBudgetS ?? null,
    createdAt: new Date().toISOString(),
  };
  storage.writeSettings(settings);
  return execute(
    settings,
    storage,
    def,
    paramSpace,
    searcher,
    scheduler,
    stopper,
    maxConcurrent,
    [],
    spec.progressReporter,
  );
}
