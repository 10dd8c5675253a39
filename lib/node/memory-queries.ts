// `sunray memory` on one node: the node asks each live worker for its rows of owned and
// borrowed objects (Msg.MemoryQuery) and waits at most a second for each answer
// (Msg.MemoryReport), so one stuck worker never holds up the report.

import type { Reader } from '../base/codec.js';
import { Msg } from '../protocol/worker-messages.js';
import type { WorkerSlot } from './worker-slot.js';

/** How long a worker has to answer. */
const ANSWER_MS = 1000;

/** Gathers the rows of `sunray memory` from the node's live workers, each within ANSWER_MS. */
/** `sunray memory` for one node (NodeManager.memoryReport). */
export interface MemoryReport {
  /** The driver's and workers' rows (ownership/summary.ts). */
  rows: unknown[];
  /** The store's stats (null once it is closed). */
  store: unknown;
  /** Live workers asked, and how many answered in time. */
  workers: number;
  workersAnswered: number;
}

export class MemoryQueries {
  private readonly waiting = new Map<number, (rows: unknown[]) => void>();
  private nextId = 1;

  /** A node's report: the driver's rows, every live worker's, and the store's stats. */
  async report(
    workers: Iterable<WorkerSlot>,
    driverRows: unknown[],
    store: { stats(): unknown },
  ): Promise<MemoryReport> {
    const live = [...workers].filter((w) => !w.exited && w.ready);
    const { rows, answered } = await this.ask(live, driverRows);
    let stats: unknown = null;
    try {
      stats = store.stats();
    } catch {
      // closed
    }
    return { rows, store: stats, workers: live.length, workersAnswered: answered };
  }

  /** Asks each of `workers` for its rows; resolves with `first` and theirs, and how many answered. */
  async ask(workers: WorkerSlot[], first: unknown[]): Promise<{ rows: unknown[]; answered: number }> {
    const rows: unknown[] = [...first];
    let answered = 0;
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const id = this.nextId++;
            const timer = setTimeout(() => {
              this.waiting.delete(id);
              resolve();
            }, ANSWER_MS);
            this.waiting.set(id, (r) => {
              clearTimeout(timer);
              this.waiting.delete(id);
              answered++;
              rows.push(...r);
              resolve();
            });
            w.sendWith((f) => f.u8(Msg.MemoryQuery).u32(id));
          }),
      ),
    );
    return { rows, answered };
  }

  /** Msg.MemoryReport: u32 query id, str the worker's rows as JSON. */
  onReport(r: Reader): void {
    const id = r.u32();
    this.waiting.get(id)?.(JSON.parse(r.str()) as unknown[]);
  }
}
