// Consuming blocks: fetching them from the store (a view, decoded in place), with a few fetched
// ahead (prefetch), and cutting them into batches of batchSize rows (a batch may span blocks)
// in the format asked for. Shared by Dataset.iterBatches/iterRows and the iterators of
// streamingSplit.
import type * as arrow from 'apache-arrow';
import * as sunray from '../index.js';
import { type BatchFormat, toBatch } from './batch.js';
import { concatTables, decodeBlock, type Row, rowsOf } from './block.js';
import type { Bundle } from './exec/bundle.js';
import { releaseViews } from './pins.js';

/** Options of iterBatches. */
export interface IterBatchesOptions<F extends BatchFormat = 'columns'> {
  /** Rows per batch (default 256); null: one batch per block, as the blocks come. */
  batchSize?: number | null;
  /** 'rows', 'columns' (default) or 'arrow'. */
  batchFormat?: F;
  /** Blocks fetched ahead of the one being consumed (default 1). */
  prefetchBatches?: number;
  /** Leave out a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/**
 * Something that hands out blocks one by one: a ref and its metadata, then a release. Calls of
 * next() may overlap; they are answered in order.
 */
export interface BlockSource {
  next(): Promise<{ ref: sunray.ObjectRef<Uint8Array>; rows: number; release(): void } | undefined>;
  /** Stops early (the consumer left): frees what is held. */
  close(): Promise<void>;
}

/** A BlockSource over the executor's output bundles. */
export function bundleSource(gen: AsyncGenerator<Bundle>): BlockSource {
  return {
    async next() {
      const r = await gen.next();
      if (r.done) return undefined;
      const b = r.value;
      return { ref: b.ref, rows: b.rows, release: () => b.release() };
    },
    async close() {
      await gen.return(undefined);
    },
  };
}

/** The tables of the blocks, in order, `prefetch` blocks fetched ahead. */
export async function* tablesOf(src: BlockSource, prefetch: number): AsyncGenerator<arrow.Table> {
  const ahead: Array<Promise<{ table: arrow.Table; bytes: number; release: () => void } | undefined>> = [];
  let exhausted = false;
  const pull = () => {
    const p = src.next().then(async (blk) => {
      if (!blk) {
        exhausted = true;
        return undefined;
      }
      try {
        const bytes = await sunray.get(blk.ref);
        // The executor's hold stays until the consumer has moved past the block: its view pins
        // the block, so the budget must keep counting it.
        return { table: decodeBlock(bytes), bytes: bytes.byteLength, release: () => blk.release() };
      } catch (err) {
        blk.release();
        throw err;
      }
    });
    ahead.push(p);
    return p;
  };
  try {
    for (;;) {
      // Sources answer next() calls in order, so several may be asked for at once.
      while (!exhausted && ahead.length < prefetch + 1) pull();
      const next = ahead.shift();
      if (!next) return;
      const t = await next;
      if (!t) return;
      try {
        yield t.table;
      } finally {
        // The consumer has moved on: its view of the block is garbage, but pins the block until
        // collected; a collection every few MiB lets the store free it.
        t.release();
        releaseViews(t.bytes);
      }
    }
  } finally {
    for (const p of ahead)
      p.then(
        (t) => t?.release(),
        () => undefined,
      );
    await src.close();
  }
}

/** Batches of batchSize rows (the last may be smaller unless dropLast), in the format asked for. */
export async function* batchesOf(
  tables: AsyncIterable<arrow.Table>,
  batchSize: number | null,
  format: BatchFormat,
  dropLast: boolean,
): AsyncGenerator<unknown> {
  if (batchSize === null) {
    for await (const t of tables) if (t.numRows > 0) yield toBatch(t, format);
    return;
  }
  let carry: arrow.Table | undefined;
  for await (const t of tables) {
    if (t.numRows === 0) continue;
    let cur = carry ? concatTables([carry, t]) : t;
    carry = undefined;
    let start = 0;
    while (cur.numRows - start >= batchSize) {
      yield toBatch(cur.slice(start, start + batchSize), format);
      start += batchSize;
    }
    if (start < cur.numRows) carry = start === 0 ? cur : cur.slice(start);
    cur = undefined as unknown as arrow.Table;
  }
  if (carry && carry.numRows > 0 && !dropLast) yield toBatch(carry, format);
}

/** The rows of the blocks, one by one. */
export async function* rowsFrom(tables: AsyncIterable<arrow.Table>): AsyncGenerator<Row> {
  for await (const t of tables) yield* rowsOf(t);
}

/** Checks iterBatches options, naming the call. */
export function checkIterOptions(opts: IterBatchesOptions<BatchFormat>, where: string): void {
  const bs = opts.batchSize;
  if (bs !== undefined && bs !== null && !(Number.isInteger(bs) && bs > 0)) {
    throw new sunray.InvalidArgumentError(
      `${where}: batchSize must be a whole number above 0 or null, got ${bs}`,
    );
  }
  const pf = opts.prefetchBatches;
  if (pf !== undefined && !(Number.isInteger(pf) && pf >= 0)) {
    throw new sunray.InvalidArgumentError(`${where}: prefetchBatches must be a whole number >= 0, got ${pf}`);
  }
}
