// The sources of sunray/data: range, fromItems, fromArrow (blocks made now, in the driver, and
// put into the store) and the file readers (readCsv, readJson, readParquet, readText,
// readBinaryFiles: planned now, read by tasks when the dataset executes).
import * as arrow from 'apache-arrow';
import * as sunray from '../index.js';
import { tableFromRows } from './batch.js';
import { encodeBlock, type Row } from './block.js';
import { DataContext } from './context.js';
import { Dataset, inputDataset } from './dataset.js';
import type { InputBlock } from './plan.js';
import type { CsvOptions } from './sources/csv.js';
import { planFiles, planRange, type ReadOptions } from './sources/read-plan.js';

function blocksCount(n: number, parallelism: number | undefined, what: string): number {
  if (parallelism !== undefined && !(Number.isInteger(parallelism) && parallelism > 0)) {
    throw new sunray.InvalidArgumentError(
      `${what}: parallelism must be a whole number above 0, got ${parallelism}`,
    );
  }
  const per = DataContext.getCurrent().targetRowsPerBlock;
  return Math.max(1, Math.min(Math.max(1, n), parallelism ?? Math.ceil(n / per)));
}

function putTable(t: arrow.Table): InputBlock {
  const bytes = encodeBlock(t);
  return { ref: sunray.put(bytes), meta: { rows: t.numRows, bytes: bytes.byteLength } };
}

/** Rows { id } for id from 0 to n - 1, read by tasks (`parallelism`: how many). */
export function range(
  n: number,
  opts: { parallelism?: number } = {},
): Dataset<{
  /** The row's number, from 0 to n - 1. */
  id: number;
}> {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new sunray.InvalidArgumentError(`range(n): n must be a whole number >= 0, got ${n}`);
  blocksCount(n, opts.parallelism, 'range');
  const reads = planRange(n, opts.parallelism, DataContext.getCurrent().targetRowsPerBlock);
  return new Dataset({ kind: 'read', name: 'ReadRange', reads });
}

/** The item type of fromItems: objects as they are, other values as { item }. */
export type ItemRow<T> = T extends object
  ? T extends readonly unknown[]
    ? {
        /** The item (an array). */
        item: T;
      }
    : T
  : {
      /** The item. */
      item: T;
    };

/** A dataset of these items (objects are rows; other values become { item: value }). */
export function fromItems<T>(
  items: readonly T[],
  opts: { parallelism?: number } = {},
): Dataset<ItemRow<T> & object> {
  if (!Array.isArray(items)) throw new sunray.InvalidArgumentError('fromItems() takes an array');
  const rows: Row[] = items.map((x) =>
    x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x) && !(x instanceof Date)
      ? (x as Row)
      : { item: x },
  );
  const k = blocksCount(rows.length, opts.parallelism, 'fromItems');
  const blocks: InputBlock[] = [];
  for (let i = 0; i < k; i++) {
    const part = rows.slice(Math.floor((i * rows.length) / k), Math.floor(((i + 1) * rows.length) / k));
    blocks.push(putTable(tableFromRows(part)));
  }
  return inputDataset(blocks, 'FromItems');
}

/** A dataset of Arrow tables (or record batches): each becomes a block, as it is. */
export function fromArrow(
  tables: arrow.Table | arrow.RecordBatch | ReadonlyArray<arrow.Table | arrow.RecordBatch>,
): Dataset<Row> {
  const list = Array.isArray(tables) ? tables : [tables];
  const blocks = list.map((t, i) => {
    if (t instanceof arrow.RecordBatch) return putTable(new arrow.Table([t]));
    if (t instanceof arrow.Table) return putTable(t);
    throw new sunray.InvalidArgumentError(
      `fromArrow(): item ${i} is not an apache-arrow Table or RecordBatch`,
    );
  });
  return inputDataset(blocks, 'FromArrow');
}

function target(): number {
  return DataContext.getCurrent().targetMaxBlockSize;
}

/** Paths: a file, a directory (every file under it) or a glob pattern, or a list of them. */
export type Paths = string | readonly string[];

/** CSV files (a header line, then rows); column types inferred as pyarrow does. */
export function readCsv(paths: Paths, opts: ReadOptions & CsvOptions = {}): Dataset<Row> {
  const { delimiter, newlinesInValues, ...rest } = opts;
  const csv: CsvOptions = {
    ...(delimiter !== undefined ? { delimiter } : {}),
    ...(newlinesInValues !== undefined ? { newlinesInValues } : {}),
  };
  return new Dataset({
    kind: 'read',
    name: 'ReadCSV',
    reads: planFiles('csv', paths, { ...rest, csv }, target(), 'readCsv'),
  });
}

/** JSON lines files: one object per line, each a row. */
export function readJson(paths: Paths, opts: ReadOptions = {}): Dataset<Row> {
  return new Dataset({
    kind: 'read',
    name: 'ReadJSON',
    reads: planFiles('json', paths, opts, target(), 'readJson'),
  });
}

/** Parquet files (`columns`: read only these). */
export function readParquet(paths: Paths, opts: ReadOptions & { columns?: string[] } = {}): Dataset<Row> {
  return new Dataset({
    kind: 'read',
    name: 'ReadParquet',
    reads: planFiles('parquet', paths, opts, target(), 'readParquet'),
  });
}

/** Text files: a row { text } per line. */
export function readText(
  paths: Paths,
  opts: ReadOptions = {},
): Dataset<{
  /** One line of a file. */
  text: string;
}> {
  return new Dataset({
    kind: 'read',
    name: 'ReadText',
    reads: planFiles('text', paths, opts, target(), 'readText'),
  });
}

/** Whole files: a row { bytes } per file (and { path } with includePaths). */
export function readBinaryFiles(
  paths: Paths,
  opts: ReadOptions = {},
): Dataset<{
  /** The file's contents. */
  bytes: Uint8Array;
  /** The file's path (with includePaths). */
  path?: string;
}> {
  return new Dataset({
    kind: 'read',
    name: 'ReadBinary',
    reads: planFiles(
      'binary',
      paths,
      { ...opts, parallelism: opts.parallelism ?? undefined },
      target(),
      'readBinaryFiles',
    ),
  });
}
