// Dataset: a lazy plan over blocks of rows. Transforms return a new Dataset with one more
// operator and run nothing; consuming methods (count, take, iterBatches, write...) execute the
// plan with the streaming executor. The row type flows through the transforms, so that
// `ds.map((r) => ({ y: r.x * 2 }))` is a Dataset<{ y: number }>.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type * as arrow from 'apache-arrow';
import * as sunray from '../index.js';
import type { AggSpec } from './aggregate.js';
import { type Batch, type BatchFormat, type Columns, checkFormat } from './batch.js';
import type { Row } from './block.js';
import { at } from './checked.js';
import { DataSinkError } from './errors.js';
import type { ExecutionStats } from './exec/executor.js';
import { collectBlocks, execute, splitBlocksAt } from './exec/run.js';
import { type FnSpec, specOf } from './fn-spec.js';
import { aggregateDataset, GroupedData } from './grouped.js';
import {
  batchesOf,
  bundleSource,
  checkIterOptions,
  type IterBatchesOptions,
  rowsFrom,
  tablesOf,
} from './iterate.js';
import type { AllToAllSpec, Compute, InputBlock, LogicalOp } from './plan.js';
import { describe } from './plan.js';
import { formatStats } from './progress.js';
import type { WriteSpec } from './sinks.js';
import { DataIterator } from './split.js';
import type { Transform } from './transforms.js';

/** Options of map, filter, flatMap and addColumn. */
export interface MapOptions {
  /** The module that exports the function (`import.meta.url`): workers import it instead of getting the source. */
  module?: string;
  /** CPUs each task holds (default 1). */
  numCpus?: number;
  /** GPUs each task holds. */
  numGpus?: number;
}

/** Options of mapBatches. */
export interface MapBatchesOptions<F extends BatchFormat = 'columns'> extends MapOptions {
  /** Rows per call (default: the whole block; small blocks are bundled up to it). */
  batchSize?: number | null;
  /** What the function gets: 'rows', 'columns' (default) or 'arrow'. */
  batchFormat?: F;
  /** With a class: actors in the pool (default 1). */
  concurrency?: number;
  /** With a class: the arguments of its constructor. */
  fnConstructorArgs?: unknown[];
}

/** What a batch function may return: rows, columns or an Arrow table. */
export type BatchResult<U> = U[] | Columns<U> | Partial<Record<keyof U, ArrayLike<unknown>>> | arrow.Table;

/** A class for mapBatches: made once per actor, then `call(batch)` for each batch. */
export type BatchClass<In, U> = new (
  ...args: never[]
) => {
  /** Transforms one batch. */
  call(batch: In): BatchResult<U> | Promise<BatchResult<U>>;
};

/** Rows with columns renamed by a mapping. */
export type Renamed<R, M extends Record<string, string>> = {
  [K in keyof R as K extends keyof M ? (M[K] extends string ? M[K] : K) : K]: R[K];
};

/** What writeParquet, writeCsv and writeJson take. */
export interface WriteOptions {
  /** Parquet only: the compression codec (default 'snappy'). */
  compression?: WriteSpec['compression'];
}

function checkCount(n: unknown, what: string, min = 0): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw new sunray.InvalidArgumentError(`${what} must be a whole number >= ${min}, got ${String(n)}`);
  }
  return n;
}

function keysOf(key: string | string[], what: string): string[] {
  const keys = Array.isArray(key) ? key : [key];
  if (keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === '')) {
    throw new sunray.InvalidArgumentError(`${what}: the key must be a column name or a list of them`);
  }
  return keys;
}

/** A dataset: rows in blocks, transformed lazily and executed as a stream. */
export class Dataset<R extends object = Row> {
  private lastStats: ExecutionStats | undefined;

  /** @internal Datasets are made by the sources (range, readCsv...) and by transforms. */
  constructor(
    /** @internal */
    readonly plan: LogicalOp,
  ) {}

  private with<U extends object>(op: LogicalOp): Dataset<U> {
    return new Dataset<U>(op);
  }

  private mapOp<U extends object>(
    name: string,
    transform: Transform,
    opts: MapOptions,
    compute?: Compute,
    minRows?: number,
  ): Dataset<U> {
    const c: Compute = compute ?? {
      kind: 'tasks',
      size: 0,
      ...(opts.numCpus !== undefined ? { numCpus: opts.numCpus } : {}),
      ...(opts.numGpus !== undefined ? { numGpus: opts.numGpus } : {}),
    };
    return this.with({
      kind: 'map',
      name,
      input: this.plan,
      transform,
      compute: c,
      ...(minRows ? { minRows } : {}),
    });
  }

  private fn(f: unknown, op: string, opts: MapOptions): FnSpec {
    return specOf(f, op, opts.module);
  }

  /** Each row through fn (which returns the new row). */
  map<U extends object>(fn: (row: R) => U | Promise<U>, opts: MapOptions = {}): Dataset<U> {
    return this.mapOp(`Map(${fn.name || 'fn'})`, { op: 'map', fn: this.fn(fn, 'map', opts) }, opts);
  }

  /** The rows for which fn returns a truthy value. */
  filter(fn: (row: R) => unknown, opts: MapOptions = {}): Dataset<R> {
    return this.mapOp(`Filter(${fn.name || 'fn'})`, { op: 'filter', fn: this.fn(fn, 'filter', opts) }, opts);
  }

  /** Each row into any number of rows (fn returns an array or other iterable of rows). */
  flatMap<U extends object>(
    fn: (row: R) => Iterable<U> | Promise<Iterable<U>>,
    opts: MapOptions = {},
  ): Dataset<U> {
    return this.mapOp(
      `FlatMap(${fn.name || 'fn'})`,
      { op: 'flatMap', fn: this.fn(fn, 'flatMap', opts) },
      opts,
    );
  }

  /**
   * Batches through a function, or through a class's `call(batch)` in a pool of `concurrency`
   * actors (for state loaded once, such as a model). The function gets batches in batchFormat
   * and returns rows, columns or an Arrow table.
   */
  mapBatches<U extends object = R, F extends BatchFormat = 'columns'>(
    fn: ((batch: Batch<R, F>) => BatchResult<U> | Promise<BatchResult<U>>) | BatchClass<Batch<R, F>, U>,
    opts: MapBatchesOptions<F> = {},
  ): Dataset<U> {
    const batchFormat = checkFormat(opts.batchFormat, 'mapBatches');
    const spec = this.fn(fn, 'mapBatches', opts);
    const batchSize = opts.batchSize ?? null;
    if (batchSize !== null) checkCount(batchSize, 'mapBatches: batchSize', 1);
    if (opts.concurrency !== undefined) checkCount(opts.concurrency, 'mapBatches: concurrency', 1);
    if (!spec.isClass && opts.fnConstructorArgs !== undefined) {
      throw new sunray.InvalidArgumentError(
        'mapBatches: fnConstructorArgs is for a class; a function takes none',
      );
    }
    const compute: Compute = {
      kind: spec.isClass ? 'actors' : 'tasks',
      size: spec.isClass ? (opts.concurrency ?? 1) : 0,
      ...(opts.numCpus !== undefined ? { numCpus: opts.numCpus } : {}),
      ...(opts.numGpus !== undefined ? { numGpus: opts.numGpus } : {}),
    };
    const name = `MapBatches(${(fn as Function).name || 'fn'})`;
    const t: Transform = {
      op: 'mapBatches',
      fn: spec,
      batchSize,
      batchFormat,
      ctorArgs: opts.fnConstructorArgs ?? [],
    };
    return this.mapOp(name, t, opts, compute, batchSize ?? 0);
  }

  /** A column computed from each batch's columns (fn returns one value per row). */
  addColumn<K extends string, V>(
    name: K,
    fn: (batch: Columns<R>) => ArrayLike<V> | Promise<ArrayLike<V>>,
    opts: MapOptions = {},
  ): Dataset<Omit<R, K> & { [P in K]: V }> {
    if (typeof name !== 'string' || name === '')
      throw new sunray.InvalidArgumentError('addColumn: the name must be a non-empty string');
    return this.mapOp(
      `AddColumn(${name})`,
      { op: 'addColumn', name, fn: this.fn(fn, 'addColumn', opts) },
      opts,
    );
  }

  /** Without the given columns. */
  dropColumns<K extends keyof R & string>(cols: K[]): Dataset<Omit<R, K>> {
    return this.mapOp('DropColumns', { op: 'dropColumns', cols: keysOf(cols, 'dropColumns') }, {});
  }

  /** Only the given columns, in that order. */
  selectColumns<K extends keyof R & string>(cols: K[]): Dataset<Pick<R, K>> {
    return this.mapOp('SelectColumns', { op: 'selectColumns', cols: keysOf(cols, 'selectColumns') }, {});
  }

  /** Columns renamed: `{ old: 'new' }`. */
  renameColumns<M extends { [K in keyof R]?: string }>(
    mapping: M,
  ): Dataset<Renamed<R, M & Record<string, string>>> {
    if (mapping === null || typeof mapping !== 'object')
      throw new sunray.InvalidArgumentError('renameColumns takes { oldName: newName }');
    return this.mapOp(
      'RenameColumns',
      { op: 'renameColumns', mapping: { ...(mapping as Record<string, string>) } },
      {},
    );
  }

  /** The first n rows. */
  limit(n: number): Dataset<R> {
    return this.with({ kind: 'limit', name: `Limit(${n})`, input: this.plan, n: checkCount(n, 'limit(n)') });
  }

  private allToAll(name: string, spec: AllToAllSpec): Dataset<R> {
    return this.with({ kind: 'allToAll', name, input: this.plan, spec });
  }

  /** The same rows in n blocks of (nearly) equal row counts, in order. */
  repartition(numBlocks: number): Dataset<R> {
    return this.allToAll(`Repartition(${numBlocks})`, {
      kind: 'repartition',
      numBlocks: checkCount(numBlocks, 'repartition(n)', 1),
    });
  }

  /** The rows in random order (the same order for the same seed and blocks). */
  randomShuffle(opts: { seed?: number; numBlocks?: number } = {}): Dataset<R> {
    if (opts.seed !== undefined) checkCount(opts.seed, 'randomShuffle: seed');
    return this.allToAll('RandomShuffle', {
      kind: 'randomShuffle',
      seed: opts.seed,
      ...(opts.numBlocks ? { numBlocks: checkCount(opts.numBlocks, 'randomShuffle: numBlocks', 1) } : {}),
    });
  }

  /** The rows ordered by a column (or columns); nulls last. A stable sort. */
  sort<K extends keyof R & string>(
    key: K | K[],
    opts: { descending?: boolean | boolean[] } = {},
  ): Dataset<R> {
    const keys = keysOf(key, 'sort');
    const d = opts.descending ?? false;
    const descending = Array.isArray(d) ? d : keys.map(() => d);
    if (descending.length !== keys.length) {
      throw new sunray.InvalidArgumentError(
        `sort: ${keys.length} keys but ${descending.length} descending flags`,
      );
    }
    return this.allToAll(`Sort(${keys.join(', ')})`, { kind: 'sort', keys, descending });
  }

  /** Rows grouped by a column (or columns; null: all rows one group), for aggregations and mapGroups. */
  groupby<K extends keyof R & string>(key: K | K[] | null): GroupedData<R, K> {
    return new GroupedData<R, K>(this.plan, key === null ? [] : keysOf(key as string | string[], 'groupby'));
  }

  /** This dataset's rows, then each other's. */
  union(...others: Dataset<R>[]): Dataset<R> {
    for (const o of others)
      if (!(o instanceof Dataset)) throw new sunray.InvalidArgumentError('union() takes datasets');
    return this.with({ kind: 'union', name: 'Union', inputs: [this.plan, ...others.map((o) => o.plan)] });
  }

  /** Rows paired one to one with another dataset's (same row count); clashing names get '_1'. */
  zip<U extends object>(other: Dataset<U>): Dataset<R & U> {
    if (!(other instanceof Dataset)) throw new sunray.InvalidArgumentError('zip() takes a dataset');
    return this.with({ kind: 'zip', name: 'Zip', inputs: [this.plan, other.plan] });
  }

  // ---- consumption ----

  private run(plan: LogicalOp = this.plan) {
    const ex = execute(plan);
    this.lastStats = ex.stats;
    return ex;
  }

  /** The distinct values of a column, in order. */
  async unique<K extends keyof R & string>(col: K): Promise<R[K][]> {
    const rows = await this.groupby(col).count().takeAll();
    return rows.map((r) => (r as Record<string, unknown>)[col] as R[K]);
  }

  /** The number of rows (executes the plan). */
  async count(): Promise<number> {
    let n = 0;
    for await (const b of this.run().blocks) {
      n += b.rows;
      b.release();
    }
    return n;
  }

  /** The Arrow schema of the rows (of the first block), or undefined for no blocks. */
  async schema(): Promise<arrow.Schema | undefined> {
    for await (const t of tablesOf(bundleSource(this.run(this.limit(1).plan).blocks), 0)) return t.schema;
    return undefined;
  }

  /** Up to n rows (default 20). */
  async take(n = 20): Promise<R[]> {
    return this.limit(checkCount(n, 'take(n)')).takeAll();
  }

  /** Every row, in an array (up to `limit` rows: more is an error, to protect the driver's memory). */
  async takeAll(limit?: number): Promise<R[]> {
    const out: R[] = [];
    for await (const r of this.iterRows()) {
      out.push(r);
      if (limit !== undefined && out.length > limit) {
        throw new sunray.InvalidArgumentError(`takeAll(${limit}): the dataset has more than ${limit} rows`);
      }
    }
    return out;
  }

  /** Up to n rows (default 20) as one batch. */
  async takeBatch<F extends BatchFormat = 'columns'>(
    n = 20,
    opts: { batchFormat?: F } = {},
  ): Promise<Batch<R, F>> {
    const format = checkFormat(opts.batchFormat, 'takeBatch');
    const ds = this.limit(checkCount(n, 'takeBatch(n)'));
    for await (const b of ds.iterBatches({ batchSize: n, batchFormat: format })) return b as Batch<R, F>;
    return (await import('./batch.js')).toBatch(new (await import('apache-arrow')).Table(), format) as Batch<
      R,
      F
    >;
  }

  /** Prints up to n rows (default 20), one per line. */
  async show(n = 20): Promise<void> {
    for (const r of await this.take(n)) {
      console.log(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
    }
  }

  /** The rows, one by one (an async iterable). */
  iterRows(opts: { prefetchBatches?: number } = {}): AsyncIterable<R> {
    checkIterOptions(opts, 'iterRows');
    return {
      [Symbol.asyncIterator]: () =>
        rowsFrom(tablesOf(bundleSource(this.run().blocks), opts.prefetchBatches ?? 1)) as AsyncIterator<R>,
    };
  }

  /** Batches of batchSize rows (default 256) in batchFormat, blocks fetched ahead (an async iterable). */
  iterBatches<F extends BatchFormat = 'columns'>(
    opts: IterBatchesOptions<F> = {},
  ): AsyncIterable<Batch<R, F>> {
    checkIterOptions(opts, 'iterBatches');
    const format = checkFormat(opts.batchFormat, 'iterBatches');
    return {
      [Symbol.asyncIterator]: () =>
        batchesOf(
          tablesOf(bundleSource(this.run().blocks), opts.prefetchBatches ?? 1),
          opts.batchSize === undefined ? 256 : opts.batchSize,
          format,
          opts.dropLast ?? false,
        ) as AsyncIterator<Batch<R, F>>,
    };
  }

  /**
   * n iterators that share one execution, for n consumers (training workers): each block goes
   * to one of them. With equal, each gets the same number of rows (a remainder is dropped).
   * Pass an iterator to a task or actor; there, `DataIterator.from(it)` gives its methods back.
   */
  streamingSplit(n: number, opts: { equal?: boolean } = {}): DataIterator<R>[] {
    checkCount(n, 'streamingSplit(n)', 1);
    return DataIterator.split<R>(this.plan, n, opts.equal ?? false);
  }

  /** The rows split in two datasets: the last testSize of them (a fraction, or a row count) for testing. */
  async trainTestSplit(
    testSize: number,
    opts: { shuffle?: boolean; seed?: number } = {},
  ): Promise<[Dataset<R>, Dataset<R>]> {
    if (typeof testSize !== 'number' || !(testSize > 0) || (testSize >= 1 && !Number.isInteger(testSize))) {
      throw new sunray.InvalidArgumentError(
        `trainTestSplit: testSize must be a fraction in (0, 1) or a whole number of rows, got ${testSize}`,
      );
    }
    const source = opts.shuffle
      ? this.randomShuffle(opts.seed !== undefined ? { seed: opts.seed } : {})
      : this;
    const blocks = await collectBlocks(source.run());
    const total = blocks.reduce((a, b) => a + b.meta.rows, 0);
    const test = testSize < 1 ? Math.ceil(total * testSize) : testSize;
    if (test > total) {
      throw new sunray.InvalidArgumentError(
        `trainTestSplit: testSize ${testSize} is more than the ${total} rows`,
      );
    }
    const [a, b] = await splitBlocksAt(blocks, total - test);
    return [inputDataset<R>(a, 'TrainSplit'), inputDataset<R>(b, 'TestSplit')];
  }

  /** Executes the plan and keeps its blocks in the store: later uses read them, not the sources. */
  async materialize(): Promise<Dataset<R>> {
    return inputDataset<R>(await collectBlocks(this.run()), `Materialized(${describe(this.plan)})`);
  }

  /** What the last execution of this dataset did, per operator (time, rows, bytes). */
  stats(): string {
    if (!this.lastStats) return 'This dataset has not been executed yet.';
    return formatStats(this.lastStats.ops, this.lastStats.totalMs);
  }

  /** The plan, outermost operator last. */
  toString(): string {
    return `Dataset(${describe(this.plan)})`;
  }

  private async write(format: WriteSpec['format'], dir: string, opts: WriteOptions): Promise<void> {
    if (typeof dir !== 'string' || dir === '')
      throw new DataSinkError(`write${format}: give a directory path`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new DataSinkError(`cannot make the output directory ${dir}: ${(err as Error).message}`, dir);
    }
    const spec: WriteSpec = {
      format,
      dir,
      prefix: randomBytes(6).toString('hex'),
      ...(opts.compression ? { compression: opts.compression } : {}),
    };
    const plan: LogicalOp = {
      kind: 'write',
      name: `Write${at(format, 0).toUpperCase()}${format.slice(1)}`,
      input: this.plan,
      spec,
    };
    for await (const b of this.run(plan).blocks) b.release();
  }

  /** Writes the rows as Parquet files (one per block) into dir (made if missing). */
  writeParquet(dir: string, opts: WriteOptions = {}): Promise<void> {
    return this.write('parquet', dir, opts);
  }

  /** Writes the rows as CSV files (one per block, with a header line) into dir. */
  writeCsv(dir: string): Promise<void> {
    return this.write('csv', dir, {});
  }

  /** Writes the rows as JSON lines files (one per block) into dir. */
  writeJson(dir: string): Promise<void> {
    return this.write('json', dir, {});
  }

  /** The sum of a column (over all rows; nulls skipped). */
  async sum<K extends keyof R & string>(on: K): Promise<number | null> {
    return aggregateDataset(this.plan, { kind: 'sum', on });
  }

  /** The smallest value of a column. */
  async min<K extends keyof R & string>(on: K): Promise<number | null> {
    return aggregateDataset(this.plan, { kind: 'min', on });
  }

  /** The largest value of a column. */
  async max<K extends keyof R & string>(on: K): Promise<number | null> {
    return aggregateDataset(this.plan, { kind: 'max', on });
  }

  /** The mean of a column. */
  async mean<K extends keyof R & string>(on: K): Promise<number | null> {
    return aggregateDataset(this.plan, { kind: 'mean', on });
  }

  /** The standard deviation of a column (ddof 1 by default, as Ray). */
  async std<K extends keyof R & string>(on: K, opts: { ddof?: number } = {}): Promise<number | null> {
    return aggregateDataset(this.plan, { kind: 'std', on, ddof: opts.ddof ?? 1 } as AggSpec);
  }
}

/** A dataset over blocks that exist already. */
export function inputDataset<R extends object>(blocks: InputBlock[], name: string): Dataset<R> {
  return new Dataset<R>({ kind: 'input', name, blocks });
}
