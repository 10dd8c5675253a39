// What a trial reports: the trainable's own metrics plus the fields Tune adds to every result
// (Ray's names, so result.json and progress.csv read the same as Ray's for other tools).

/** A trial's config: the search space with every domain resolved. */
export type Config = Record<string, unknown>;

/** Metrics a trainable reports: names to values (numbers for anything a scheduler or searcher reads). */
export type Metrics = Record<string, unknown>;

/** The fields Tune adds to every result, named as Ray names them. */
export interface AutoResultFields<C = Config> {
  /** Reports made so far by this trial, this one included (continues across restores from a checkpoint). */
  training_iteration: number;
  /** Seconds since the previous report (or since the trial started). */
  time_this_iter_s: number;
  /** Seconds the trial has trained, across restores. */
  time_total_s: number;
  /** Seconds since the trial last started or was restored. */
  time_since_restore: number;
  /** Reports since the trial last started or was restored. */
  iterations_since_restore: number;
  /** Unix time of the report, in seconds. */
  timestamp: number;
  /** The trial's last result (the trainable returned or finished). */
  done: boolean;
  /** The trial's id. */
  trial_id: string;
  /** The experiment's id. */
  experiment_id: string;
  /** Local date and time of the report, as Ray writes it (YYYY-MM-DD_HH-MM-SS). */
  date: string;
  /** The worker process that ran the trial. */
  pid: number;
  /** The host the trial ran on. */
  hostname: string;
  /** The IP address of the node the trial ran on. */
  node_ip: string;
  /** The sunray node that ran the trial. */
  node_id: string;
  /** The trial's config. */
  config: C;
  /** The checkpoint saved with this result, if any (its directory name in the trial directory). */
  checkpoint_dir_name?: string;
}

/** One result of a trial: its metrics and the fields Tune adds. */
export type TrialResult<M = Metrics, C = Config> = M & AutoResultFields<C>;

/** Names of the fields Tune adds (usable as `metric`, `timeAttr` and `stop` keys). */
export type AutoMetricName =
  | 'training_iteration'
  | 'time_this_iter_s'
  | 'time_total_s'
  | 'time_since_restore'
  | 'iterations_since_restore'
  | 'timestamp';

/** 'min' or 'max': whether a lower or a higher metric is better. */
export type Mode = 'min' | 'max';

/** A metric's name: any key of the trainable's metrics (or an automatic field) when known, else any string. */
export type MetricName<M> = [unknown] extends [M]
  ? string
  : (Extract<keyof M, string> | AutoMetricName) & string;
