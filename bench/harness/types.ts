// Shared types of the benchmark harness.

/** The result of timing one benchmark: a figure per run, summarized. */
export interface Measurement {
  /** Median of the runs, in `unit`. */
  median: number;
  min: number;
  max: number;
  /** Each run's figure, in `unit`. */
  runs: number[];
  /** e.g. 'calls/s', 'GB/s', 'µs', 'batches/s'. */
  unit: string;
  /** Throughputs: true. Latencies and times: false. */
  higherIsBetter: boolean;
  /** Operations timed in all runs together (not counting warm-up). */
  operations?: number;
  /** Free-form facts about this measurement (payload size, clients, peak RSS...). */
  notes?: string[];
  /** Extra figures (scale benchmarks: peak RSS of each process...). */
  extra?: Record<string, number | string>;
  /**
   * Baselines measured interleaved with this row, call by call (timing.ts ratePaired), by
   * baseline name: the ratio then compares figures taken at the same moments of a noisy
   * machine, not minutes apart. Preferred over the baseline's own row.
   */
  paired?: Record<string, Measurement>;
}

/** How a row relates to a baseline measured in the same run. */
export interface BaselineRef {
  /** Name of the baseline benchmark (kind: 'baseline'). */
  name: string;
  /** The baseline's figure is multiplied by this to be in this row's unit (e.g. 1/1000 per batch). */
  scale?: number;
}

export interface Goal {
  /** Shown in the goal column, e.g. '≥ 100,000/s'. */
  text: string;
  /** Whether the goal is met, given this row's figure and its primary baseline's (already scaled). */
  met(m: Measurement, baseline: number | undefined): boolean;
}

export type Group =
  | 'store'
  | 'tasks'
  | 'actors'
  | 'latency'
  | 'cluster'
  | 'serve'
  | 'tune'
  | 'baseline'
  | 'scale';

export interface Benchmark {
  /** Ray's name (ray_perf.py) for sunray rows; a descriptive name for baselines. */
  name: string;
  group: Group;
  kind: 'sunray' | 'baseline' | 'scale';
  /** One line: the workload shape. */
  shape: string;
  /** Ray 2.48's published figure (64 vCPU m5.16xlarge), in this row's unit. */
  ray?: number;
  goal?: Goal;
  /** Baselines, the first is the primary (ratio column); others are shown alongside. */
  baselines?: BaselineRef[];
  /** Calls take seconds each: with --quick, no warm-up and a single timed run. */
  heavy?: boolean;
  /** Hard limit on this benchmark's time (ms); exceeded = reported as failed, the run goes on. */
  timeoutMs?: number;
  run(ctx: BenchContext): Promise<Measurement>;
}

export interface TimingConfig {
  quick: boolean;
  /** Timed runs per benchmark. */
  runs: number;
  /** Minimum duration of one timed run (ms). */
  runMs: number;
  /** Warm-up duration (ms); at least one call, none when 0. */
  warmupMs: number;
  /**
   * Time one benchmark's timed runs may take (ms): when calls are slow, fewer runs (not
   * fewer than minRuns) so that a run stays bounded.
   */
  budgetMs: number;
  minRuns: number;
}

export interface BenchContext extends TimingConfig {
  log(msg: string): void;
  /** The figure of a row already run in this process (e.g. get latency 1 KiB for 1 GiB). */
  resultOf(name: string): Measurement | undefined;
}

/** Thrown by a benchmark whose prerequisites are missing: reported as 'skipped: <reason>'. */
export class SkipError extends Error {
  override name = 'SkipError';
}

export type Status = 'ok' | 'skipped' | 'failed';

export interface RowResult {
  name: string;
  group: Group;
  kind: Benchmark['kind'];
  shape: string;
  status: Status;
  reason?: string;
  measurement?: Measurement;
  baselines?: { name: string; median: number; unit: string }[];
  /** This row's median against its primary baseline's: >1 means sunray is better (faster or more per second). */
  ratio?: number;
  ray?: number;
  goal?: string;
  goalMet?: boolean;
  seconds: number;
}
