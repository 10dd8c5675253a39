// groupby(key): the aggregations of groups (count, sum, min, max, mean, std), each a dataset
// with the key columns and one column per aggregation ('count()', 'sum(x)'...), sorted by key
// as Ray's are; and mapGroups, a function over each group's rows. Both run as all-to-all
// operations over key ranges.

import * as sunray from '../index.js';
import { type AggSpec, aggName } from './aggregate.js';
import { type Batch, type BatchFormat, checkFormat } from './batch.js';
import { at } from './checked.js';
import { Dataset } from './dataset.js';
import { execute } from './exec/run.js';
import { specOf } from './fn-spec.js';
import { batchesOf, bundleSource, tablesOf } from './iterate.js';
import type { LogicalOp } from './plan.js';

type Named<P extends string, C extends string> = { [K in `${P}(${C})`]: number | null };

function cols(on: string | string[], what: string): string[] {
  const list = Array.isArray(on) ? on : [on];
  if (list.length === 0 || list.some((c) => typeof c !== 'string' || c === '')) {
    throw new sunray.InvalidArgumentError(`${what}: give a column name or a list of them`);
  }
  return list;
}

/** Rows grouped by key columns (Dataset.groupby). */
export class GroupedData<R extends object, K extends keyof R & string> {
  /** @internal made by Dataset.groupby */
  constructor(
    private readonly plan: LogicalOp,
    private readonly keys: string[],
  ) {}

  private agg<U extends object>(aggs: AggSpec[]): Dataset<U> {
    const name = `Aggregate(${aggs.map(aggName).join(', ')}${this.keys.length ? ` by ${this.keys.join(', ')}` : ''})`;
    return new Dataset<U>({
      kind: 'allToAll',
      name,
      input: this.plan,
      spec: { kind: 'aggregate', keys: this.keys, aggs },
    });
  }

  /** Rows per group: a column 'count()'. */
  count(): Dataset<
    Pick<R, K> & {
      /** The group's row count. */
      'count()': number;
    }
  > {
    return this.agg([{ kind: 'count' }]);
  }

  /** The sum of a column (or columns) per group: 'sum(x)'. */
  sum<C extends keyof R & string>(on: C | C[]): Dataset<Pick<R, K> & Named<'sum', C>> {
    return this.agg(cols(on, 'sum').map((c) => ({ kind: 'sum', on: c })));
  }

  /** The smallest value per group: 'min(x)'. */
  min<C extends keyof R & string>(on: C | C[]): Dataset<Pick<R, K> & Named<'min', C>> {
    return this.agg(cols(on, 'min').map((c) => ({ kind: 'min', on: c })));
  }

  /** The largest value per group: 'max(x)'. */
  max<C extends keyof R & string>(on: C | C[]): Dataset<Pick<R, K> & Named<'max', C>> {
    return this.agg(cols(on, 'max').map((c) => ({ kind: 'max', on: c })));
  }

  /** The mean per group: 'mean(x)'. */
  mean<C extends keyof R & string>(on: C | C[]): Dataset<Pick<R, K> & Named<'mean', C>> {
    return this.agg(cols(on, 'mean').map((c) => ({ kind: 'mean', on: c })));
  }

  /** The standard deviation per group (ddof 1 by default): 'std(x)'. */
  std<C extends keyof R & string>(
    on: C | C[],
    opts: { ddof?: number } = {},
  ): Dataset<Pick<R, K> & Named<'std', C>> {
    const ddof = opts.ddof ?? 1;
    return this.agg(cols(on, 'std').map((c) => ({ kind: 'std', on: c, ddof })));
  }

  /** Each group's rows (one batch per group, in batchFormat) through fn, which returns the group's new rows. */
  mapGroups<U extends object, F extends BatchFormat = 'columns'>(
    fn: (group: Batch<R, F>) => unknown,
    opts: { batchFormat?: F; module?: string } = {},
  ): Dataset<U> {
    if (this.keys.length === 0)
      throw new sunray.InvalidArgumentError('mapGroups needs groupby(key) with a key');
    const batchFormat = checkFormat(opts.batchFormat, 'mapGroups');
    return new Dataset<U>({
      kind: 'allToAll',
      name: `MapGroups(${fn.name || 'fn'})`,
      input: this.plan,
      spec: { kind: 'mapGroups', keys: this.keys, fn: specOf(fn, 'mapGroups', opts.module), batchFormat },
    });
  }
}

/** One aggregation over all rows of a plan (Dataset.sum, min, max, mean, std). */
export async function aggregateDataset(plan: LogicalOp, agg: AggSpec): Promise<number | null> {
  const op: LogicalOp = {
    kind: 'allToAll',
    name: `Aggregate(${aggName(agg)})`,
    input: plan,
    spec: { kind: 'aggregate', keys: [], aggs: [agg] },
  };
  for await (const b of batchesOf(tablesOf(bundleSource(execute(op).blocks), 0), null, 'rows', false)) {
    const rows = b as Array<Record<string, number | null>>;
    if (rows.length > 0) return at(rows, 0)[aggName(agg)] ?? null;
  }
  return null;
}
