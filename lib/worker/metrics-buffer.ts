// A process's updates of programs' metrics (protocol/user-metrics.ts), gathered between
// batches: counters summed and gauges' last values per set of tags, histograms'
// observations kept. Sent to the node once a second (and when the process exits).
import type { UserMetricUpdate } from '../protocol/user-metrics.js';

const SEND_INTERVAL_MS = 1000;
/** Observations held before a batch goes, timer or not. */
const MAX_VALUES = 10_000;

/** Updates of this process's metrics, sent to its node in batches. */
export class MetricsBuffer {
  private pending = new Map<string, UserMetricUpdate>();
  private held = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly send: (updates: UserMetricUpdate[]) => void) {}

  /** One update: `u.value` is added (counter), kept (gauge) or observed (histogram). */
  record(u: UserMetricUpdate): void {
    const key = `${u.name}\u0000${JSON.stringify(u.tags)}`;
    const p = this.pending.get(key);
    if (!p) {
      this.pending.set(key, u.kind === 'histogram' ? { ...u, values: [u.value] } : { ...u });
    } else if (u.kind === 'counter') p.value += u.value;
    else if (u.kind === 'gauge') p.value = u.value;
    else p.values?.push(u.value);
    if (u.kind === 'histogram' && ++this.held >= MAX_VALUES) {
      this.flush();
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flush(), SEND_INTERVAL_MS);
    this.timer.unref();
  }

  /** Sends what is held now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const updates = [...this.pending.values()];
    this.pending = new Map();
    this.held = 0;
    this.send(updates);
  }
}
