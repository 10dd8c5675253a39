// sunray/metrics (Ray's ray.util.metrics): Counter, Gauge and Histogram a program defines and
// updates from the driver, any task or any actor; each node gathers the values of its
// processes and serves them on its /metrics endpoint (init({ metricsPort }), `sunray start
// --metrics-port`), with every tag set a series of its own. Updates travel to the node once
// a second: a scrape sees them that much later.

/**
 * A program's own Prometheus metrics (Ray's ray.util.metrics): Counter, Gauge and Histogram,
 * updated from the driver, any task or any actor, served on each node's /metrics.
 *
 * @module sunray/metrics
 */

import { InvalidArgumentError } from '../base/errors.js';
import { METRIC_NAME, type UserMetricKind } from '../protocol/user-metrics.js';
import { currentRuntimeOrStart } from './runtime.js';

export type { UserMetricKind } from '../protocol/user-metrics.js';

/** What every metric is defined with. */
export interface MetricOptions {
  /** What it measures (its HELP line). */
  description?: string;
  /** The tag names its updates carry, each given a value on every update (or by setDefaultTags). */
  tagKeys?: readonly string[];
}

/** A histogram's options: its bucket boundaries besides the common ones. */
export interface HistogramOptions extends MetricOptions {
  /** Upper bounds of its buckets, increasing (Prometheus adds +Inf). */
  boundaries: readonly number[];
}

/** The tags of one update: a value for each tag key. */
export type MetricTags = Record<string, string>;

/** What Counter, Gauge and Histogram share: a name, a description, tag keys and default tags. */
export abstract class Metric {
  /** What it measures. */
  readonly description: string;
  /** The tag names its updates carry. */
  readonly tagKeys: readonly string[];
  private defaults: MetricTags = {};

  /** name: as Prometheus takes it (letters, digits, '_', ':'); kind and buckets: the subclass's. */
  constructor(
    /** Its name on /metrics. */
    readonly name: string,
    private readonly kind: UserMetricKind,
    o: MetricOptions,
    private readonly buckets?: readonly number[],
  ) {
    if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
      throw new InvalidArgumentError(
        `a metric's name is letters, digits, '_' and ':' and does not start with a digit (Prometheus' rule), got ${JSON.stringify(name)}`,
      );
    }
    this.description = o.description ?? '';
    this.tagKeys = [...(o.tagKeys ?? [])];
    for (const k of this.tagKeys) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith('__') || k === 'node_id') {
        throw new InvalidArgumentError(
          `metric ${name}: tag key ${JSON.stringify(k)} is not a Prometheus label name (or is sunray's node_id)`,
        );
      }
    }
  }

  /** Tag values every later update carries unless it gives its own. */
  setDefaultTags(tags: MetricTags): this {
    this.defaults = { ...this.checkTags(tags, false) };
    return this;
  }

  /** Sends one update of value under tags (with the defaults) to the node. */
  protected update(value: number, tags: MetricTags | undefined): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidArgumentError(`metric ${this.name}: a value is a finite number, got ${String(value)}`);
    }
    const all = this.checkTags({ ...this.defaults, ...(tags ?? {}) }, true);
    currentRuntimeOrStart().core.metrics.record({
      name: this.name,
      kind: this.kind,
      description: this.description,
      tagKeys: [...this.tagKeys],
      ...(this.buckets ? { buckets: [...this.buckets] } : {}),
      tags: all,
      value,
    });
  }

  private checkTags(tags: MetricTags, complete: boolean): MetricTags {
    for (const [k, v] of Object.entries(tags)) {
      if (!this.tagKeys.includes(k)) {
        throw new InvalidArgumentError(
          `metric ${this.name} has no tag key ${JSON.stringify(k)}: its keys are ${this.tagKeys.join(', ') || 'none'}`,
        );
      }
      if (typeof v !== 'string')
        throw new InvalidArgumentError(`metric ${this.name}: tag ${k} must be a string`);
    }
    if (complete) {
      const missing = this.tagKeys.filter((k) => !(k in tags));
      if (missing.length > 0) {
        throw new InvalidArgumentError(
          `metric ${this.name}: no value for tag ${missing.join(', ')} (give it, or setDefaultTags)`,
        );
      }
    }
    return tags;
  }
}

/** A count that only goes up (requests served, errors). */
export class Counter extends Metric {
  /** A counter named name (e.g. `requests_total`). */
  constructor(name: string, o: MetricOptions = {}) {
    super(name, 'counter', o);
  }

  /** Adds value (default 1, more than 0). */
  inc(value = 1, tags?: MetricTags): void {
    if (!(value > 0))
      throw new InvalidArgumentError(`counter ${this.name}: inc() takes a value > 0, got ${String(value)}`);
    this.update(value, tags);
  }
}

/** A value that goes up and down (queue length, temperature): the last one set is kept. */
export class Gauge extends Metric {
  /** A gauge named name (e.g. `queue_length`). */
  constructor(name: string, o: MetricOptions = {}) {
    super(name, 'gauge', o);
  }

  /** Sets its value for these tags. */
  set(value: number, tags?: MetricTags): void {
    this.update(value, tags);
  }
}

/** A distribution of observed values (latencies, sizes) in buckets. */
export class Histogram extends Metric {
  /** A histogram named name with its bucket boundaries (e.g. `latency_seconds`). */
  constructor(name: string, o: HistogramOptions) {
    const b = o?.boundaries;
    if (
      !Array.isArray(b) ||
      b.length === 0 ||
      b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= (b[i - 1] as number)))
    ) {
      throw new InvalidArgumentError(
        `histogram ${name}: boundaries are increasing finite numbers, got ${JSON.stringify(b)}`,
      );
    }
    super(name, 'histogram', o, b);
  }

  /** Records one value. */
  observe(value: number, tags?: MetricTags): void {
    this.update(value, tags);
  }
}
