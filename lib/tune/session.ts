// The trainable's side of a trial (in the worker): tune.report(), tune.getCheckpoint() and
// tune.getContext() find the trial they are called for through an AsyncLocalStorage, kept on
// globalThis so that every copy of this module in a process (the package's, a bundled one)
// sees the same trial.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Checkpoint } from './checkpoint.js';
import { TuneError } from './errors.js';
import type { Metrics } from './result.js';

/** What a trainable can know about the trial it runs. */
export interface TrialContext {
  /** The trial's id (as in its directory name and results). */
  readonly trialId: string;
  /** The trial's name: trainable name and id. */
  readonly trialName: string;
  /** The experiment's name (its directory under storagePath). */
  readonly experimentName: string;
  /** The trial's directory, on the driver's node. */
  readonly trialDir: string;
  /** The trial's config. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Options of tune.report. */
export interface ReportOptions {
  /** A checkpoint saved with this result (Checkpoint.fromDict(value) or Checkpoint.fromDirectory(dir)). */
  checkpoint?: Checkpoint;
}

/** One trial's session, as the trial actor runs it. */
export interface Session {
  readonly context: TrialContext;
  /** The checkpoint the trial was restored from, if any. */
  readonly checkpoint: Checkpoint | undefined;
  report(metrics: Metrics, opts: ReportOptions | undefined): Promise<void>;
}

const KEY = Symbol.for('sunray.tune.session');
type Holder = { [KEY]?: AsyncLocalStorage<Session> };

/** The storage sessions are found in (one per process). */
export function sessionStorage(): AsyncLocalStorage<Session> {
  const g = globalThis as Holder;
  g[KEY] ??= new AsyncLocalStorage<Session>();
  return g[KEY];
}

function current(fn: string): Session {
  const s = sessionStorage().getStore();
  if (!s) {
    throw new TuneError(
      `tune.${fn}() was called outside a trial: call it inside a trainable run by tune.run() or a Tuner's fit()`,
    );
  }
  return s;
}

/**
 * Reports one iteration's metrics (and optionally a checkpoint) to Tune. Await it: it resolves
 * when Tune lets the trial go on; a trial that a scheduler stops stays suspended here and is
 * dropped (its `finally` blocks do not run: use a class trainable's cleanup() for that).
 */
export function report(metrics: Metrics, opts?: ReportOptions): Promise<void> {
  return current('report').report(metrics, opts);
}

/** The checkpoint this trial was restored from (after a failure, PBT's exploit, or Tuner.restore), if any. */
export function getCheckpoint(): Checkpoint | undefined {
  return current('getCheckpoint').checkpoint;
}

/** The running trial's id, name, directory and config. */
export function getContext(): TrialContext {
  return current('getContext').context;
}
