// MedianStoppingRule (Golovin et al. 2017, Ray's): past the grace period, a trial whose best
// result so far is worse than the median of the other trials' running means up to the same
// time is stopped (or paused, without hardStop).
import { InvalidArgumentError } from '../index.js';
import type { Mode, TrialResult } from './result.js';
import { type SchedulerDecision, type TrialRunnerView, TrialScheduler, type TrialView } from './scheduler.js';
import type { Described } from './searcher.js';

/** Options of MedianStoppingRule (Ray's names and defaults). */
export interface MedianStoppingRuleOptions {
  /** The result field that measures time (default 'time_total_s'). */
  timeAttr?: string;
  /** The metric compared (default: the experiment's). */
  metric?: string;
  /** 'min' or 'max' (default: the experiment's). */
  mode?: Mode;
  /** No trial is stopped before this much timeAttr (default 60). */
  gracePeriod?: number;
  /** Other trials needed to compare with (default 3). */
  minSamplesRequired?: number;
  /** Stop the trial (default true), else pause it. */
  hardStop?: boolean;
}

/** Stops trials doing worse than the median of the others at the same point. */
export class MedianStoppingRule extends TrialScheduler {
  /** The result field that measures time. */
  readonly timeAttr: string;
  /** No trial is stopped before this much timeAttr. */
  readonly gracePeriod: number;
  /** Other trials needed to compare with. */
  readonly minSamplesRequired: number;
  /** Stop a trial that lags (true), else pause it. */
  readonly hardStop: boolean;
  /** Per trial: (time, signed score) of each result. */
  private readonly history = new Map<string, { t: number; s: number }[]>();
  private readonly stopped = new Set<string>();

  constructor(opts: MedianStoppingRuleOptions = {}) {
    super();
    this.timeAttr = opts.timeAttr ?? 'time_total_s';
    this.metric = opts.metric;
    this.mode = opts.mode;
    this.gracePeriod = opts.gracePeriod ?? 60;
    this.minSamplesRequired = opts.minSamplesRequired ?? 3;
    this.hardStop = opts.hardStop ?? true;
    if (!(this.gracePeriod >= 0))
      throw new InvalidArgumentError('MedianStoppingRule: gracePeriod must be >= 0');
    if (!Number.isInteger(this.minSamplesRequired) || this.minSamplesRequired < 1) {
      throw new InvalidArgumentError('MedianStoppingRule: minSamplesRequired must be an integer >= 1');
    }
  }

  onTrialResult(_runner: TrialRunnerView, trial: TrialView, result: TrialResult): SchedulerDecision {
    const t = (result as Record<string, unknown>)[this.timeAttr];
    const s = this.score(result);
    if (typeof t !== 'number' || s === undefined) return TrialScheduler.CONTINUE;
    if (this.stopped.has(trial.trialId)) return TrialScheduler.STOP;
    let h = this.history.get(trial.trialId);
    if (!h) this.history.set(trial.trialId, (h = []));
    h.push({ t, s });
    if (t < this.gracePeriod) return TrialScheduler.CONTINUE;
    const others: number[] = [];
    for (const [id, rs] of this.history) {
      if (id === trial.trialId || (rs[rs.length - 1]?.t ?? -Infinity) < t) continue;
      const scoped = rs.filter((r) => r.t >= this.gracePeriod && r.t <= t);
      if (scoped.length > 0) others.push(scoped.reduce((a, r) => a + r.s, 0) / scoped.length);
    }
    if (others.length < this.minSamplesRequired) return TrialScheduler.CONTINUE;
    const best = Math.max(...h.map((r) => r.s));
    if (best < median(others)) {
      this.stopped.add(trial.trialId);
      return this.hardStop ? TrialScheduler.STOP : TrialScheduler.PAUSE;
    }
    return TrialScheduler.CONTINUE;
  }

  override describe(): Described {
    return {
      kind: 'MedianStoppingRule',
      options: {
        timeAttr: this.timeAttr,
        metric: this.metric,
        mode: this.mode,
        gracePeriod: this.gracePeriod,
        minSamplesRequired: this.minSamplesRequired,
        hardStop: this.hardStop,
      },
    };
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const hi = s[m] ?? Number.NaN;
  return s.length % 2 ? hi : ((s[m - 1] ?? Number.NaN) + hi) / 2;
}
