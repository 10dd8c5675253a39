// DataIterator: one consumer's share of a streamingSplit. It is plain data (the coordinator
// actor's handle and a split number) with methods, so it can be sent to a task or an actor;
// values arrive there as plain objects, and `DataIterator.from(value)` gives the methods back.
import * as sunray from '../index.js';
import type { Batch, BatchFormat } from './batch.js';
import { checkFormat } from './batch.js';
import type { Row } from './block.js';
import { StreamingSplitError } from './errors.js';
import {
  type BlockSource,
  batchesOf,
  checkIterOptions,
  type IterBatchesOptions,
  rowsFrom,
  tablesOf,
} from './iterate.js';
import type { LogicalOp } from './plan.js';
import { DataSplitCoordinator, type SplitItem } from './split-coordinator.js';

const MODULE = new URL('./split-coordinator.js', import.meta.url).href;

/** One consumer's iterator of a streamingSplit (`R`: the row type). */
export class DataIterator<R extends object = Row> {
  /** @internal */
  constructor(
    /** @internal */
    readonly coordinator: sunray.ActorHandle<DataSplitCoordinator>,
    /** @internal */
    readonly split: number,
  ) {}

  /** Makes the coordinator and n iterators (Dataset.streamingSplit). */
  static split<R extends object>(plan: LogicalOp, n: number, equal: boolean): DataIterator<R>[] {
    const Coordinator = sunray.remote(DataSplitCoordinator, { module: MODULE });
    // Consumers ask at once: the coordinator's methods interleave at their awaits.
    const handle = Coordinator.options({ maxConcurrency: 2 * n + 4 }).remote(plan, n, equal);
    return Array.from({ length: n }, (_, i) => new DataIterator<R>(handle, i));
  }

  /** A DataIterator again from one that crossed processes (it arrives as a plain object). */
  static from<R extends object = Row>(
    value: DataIterator<R> | { coordinator: unknown; split: number },
  ): DataIterator<R> {
    if (value instanceof DataIterator) return value;
    const v = value as { coordinator: sunray.ActorHandle<DataSplitCoordinator>; split: number };
    if (!v || typeof v.split !== 'number' || !(v.coordinator instanceof sunray.ActorHandleBase)) {
      throw new StreamingSplitError('DataIterator.from() takes an iterator made by streamingSplit()');
    }
    return new DataIterator<R>(v.coordinator, v.split);
  }

  private source(): BlockSource {
    let done = 0;
    let chain: Promise<unknown> = Promise.resolve();
    return {
      next: () => {
        // One call at a time, in order; each tells the coordinator how many blocks were finished.
        const p = chain.then(async () => {
          const ack = done;
          done = 0;
          let item: SplitItem;
          try {
            item = await sunray.get(this.coordinator.next.remote(this.split, ack));
          } catch (err) {
            if (err instanceof sunray.ActorDiedError) {
              throw new StreamingSplitError(
                `streamingSplit: the coordinator of the split is gone (${err.message})`,
              );
            }
            throw err;
          }
          if (!item) return undefined;
          return { ref: item.ref, rows: item.rows, release: () => void done++ };
        });
        chain = p.catch(() => {});
        return p;
      },
      close: async () => {},
    };
  }

  /** This consumer's rows, one by one. */
  iterRows(opts: { prefetchBatches?: number } = {}): AsyncIterable<R> {
    checkIterOptions(opts, 'iterRows');
    return {
      [Symbol.asyncIterator]: () =>
        rowsFrom(tablesOf(this.source(), opts.prefetchBatches ?? 1)) as AsyncIterator<R>,
    };
  }

  /** This consumer's batches (see Dataset.iterBatches). */
  iterBatches<F extends BatchFormat = 'columns'>(
    opts: IterBatchesOptions<F> = {},
  ): AsyncIterable<Batch<R, F>> {
    checkIterOptions(opts, 'iterBatches');
    const format = checkFormat(opts.batchFormat, 'iterBatches');
    return {
      [Symbol.asyncIterator]: () =>
        batchesOf(
          tablesOf(this.source(), opts.prefetchBatches ?? 1),
          opts.batchSize === undefined ? 256 : opts.batchSize,
          format,
          opts.dropLast ?? false,
        ) as AsyncIterator<Batch<R, F>>,
    };
  }
}
