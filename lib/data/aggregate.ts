// Aggregations of groupby (count, sum, min, max, mean, std) as mergeable partial states: each
// map task folds its block into one state per group, the reduce task of a key range merges the
// states of every map task and finishes them. Nulls are skipped, as Ray's ignore_nulls=True.

import * as arrow from 'apache-arrow';
import { tableFromColumns } from './batch.js';
import { columnValues } from './block.js';
import { at } from './checked.js';
import { SchemaMismatchError } from './errors.js';
import { compareKeys, keyColumns } from './table-ops.js';

/** One aggregation. */
export type AggSpec =
  | {
      /** Rows per group. */
      kind: 'count';
    }
  | {
      /** Which aggregation. */
      kind: 'sum' | 'min' | 'max' | 'mean';
      /** The column aggregated. */
      on: string;
    }
  | {
      /** Standard deviation. */
      kind: 'std';
      /** The column aggregated. */
      on: string;
      /** Delta degrees of freedom: the divisor is count - ddof (Ray's default 1). */
      ddof: number;
    };

/** The output column of an aggregation, as Ray names it: 'count()', 'sum(x)', 'std(x)'. */
export function aggName(a: AggSpec): string {
  return a.kind === 'count' ? 'count()' : `${a.kind}(${a.on})`;
}

/** A partial state: [count, sum|min|max|mean, m2] (unused slots 0). */
type State = [number, number, number];

/** Groups of one block or partition: key tuple and a state per aggregation. */
export interface Partial {
  keys: unknown[][];
  states: State[][];
}

function fold(s: State, kind: AggSpec['kind'], x: number): void {
  if (kind === 'count') {
    s[0]++;
    return;
  }
  if (x === null || x === undefined || Number.isNaN(x)) return;
  const n = ++s[0];
  switch (kind) {
    case 'sum':
      s[1] += x;
      break;
    case 'min':
      if (n === 1 || x < s[1]) s[1] = x;
      break;
    case 'max':
      if (n === 1 || x > s[1]) s[1] = x;
      break;
    case 'mean':
    case 'std': {
      // Welford: running mean and sum of squared differences.
      const d = x - s[1];
      s[1] += d / n;
      s[2] += d * (x - s[1]);
      break;
    }
  }
}

function merge(a: State, b: State, kind: AggSpec['kind']): void {
  if (b[0] === 0) return;
  if (a[0] === 0 || kind === 'count') {
    if (kind === 'count') a[0] += b[0];
    else a.splice(0, 3, ...b);
    return;
  }
  const n = a[0] + b[0];
  switch (kind) {
    case 'sum':
      a[1] += b[1];
      break;
    case 'min':
      a[1] = Math.min(a[1], b[1]);
      break;
    case 'max':
      a[1] = Math.max(a[1], b[1]);
      break;
    default: {
      // Chan et al.: combining two means and M2s.
      const d = b[1] - a[1];
      a[1] += (d * b[0]) / n;
      a[2] += b[2] + (d * d * a[0] * b[0]) / n;
    }
  }
  a[0] = n;
}

function finish(s: State, a: AggSpec): number | null {
  switch (a.kind) {
    case 'count':
      return s[0];
    case 'sum':
      return s[0] === 0 ? null : s[1];
    case 'std':
      return s[0] - a.ddof > 0 ? Math.sqrt(s[2] / (s[0] - a.ddof)) : null;
    default:
      return s[0] === 0 ? null : s[1];
  }
}

/** Folds a table into one state per group (keys: the groupby columns; none: one group). */
export function partialOf(table: arrow.Table, keys: readonly string[], aggs: readonly AggSpec[]): Partial {
  const kcols = keyColumns(table, keys, 'groupby');
  const vcols = aggs.map((a) => {
    if (a.kind === 'count') return null;
    const v = table.getChild(a.on);
    if (!v) {
      if (table.numRows === 0) return [];
      throw new SchemaMismatchError(`${a.kind}('${a.on}'): no column '${a.on}' to aggregate`);
    }
    // A block where every value is null has a Null column: nothing to fold.
    if (arrow.DataType.isNull(v.type)) return new Array<null>(table.numRows).fill(null);
    if (
      !arrow.DataType.isInt(v.type) &&
      !arrow.DataType.isFloat(v.type) &&
      !arrow.DataType.isDecimal(v.type)
    ) {
      throw new SchemaMismatchError(`${a.kind}('${a.on}'): column '${a.on}' is ${v.type}, not a number`);
    }
    return columnValues(v) as ArrayLike<number>;
  });
  const groups = new Map<string, number>();
  const out: Partial = { keys: [], states: [] };
  for (let i = 0; i < table.numRows; i++) {
    const k = kcols.map((c) => c[i] ?? null);
    const id =
      kcols.length === 1 && typeof k[0] !== 'object' ? `${typeof k[0]}:${String(k[0])}` : JSON.stringify(k);
    let g = groups.get(id);
    if (g === undefined) {
      g = out.keys.length;
      groups.set(id, g);
      out.keys.push(k);
      out.states.push(aggs.map(() => [0, 0, 0] as State));
    }
    const st = at(out.states, g);
    for (let j = 0; j < aggs.length; j++) {
      const vc = vcols[j];
      fold(at(st, j), at(aggs, j).kind, vc ? ((vc[i] ?? null) as number) : 0);
    }
  }
  if (keys.length === 0 && out.keys.length === 0) {
    out.keys.push([]);
    out.states.push(aggs.map(() => [0, 0, 0] as State));
  }
  return out;
}

/** Merges partials and finishes them: a table of the key columns and one column per aggregation, by key. */
export function finishPartials(
  parts: readonly Partial[],
  keys: readonly string[],
  aggs: readonly AggSpec[],
): arrow.Table {
  const groups = new Map<string, number>();
  const merged: Partial = { keys: [], states: [] };
  for (const p of parts) {
    for (let g = 0; g < p.keys.length; g++) {
      const id = JSON.stringify(p.keys[g]);
      const slot = groups.get(id);
      if (slot === undefined) {
        groups.set(id, merged.keys.length);
        merged.keys.push(at(p.keys, g));
        merged.states.push(at(p.states, g).map((s) => [...s] as State));
      } else {
        const st = at(merged.states, slot);
        const ps = at(p.states, g);
        for (let j = 0; j < aggs.length; j++) merge(at(st, j), at(ps, j), at(aggs, j).kind);
      }
    }
  }
  const asc = keys.map(() => false);
  const order = merged.keys
    .map((_, i) => i)
    .sort((a, b) => compareKeys(at(merged.keys, a), at(merged.keys, b), asc));
  const cols: Record<string, unknown[]> = {};
  keys.forEach((k, j) => {
    cols[k] = order.map((g) => at(merged.keys, g)[j]);
  });
  aggs.forEach((a, j) => {
    cols[aggName(a)] = order.map((g) => finish(at(at(merged.states, g), j), a));
  });
  return tableFromColumns(cols);
}
