// The trial scheduler interface (Ray's TrialScheduler): after each result it decides whether
// a trial goes on, pauses, stops, or (PBT) restarts from another trial's checkpoint with a new
// config. FIFOScheduler, the default, lets every trial run to its end.
import type { Config, Mode, TrialResult } from './result.js';
import type { Described } from './searcher.js';

/** A trial's status, as in Ray. */
export type TrialStatus = 'PENDING' | 'RUNNING' | 'PAUSED' | 'TERMINATED' | 'ERROR';

/** What schedulers see of a trial. */
export interface TrialView {
  /** The trial's id. */
  readonly trialId: string;
  /** Its config. */
  readonly config: Config;
  /** Where it is: PENDING, RUNNING, PAUSED, TERMINATED or ERROR. */
  readonly status: TrialStatus;
  /** Its latest result, if it reported. */
  readonly lastResult: TrialResult | undefined;
  /** Whether it has a checkpoint to restore from (PBT copies only from trials that have one). */
  readonly hasCheckpoint: boolean;
}

/** What schedulers see of the experiment: its trials. */
export interface TrialRunnerView {
  /** Every trial, in creation order. */
  getTrials(): readonly TrialView[];
  /** Trials waiting for a slot: PENDING ones first, then PAUSED ones, each in creation order. */
  getWaitingTrials(): readonly TrialView[];
}

/** Restart the trial from donor's latest checkpoint with config (PBT's exploit and explore). */
export interface ExploitDecision {
  /** What to do: copy the donor and restart (the only action). */
  readonly action: 'EXPLOIT';
  /** The trial whose checkpoint is copied. */
  readonly donorTrialId: string;
  /** The new config (the donor's, perturbed). */
  readonly config: Config;
}

/** A scheduler's decision about a trial after a result. */
export type SchedulerDecision = 'CONTINUE' | 'PAUSE' | 'STOP' | ExploitDecision;

/** Decides, result by result, which trials go on. */
export abstract class TrialScheduler {
  /** Keep running the trial. */
  static readonly CONTINUE = 'CONTINUE' as const;
  /** Pause it (its actor is freed; it resumes later from its latest checkpoint). */
  static readonly PAUSE = 'PAUSE' as const;
  /** End it now (TERMINATED). */
  static readonly STOP = 'STOP' as const;

  /** The metric decisions are based on (the scheduler's option, or the experiment's). */
  metric: string | undefined;
  /** Whether lower ('min') or higher ('max') is better. */
  mode: Mode | undefined;

  /** Takes the experiment's metric and mode where the scheduler has none of its own. */
  setSearchProperties(metric: string | undefined, mode: Mode | undefined): boolean {
    this.metric ??= metric;
    this.mode ??= mode;
    return true;
  }

  /** A trial was created. */
  onTrialAdd(_runner: TrialRunnerView, _trial: TrialView): void {}

  /** A trial reported: what to do with it. */
  abstract onTrialResult(runner: TrialRunnerView, trial: TrialView, result: TrialResult): SchedulerDecision;

  /** A trial ended by itself, with its last result. */
  onTrialComplete(_runner: TrialRunnerView, _trial: TrialView, _result: TrialResult | undefined): void {}

  /** A trial failed for good. */
  onTrialError(_runner: TrialRunnerView, _trial: TrialView): void {}

  /** A trial was stopped by a decision or a stop criterion. */
  onTrialRemove(_runner: TrialRunnerView, _trial: TrialView): void {}

  /** Which waiting trial runs next when a slot frees: the first PENDING, else the first PAUSED. */
  chooseTrialToRun(runner: TrialRunnerView): TrialView | undefined {
    return runner.getWaitingTrials()[0];
  }

  /** Kind and options to rebuild it with on restore; undefined when it cannot be. */
  describe(): Described | undefined {
    return undefined;
  }

  /** The metric of a result, signed so that higher is better; undefined if missing. */
  protected score(result: TrialResult): number | undefined {
    if (!this.metric) return undefined;
    const v = (result as Record<string, unknown>)[this.metric];
    if (typeof v !== 'number' || Number.isNaN(v)) return undefined;
    return this.mode === 'min' ? -v : v;
  }
}

/** Runs every trial to its end, in the order they were created (the default). */
export class FIFOScheduler extends TrialScheduler {
  onTrialResult(): SchedulerDecision {
    return TrialScheduler.CONTINUE;
  }
  override describe(): Described {
    return { kind: 'FIFOScheduler', options: {} };
  }
}
