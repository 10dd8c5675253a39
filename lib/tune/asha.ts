// ASHA (asynchronous successive halving, Li et al. 2018, Ray's ASHAScheduler): rungs at
// gracePeriod·rf^k of timeAttr; a trial reaching a rung goes on only if its metric is in the
// top 1/rf of the values recorded at that rung so far, so bad trials stop early without waiting
// for a whole generation to finish. Every trial stops at maxT.
import { InvalidArgumentError } from '../index.js';
import type { Mode, TrialResult } from './result.js';
import { type SchedulerDecision, type TrialRunnerView, TrialScheduler, type TrialView } from './scheduler.js';
import type { Described } from './searcher.js';

/** Options of ASHAScheduler (Ray's names and defaults). */
export interface ASHASchedulerOptions {
  /** The result field that measures training progress (default 'training_iteration'). */
  timeAttr?: string;
  /** The metric compared at each rung (default: the experiment's). */
  metric?: string;
  /** 'min' or 'max' (default: the experiment's). */
  mode?: Mode;
  /** Trials stop at this much timeAttr (default 100). */
  maxT?: number;
  /** The first rung: trials are never stopped before this much timeAttr (default 1). */
  gracePeriod?: number;
  /** Each rung keeps the best 1/reductionFactor (default 4). */
  reductionFactor?: number;
  /** Brackets of successive halving (default 1); trials are dealt to them in turn. */
  brackets?: number;
  /** Stop trials at maxT (default true). */
  stopLastTrials?: boolean;
}

/** The value at percentile p (0-100) of xs, interpolated linearly as numpy does. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = s[lo] ?? Number.NaN;
  const b = s[hi] ?? Number.NaN;
  return a + (b - a) * (rank - lo);
}

/** One bracket: its rungs (milestones, highest first) and the values recorded at each. */
class Bracket {
  readonly rungs: { milestone: number; recorded: Map<string, number> }[] = [];
  constructor(
    minT: number,
    maxT: number,
    private readonly rf: number,
    s: number,
    private readonly stopLastTrials: boolean,
  ) {
    const maxRungs = Math.floor(Math.log(maxT / minT) / Math.log(rf) + 1 + 1e-9);
    for (let k = maxRungs - s - 1; k >= 0; k--) {
      this.rungs.push({ milestone: minT * rf ** (k + s), recorded: new Map() });
    }
  }

  cutoff(recorded: Map<string, number>): number | undefined {
    if (recorded.size === 0) return undefined;
    return percentile([...recorded.values()], (1 - 1 / this.rf) * 100);
  }

  onResult(trialId: string, t: number, score: number): SchedulerDecision {
    for (const { milestone, recorded } of this.rungs) {
      if (t >= milestone && recorded.has(trialId) && !this.stopLastTrials) break;
      if (t < milestone || recorded.has(trialId)) continue;
      const cutoff = this.cutoff(recorded);
      recorded.set(trialId, score);
      return cutoff !== undefined && score < cutoff ? TrialScheduler.STOP : TrialScheduler.CONTINUE;
    }
    return TrialScheduler.CONTINUE;
  }
}

/** Asynchronous successive halving: stops trials whose metric lags at rungs of training progress. */
export class ASHAScheduler extends TrialScheduler {
  /** The result field measuring progress. */
  readonly timeAttr: string;
  /** Trials stop at this much timeAttr. */
  readonly maxT: number;
  /** The first rung: no trial is stopped before this much timeAttr. */
  readonly gracePeriod: number;
  /** Each rung keeps the best 1/reductionFactor of the trials that reach it. */
  readonly reductionFactor: number;
  private readonly stopLastTrials: boolean;
  private readonly brackets: Bracket[];
  private readonly trialBracket = new Map<string, Bracket>();
  private dealt = 0;
  /** Trials this scheduler stopped early. */
  numStopped = 0;

  constructor(opts: ASHASchedulerOptions = {}) {
    super();
    this.timeAttr = opts.timeAttr ?? 'training_iteration';
    this.metric = opts.metric;
    this.mode = opts.mode;
    this.maxT = opts.maxT ?? 100;
    this.gracePeriod = opts.gracePeriod ?? 1;
    this.reductionFactor = opts.reductionFactor ?? 4;
    this.stopLastTrials = opts.stopLastTrials ?? true;
    const nBrackets = opts.brackets ?? 1;
    if (!(this.gracePeriod > 0)) throw new InvalidArgumentError('ASHAScheduler: gracePeriod must be above 0');
    if (!(this.maxT >= this.gracePeriod))
      throw new InvalidArgumentError('ASHAScheduler: maxT must be at least gracePeriod');
    if (!(this.reductionFactor > 1))
      throw new InvalidArgumentError('ASHAScheduler: reductionFactor must be above 1');
    if (!Number.isInteger(nBrackets) || nBrackets < 1)
      throw new InvalidArgumentError('ASHAScheduler: brackets must be an integer >= 1');
    if (this.mode !== undefined && this.mode !== 'min' && this.mode !== 'max') {
      throw new InvalidArgumentError(`ASHAScheduler: mode must be 'min' or 'max', got ${String(this.mode)}`);
    }
    this.brackets = Array.from(
      { length: nBrackets },
      (_, s) => new Bracket(this.gracePeriod, this.maxT, this.reductionFactor, s, this.stopLastTrials),
    );
  }

  override onTrialAdd(_runner: TrialRunnerView, trial: TrialView): void {
    this.bracketOf(trial.trialId);
  }

  private bracketOf(trialId: string): Bracket {
    const known = this.trialBracket.get(trialId);
    if (known) return known;
    // Trials are dealt to the brackets in turn; there is always at least one bracket.
    const b = this.brackets[this.dealt++ % this.brackets.length] as Bracket;
    this.trialBracket.set(trialId, b);
    return b;
  }

  onTrialResult(_runner: TrialRunnerView, trial: TrialView, result: TrialResult): SchedulerDecision {
    const t = (result as Record<string, unknown>)[this.timeAttr];
    const score = this.score(result);
    if (typeof t !== 'number' || score === undefined) return TrialScheduler.CONTINUE;
    let d: SchedulerDecision;
    if (t >= this.maxT && this.stopLastTrials) d = TrialScheduler.STOP;
    else d = this.bracketOf(trial.trialId).onResult(trial.trialId, t, score);
    if (d === TrialScheduler.STOP && t < this.maxT) this.numStopped++;
    return d;
  }

  /** The rungs of each bracket: milestone and the trials' values recorded there (signed: higher is better). */
  rungs(): {
    /** The timeAttr at which this rung's cut is made. */
    milestone: number;
    /** Each trial's value at this rung, by trial id. */
    recorded: ReadonlyMap<string, number>;
  }[][] {
    return this.brackets.map((b) => b.rungs);
  }

  override describe(): Described {
    return {
      kind: 'ASHAScheduler',
      options: {
        timeAttr: this.timeAttr,
        metric: this.metric,
        mode: this.mode,
        maxT: this.maxT,
        gracePeriod: this.gracePeriod,
        reductionFactor: this.reductionFactor,
        brackets: this.brackets.length,
        stopLastTrials: this.stopLastTrials,
      },
    };
  }
}
