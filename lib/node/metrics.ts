// A node's Prometheus metrics (Ray's metrics agent): its tasks, actors and workers by state,
// its object store, transfers between nodes, scheduling latency and task duration, the
// machine's CPU and memory, and the metrics programs define (sunray/metrics) from any
// process of the node. prom-client keeps the registry and writes the text format, the
// well-kept implementation Node programs already scrape. Most values are read when
// scraped; the two histograms are fed from typed arrays the hot path writes into, drained
// into prom-client at scrape (or when full), so a task costs two array writes, and only
// while /metrics is served (prom-client's observe() was ~1% of a driver's time in the
// task-events bench with nobody scraping).
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InvalidArgumentError } from '../base/errors.js';
import { warn } from '../base/warnings.js';
import type { UserMetricUpdate } from '../protocol/user-metrics.js';

/** What the node's metrics are read from, when scraped. */
export interface MetricsSources {
  nodeId: string;
  /** Tasks on the node now, by state. */
  liveTasks(): Record<string, number>;
  /** Attempts that ended here so far. */
  taskTotals(): { finished: number; failed: number };
  actors(): Record<string, number>;
  workers(): Record<string, number>;
  store():
    | {
        capacity: number;
        used: number;
        objects: number;
        pinned: number;
        spilledBytes: number;
        spilledObjects: number;
        evictedBytes: number;
        restoredBytes: number;
      }
    | undefined;
  /** Objects pulled from and chunks served to other nodes (a node in a cluster). */
  transfers():
    | { objectsPulled: number; bytesPulled: number; chunksServed: number; bytesServed: number }
    | undefined;
}

const SECONDS_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60];
const PENDING = 65_536;

/** The node's registry and what feeds it. */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly scheduling: Histogram;
  private readonly duration: Histogram;
  private readonly latencies = new Float64Array(PENDING);
  private readonly durations = new Float64Array(PENDING);
  private nLatencies = 0;
  private nDurations = 0;
  private readonly user = new Map<string, { kind: string; metric: Counter | Gauge | Histogram }>();

  /** @param sources what the metrics are read from (also the dashboard's usage rows). */
  constructor(readonly sources: MetricsSources) {
    const src = sources;
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node_id: src.nodeId });
    const byState = (name: string, help: string, read: () => Record<string, number>) =>
      new Gauge({
        name,
        help,
        labelNames: ['state'],
        registers,
        collect() {
          this.reset();
          for (const [state, n] of Object.entries(read())) this.set({ state }, n);
        },
      });
    byState('sunray_tasks', 'Tasks on this node now, by state', () => src.liveTasks());
    byState('sunray_actors', 'Actors hosted by this node, by state', () => src.actors());
    byState('sunray_workers', 'Worker processes of this node, by state', () => src.workers());
    const total = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    total(
      'sunray_tasks_finished_total',
      'Task attempts that finished on this node',
      () => src.taskTotals().finished,
    );
    total(
      'sunray_tasks_failed_total',
      'Task attempts that failed on this node',
      () => src.taskTotals().failed,
    );
    /** A gauge read when scraped (undefined: not set, e.g. the store is closed). */
    const gauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const v = read();
          if (v !== undefined) this.set(v);
        },
      });
    gauge(
      'sunray_object_store_capacity_bytes',
      'Bytes of the shared-memory store',
      () => src.store()?.capacity,
    );
    gauge('sunray_object_store_used_bytes', 'Bytes of the store in use', () => src.store()?.used);
    gauge('sunray_object_store_objects', 'Objects in the store', () => src.store()?.objects);
    gauge('sunray_object_store_pinned_objects', 'Objects pinned by a reader now', () => src.store()?.pinned);
    gauge(
      'sunray_object_store_spilled_objects',
      'Objects spilled to disk now',
      () => src.store()?.spilledObjects,
    );
    gauge(
      'sunray_object_store_spilled_bytes',
      'Bytes spilled to disk so far',
      () => src.store()?.spilledBytes,
    );
    gauge('sunray_object_store_evicted_bytes', 'Bytes evicted so far', () => src.store()?.evictedBytes);
    gauge(
      'sunray_object_store_restored_bytes',
      'Bytes restored from disk so far',
      () => src.store()?.restoredBytes,
    );
    gauge(
      'sunray_transfer_pulled_objects',
      'Objects pulled from other nodes so far',
      () => src.transfers()?.objectsPulled ?? 0,
    );
    gauge(
      'sunray_transfer_pulled_bytes',
      'Bytes pulled from other nodes so far',
      () => src.transfers()?.bytesPulled ?? 0,
    );
    gauge(
      'sunray_transfer_served_bytes',
      'Bytes served to other nodes so far',
      () => src.transfers()?.bytesServed ?? 0,
    );
    gauge('sunray_node_cpus', "The machine's logical CPUs", () => cpus().length);
    // The node process's own (prom-client's default set names some gauges *_total, which promtool refuses).
    total('sunray_node_process_cpu_seconds_total', 'CPU time of the node process (user + system)', () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    });
    gauge('sunray_node_process_resident_memory_bytes', 'Resident memory of the node process', () =>
      process.memoryUsage.rss(),
    );
    gauge('sunray_node_load1', "The machine's load average over a minute", () => loadavg()[0] ?? 0);
    gauge('sunray_node_mem_total_bytes', "The machine's memory", () => totalmem());
    gauge('sunray_node_mem_available_bytes', "The machine's free memory", () => freemem());
    const drain = () => this.drain();
    this.scheduling = new Histogram({
      name: 'sunray_scheduling_latency_seconds',
      help: 'From a task coming to this node to its being sent to a worker',
      buckets: SECONDS_BUCKETS,
      registers,
      collect: drain,
    });
    this.duration = new Histogram({
      name: 'sunray_task_duration_seconds',
      help: 'How long tasks and actor calls ran on this node',
      buckets: SECONDS_BUCKETS,
      registers,
      collect: drain,
    });
  }

  /** A task ended: how long it waited to be sent, and how long it ran (ms; NaN: unknown). */
  taskEnded(waitedMs: number, ranMs: number): void {
    if (this.server === undefined) return; // the histograms count from when /metrics is served
    if (waitedMs >= 0) {
      this.latencies[this.nLatencies++] = waitedMs;
      if (this.nLatencies === PENDING) this.drain();
    }
    if (ranMs >= 0) {
      this.durations[this.nDurations++] = ranMs;
      if (this.nDurations === PENDING) this.drain();
    }
  }

  private drain(): void {
    for (let i = 0; i < this.nLatencies; i++) this.scheduling.observe((this.latencies[i] ?? 0) / 1000);
    for (let i = 0; i < this.nDurations; i++) this.duration.observe((this.durations[i] ?? 0) / 1000);
    this.nLatencies = 0;
    this.nDurations = 0;
  }

  /** Updates of programs' metrics (sunray/metrics) from a process of this node. */
  applyUser(updates: readonly UserMetricUpdate[]): void {
    for (const u of updates) {
      let entry = this.user.get(u.name);
      if (!entry) {
        const common = {
          name: u.name,
          help: u.description || u.name,
          labelNames: u.tagKeys,
          registers: [this.registry],
        };
        try {
          const metric =
            u.kind === 'counter'
              ? new Counter(common)
              : u.kind === 'gauge'
                ? new Gauge(common)
                : new Histogram({ ...common, ...(u.buckets ? { buckets: u.buckets } : {}) });
          entry = { kind: u.kind, metric };
          this.user.set(u.name, entry);
        } catch (err) {
          warn('SUNRAY_BAD_METRIC', `metric ${u.name} cannot be registered: ${(err as Error).message}`);
          continue;
        }
      }
      if (entry.kind !== u.kind) {
        warn(
          'SUNRAY_BAD_METRIC',
          `metric ${u.name} is a ${entry.kind}; an update as a ${u.kind} was dropped`,
        );
        continue;
      }
      const m = entry.metric;
      if (m instanceof Counter) m.inc(u.tags, u.value);
      else if (m instanceof Gauge) m.set(u.tags, u.value);
      else for (const v of u.values ?? [u.value]) m.observe(u.tags, v);
    }
  }

  private server: { address: string; close(): Promise<void> } | undefined;

  /** Serves /metrics on host:port (0: any free port); its host:port then is `address`. */
  async serve(port: number, host = '127.0.0.1'): Promise<void> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`metricsPort must be a port number 0-65535, got ${String(port)}`);
    }
    const { MetricsServer } = await import('./metrics-server.js');
    await this.server?.close();
    this.server = await MetricsServer.start(this, port, host);
  }

  /** host:port of /metrics while served. */
  get address(): string | undefined {
    return this.server?.address;
  }

  /** Stops serving. */
  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  /** The text Prometheus scrapes. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Its content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
