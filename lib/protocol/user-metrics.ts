// Programs' own metrics (sunray/metrics: Counter, Gauge, Histogram) on their way from the
// process that updates them to its node, which serves them on /metrics (node/metrics.ts).
// A process sums its counters, keeps its gauges' last values and its histograms'
// observations, and sends them once a second as a batch of these.

/** What kind of metric. */
export type UserMetricKind = 'counter' | 'gauge' | 'histogram';

/** One metric's change under one set of tags, since the last batch. */
export interface UserMetricUpdate {
  name: string;
  kind: UserMetricKind;
  description: string;
  tagKeys: string[];
  /** A histogram's bucket boundaries. */
  buckets?: number[];
  tags: Record<string, string>;
  /** A counter: the sum of its increments; a gauge: its last value. */
  value: number;
  /** A histogram: its observations. */
  values?: number[];
}

/** A metric's name as Prometheus takes it. */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
