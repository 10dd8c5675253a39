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

/**
 * How a row is measured on Ray itself, on this machine, in the same run (`--vs-ray`):
 * a session (Ray's own ray_perf, or a script of ours in bench/ray/python/) and the name of
 * the test it prints. Made with rayPerf() / rayScript() / noRay() (bench/ray/counterparts.ts).
 */
export interface RayCounterpart {
  /** 'ray_perf' (ray._private.ray_perf.main), or a script file name in bench/ray/python/. */
  source: string;
  /** The name the session prints its figure under (for ray_perf: Ray's test name). */
  test: string;
  /** Ray's figure is multiplied by this to be in this row's unit (e.g. GB counted as 10⁹ B). */
  scale?: number;
  /**
   * Ray prints operations per second; 'µs' turns that into µs per operation (latency rows),
   * 'per' into `scale` / the rate: the time of `scale` operations in seconds (e.g. a rate of
   * trials and scale 10,000: seconds for 10,000 trials; a rate of 1 / overhead seconds and
   * scale 1000: ms of overhead).
   */
  convert?: 'µs' | 'per';
  /** The row's unit, for Ray's figure when sunray's row gave none (needed with convert 'per'). */
  unit?: string;
  /** What differs between what the two sides measure (JSON, docs). */
  note?: string;
  /**
   * More pip requirements the script needs, pinned (e.g. `ray[serve]==2.58.0` for a Serve
   * row): installed into the venv the first time a run selects the row.
   */
  pip?: string[];
  /**
   * For a row whose load runs on Node's side with the same code as sunray's row (autocannon
   * against Ray Serve's proxy, say): the script sets its test up and says so (`session.drive`
   * in bench/ray/python/sunray_session.py, with e.g. the URL in `setup`), then this runs the
   * load and returns each run's figure, per second, which the script prints as Ray's timeit
   * does (so Ray's output keeps every figure line).
   */
  drive?: (setup: Record<string, unknown>, ctx: BenchContext) => Promise<RayDriven>;
}

/** What a `drive` load measured on Ray's side. */
export interface RayDriven {
  /** Each run's figure, operations per second (a latency row gives 1e6 / µs). */
  perSecond: number[];
  /** Facts for the Ray cell's note (p50 under load, the interleaved baseline...). */
  notes?: string[];
}

/** A row with no Ray counterpart, and why: shown instead of a figure in the Ray column. */
export interface NoRayCounterpart {
  none: string;
}

export type Group =
  | 'store'
  | 'tasks'
  | 'actors'
  | 'latency'
  | 'cluster'
  | 'serve'
  | 'tune'
  | 'data'
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
  /** Ray measured here, next to this row, with --vs-ray (sunray rows; see bench/ray/). */
  vsRay?: RayCounterpart | NoRayCounterpart;
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
  /** Ray measured on this machine right after this row (--vs-ray). */
  rayHere?: RayHere;
  /** This row's median against Ray's figure here: >1 means sunray is better. */
  rayRatio?: number;
  goal?: string;
  goalMet?: boolean;
  seconds: number;
}

/** Ray's figure for a row, measured in the same run (--vs-ray), in the row's unit. */
export interface RayHere {
  status: Status;
  /** Where it came from: 'ray_perf' or our script's file name, and the test's name there. */
  source: string;
  test: string;
  /** Ray's timeit: the mean of its runs and their standard deviation (this row's unit). */
  mean?: number;
  sd?: number;
  unit?: string;
  /** Why there is no figure (status not ok). */
  reason?: string;
  /** What differs from sunray's side, or that the figure is shared with another row. */
  note?: string;
  /** Seconds the Ray side took, start-up of its session included. */
  seconds?: number;
  /**
   * CPU (in cores) Ray's idle processes used while sunray measured this row, and sunray's
   * idle processes while Ray measured it: what each side's figure shared the machine with.
   */
  rayIdleCores?: number;
  sunrayIdleCores?: number;
}
