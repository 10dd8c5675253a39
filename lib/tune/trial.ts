// A trial as the driver keeps it: its config, status, last result, running statistics of
// each metric (for best-trial queries with a scope), its checkpoints and its error.
import { Checkpoint } from './checkpoint.js';
import type { TrialFailedError } from './errors.js';
import type { Config, Metrics, Mode, TrialResult } from './result.js';
import type { TrialStatus } from './scheduler.js';

/** Which of a trial's results a best-trial query compares. */
export type Scope = 'last' | 'avg' | 'last-5-avg' | 'last-10-avg' | 'all';

/** Statistics of one numeric metric over a trial's results (Ray's metric_analysis). */
export interface MetricStats {
  /** The highest value reported. */
  max: number;
  /** The lowest value reported. */
  min: number;
  /** The mean of the values reported. */
  avg: number;
  /** The latest value. */
  last: number;
  /** The mean of the latest 5 values. */
  'last-5-avg': number;
  /** The mean of the latest 10 values. */
  'last-10-avg': number;
  /** Values reported. */
  count: number;
}

/** A checkpoint kept in the trial's directory. */
export interface TrialCheckpoint {
  /** Its directory name (checkpoint_000003). */
  name: string;
  /** Its directory. */
  path: string;
  /** training_iteration when it was saved. */
  iteration: number;
  /** time_total_s when it was saved. */
  timeTotal: number;
  /** The result it was saved with, when known (for checkpointScoreAttribute). */
  result: Record<string, unknown> | undefined;
}

/** One trial of an experiment. */
export class Trial<C = Config, M = Metrics> {
  /** The trial's id: the experiment's id prefix and the trial's number (a1b2c_00007). */
  readonly trialId: string;
  /** The trial's number in the experiment, from 0. */
  readonly index: number;
  /** Its config (PBT may change it). */
  config: C;
  /** Where it is: PENDING, RUNNING, PAUSED, TERMINATED or ERROR. */
  status: TrialStatus = 'PENDING';
  /** Its latest result. */
  lastResult: TrialResult<M, C> | undefined;
  /** Results reported, over all its runs. */
  numResults = 0;
  /** Times it failed (a retry follows while this is within maxFailures). */
  numFailures = 0;
  /** Why it ended in ERROR. */
  error: TrialFailedError | undefined;
  /** Its directory name, under the experiment directory. */
  readonly dirName: string;
  /** Its directory. */
  readonly path: string;
  /** Its name in tables: trainable name and id. */
  readonly name: string;
  /** Statistics of each numeric metric. */
  readonly metricAnalysis = new Map<string, MetricStats>();
  private readonly windows = new Map<string, number[]>();
  /** Its checkpoints, oldest first. */
  readonly checkpoints: TrialCheckpoint[] = [];
  /** How many checkpoints it has saved (the next one's number). */
  checkpointCount = 0;

  constructor(trialId: string, index: number, config: C, name: string, dirName: string, path: string) {
    this.trialId = trialId;
    this.index = index;
    this.config = config;
    this.name = name;
    this.dirName = dirName;
    this.path = path;
  }

  /** Whether it has a checkpoint to restore from. */
  get hasCheckpoint(): boolean {
    return this.checkpoints.length > 0;
  }

  /** Its latest checkpoint, as a Checkpoint of its directory. */
  get checkpoint(): Checkpoint | undefined {
    const c = this.checkpoints[this.checkpoints.length - 1];
    return c && Checkpoint.fromDirectory(c.path);
  }

  /** The latest checkpoint's record. */
  get latestCheckpoint(): TrialCheckpoint | undefined {
    return this.checkpoints[this.checkpoints.length - 1];
  }

  /** Records a result: last result, count, and the statistics of its numeric fields. */
  recordResult(result: TrialResult<M, C>): void {
    this.lastResult = result;
    this.numResults++;
    for (const [k, v] of Object.entries(result as Record<string, unknown>)) {
      if (typeof v !== 'number' || Number.isNaN(v)) continue;
      const w = this.windows.get(k) ?? [];
      if (w.length === 0) this.windows.set(k, w);
      w.push(v);
      if (w.length > 10) w.shift();
      const s = this.metricAnalysis.get(k);
      const mean = (n: number) => {
        const xs = w.slice(-n);
        return xs.reduce((a, b) => a + b, 0) / xs.length;
      };
      if (!s) {
        this.metricAnalysis.set(k, {
          max: v,
          min: v,
          avg: v,
          last: v,
          'last-5-avg': v,
          'last-10-avg': v,
          count: 1,
        });
      } else {
        s.count++;
        s.max = Math.max(s.max, v);
        s.min = Math.min(s.min, v);
        s.avg += (v - s.avg) / s.count;
        s.last = v;
        s['last-5-avg'] = mean(5);
        s['last-10-avg'] = mean(10);
      }
    }
  }

  /** The value of metric for comparing trials: per scope ('all': the best over all results for mode). */
  metricValue(metric: string, mode: Mode, scope: Scope = 'last'): number | undefined {
    const s = this.metricAnalysis.get(metric);
    if (!s) return undefined;
    if (scope === 'all') return mode === 'max' ? s.max : s.min;
    return s[scope];
  }

  /** The trial's name (the trainable's name and its id). */
  toString(): string {
    return this.name;
  }
}
