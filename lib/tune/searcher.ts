// The search algorithm interface (Ray's Searcher): the controller asks it for the next
// trial's config and tells it how trials went. BasicVariantGenerator, ConcurrencyLimiter and
// TPESearch implement it; users may implement their own.
import type { Config, Mode, TrialResult } from './result.js';

/** What a searcher returns when it will suggest no more trials. */
export const FINISHED: unique symbol = Symbol('sunray.tune.Searcher.FINISHED');

/** What the controller tells a searcher before the first suggestion. */
export interface SearchProperties {
  /** The metric to optimize, if the experiment has one. */
  metric: string | undefined;
  /** 'min' or 'max', if the experiment has one. */
  mode: Mode | undefined;
  /** The search space given to run() / the Tuner (paramSpace). */
  config: Record<string, unknown>;
  /** numSamples given to run() / the Tuner. */
  numSamples: number;
}

/** A trial as a restored experiment recorded it: what a searcher rebuilds its state from. */
export interface RecordedTrial {
  /** The trial's id. */
  trialId: string;
  /** Its config. */
  config: Config;
  /** Where it was when the experiment stopped. */
  status: 'PENDING' | 'RUNNING' | 'PAUSED' | 'TERMINATED' | 'ERROR';
  /** Its latest result, if it reported. */
  lastResult: TrialResult | undefined;
}

/** How to rebuild a built-in searcher or scheduler from tuner.json: its kind and JSON options. */
export interface Described {
  /** Which built-in it is (its class name). */
  kind: string;
  /** The options to build it with, as JSON. */
  options: unknown;
}

/** A search algorithm: suggests configs, learns from results. */
export abstract class Searcher {
  /** Returned by suggest() when the searcher is done. */
  static readonly FINISHED: typeof FINISHED = FINISHED;
  /** The metric to optimize (from the searcher's options or the experiment's). */
  metric: string | undefined;
  /** Whether the metric is minimized or maximized. */
  mode: Mode | undefined;
  /**
   * True when numSamples is consumed by the searcher itself (BasicVariantGenerator repeats the
   * grid numSamples times); otherwise the controller stops asking after numSamples trials.
   */
  get handlesNumSamples(): boolean {
    return false;
  }

  /** Takes the experiment's metric, mode and search space; true if they were taken. */
  setSearchProperties(props: SearchProperties): boolean {
    this.metric ??= props.metric;
    this.mode ??= props.mode;
    return true;
  }

  /**
   * The config of the next trial (with id trialId), undefined when it cannot say yet (wait for
   * trials to finish), or FINISHED when there will be no more.
   */
  abstract suggest(trialId: string): Config | undefined | typeof FINISHED;

  /** An intermediate result of a trial. */
  onTrialResult(_trialId: string, _result: TrialResult): void {}

  /** A trial ended: with its last result, or with error true when it failed. */
  onTrialComplete(_trialId: string, _result: TrialResult | undefined, _error = false): void {}

  /** Rebuilds state from the trials of an experiment being restored (in the order they were created). */
  restoreFromTrials(_trials: readonly RecordedTrial[]): void {}

  /** Kind and options to rebuild it with on restore; undefined when it cannot be (pass it to restore again). */
  describe(): Described | undefined {
    return undefined;
  }
}
