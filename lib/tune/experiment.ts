// One experiment, new or restored, from options to finished trials: checks the options, makes
// the experiment directory and tuner.json (or reads them back and rebuilds the trials from
// the journal), sizes the actor pool from the cluster's resources, and runs the controller.
// tune.run and Tuner.fit both come here.
import { randomBytes } from 'node:crypto';
import * as sunray from '../index.js';
import { ActorPool, type TrialResources } from './actor-pool.js';
import { ASHAScheduler } from './asha.js';
import { BasicVariantGenerator } from './basic-variant.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { type CheckpointConfig, type ControllerStats, TuneController } from './controller.js';
import { TrialFailedError, TuneError } from './errors.js';
import { MedianStoppingRule } from './median-stopping.js';
import { PopulationBasedTraining } from './pbt.js';
import { ProgressReporter, type ProgressReporterOptions } from './progress.js';
import type { Mode } from './result.js';
import { FIFOScheduler, TrialScheduler } from './scheduler.js';
import { isPlainObject, spaceFromJSON, spaceToJSON } from './search-space.js';
import { type Described, type RecordedTrial, Searcher } from './searcher.js';
import { type StopCriteria, Stopper, toStopper } from './stoppers.js';
import { defaultStoragePath, ExperimentStorage, readResults } from './storage.js';
import { TPESearch } from './tpe.js';
import { makeTrainableDef } from './trainable-def.js';
import { Trial } from './trial.js';
import { leavesOf } from './variants.js';

/** Resources each trial's actor holds (Ray's resources_per_trial): cpu (default 1), gpu, and custom ones by name. */
export type ResourcesPerTrial = { cpu?: number; gpu?: number } & Record<string, number | undefined>;

const RESOURCES = Symbol.for('sunray.tune.resources');

/** Sets the resources of a trainable's trials (Ray's tune.with_resources); returns the trainable. */
export function withResources<T extends Function>(trainable: T, resources: ResourcesPerTrial): T {
  parseResources(resources);
  Object.defineProperty(trainable, RESOURCES, { value: resources, configurable: true });
  return trainable;
}

function parseResources(r: ResourcesPerTrial | undefined): TrialResources {
  const out: TrialResources = { cpu: 1, gpu: 0, custom: {} };
  if (r === undefined) return out;
  if (!isPlainObject(r))
    throw new sunray.InvalidArgumentError('resourcesPerTrial must be an object like { cpu: 1, gpu: 0 }');
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new sunray.InvalidArgumentError(`resourcesPerTrial.${k} must be a number >= 0, got ${String(v)}`);
    }
    if (k === 'cpu' || k === 'CPU') out.cpu = v;
    else if (k === 'gpu' || k === 'GPU') out.gpu = v;
    else out.custom[k] = v;
  }
  return out;
}

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

/** A finished experiment. */
export interface ExperimentOutcome {
  trials: Trial[];
  path: string;
  metric: string | undefined;
  mode: Mode | undefined;
  stats: ControllerStats;
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

/** How many trials can run at once: what fits in the cluster's resources, within maxConcurrentTrials. */
function slots(res: TrialResources, maxConcurrentTrials: number | undefined): number {
  const total = sunray.clusterResources();
  const demand: Record<string, number> = { ...res.custom };
  if (res.cpu > 0) demand.CPU = res.cpu;
  if (res.gpu > 0) demand.GPU = res.gpu;
  let fit = Infinity;
  for (const [k, v] of Object.entries(demand)) {
    if (v <= 0) continue;
    fit = Math.min(fit, Math.floor((total[k] ?? 0) / v + 1e-9));
  }
  if (fit === 0) {
    throw new sunray.InvalidArgumentError(
      `a trial asks for ${JSON.stringify(demand)} but the whole cluster has ${JSON.stringify(total)}: no trial could ever start. ` +
        'Ask for less (resourcesPerTrial), or start sunray with more (init({ numCpus, resources }))',
    );
  }
  if (fit === Infinity) fit = Math.max(1, Math.floor(total.CPU ?? 1));
  return Math.max(1, Math.min(fit, maxConcurrentTrials ?? Infinity));
}

function rebuildSearcher(d: Described | null | undefined): Searcher | undefined {
  if (!d) return undefined;
  const o = d.options as any;
  switch (d.kind) {
    case 'BasicVariantGenerator':
      return new BasicVariantGenerator(o);
    case 'TPESearch':
      return new TPESearch({
        ...o,
        space: o.space === undefined ? undefined : (spaceFromJSON(o.space) as Record<string, unknown>),
      });
    case 'ConcurrencyLimiter': {
      const inner = rebuildSearcher(o.searcher);
      return inner && new ConcurrencyLimiter(inner, { maxConcurrent: o.maxConcurrent, batch: o.batch });
    }
    default:
      return undefined;
  }
}

function rebuildScheduler(d: Described | null | undefined): TrialScheduler | undefined {
  if (!d) return undefined;
  const o = d.options as any;
  switch (d.kind) {
    case 'FIFOScheduler':
      return new FIFOScheduler();
    case 'ASHAScheduler':
      return new ASHAScheduler(o);
    case 'MedianStoppingRule':
      return new MedianStoppingRule(o);
    case 'PopulationBasedTraining':
      return new PopulationBasedTraining({
        ...o,
        hyperparamMutations: spaceFromJSON(o.hyperparamMutations) as any,
      });
    default:
      return undefined;
  }
}

/** The settings saved in tuner.json. */
interface Settings {
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
  const resources = parseResources(
    (spec.trainable as Record<symbol, ResourcesPerTrial | undefined>)[RESOURCES] ?? spec.resourcesPerTrial,
  );
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

/** Continues the experiment at path: finished trials stay as they are; the others resume from their latest checkpoint. */
export async function restoreExperiment(
  path: string,
  trainable: unknown,
  opts: RestoreOptions = {},
): Promise<ExperimentOutcome> {
  const storage = ExperimentStorage.open(path);
  let settings: Settings;
  try {
    settings = storage.readSettings();
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
      t.recordResult(r as any);
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

async function execute(
  s: Settings,
  storage: ExperimentStorage,
  def: Awaited<ReturnType<typeof makeTrainableDef>>,
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
      for (const r of readResults(t.path)) scheduler.onTrialResult(view, t, r as any);
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
