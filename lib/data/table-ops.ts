// Row-level operations on Arrow tables that apache-arrow's JS library lacks: gathering rows by
// index (take), ordering rows by key columns, and comparing key values. Used by the map and
// reduce tasks of shuffle, sort, groupby and repartition.

import * as arrow from 'apache-arrow';
import type { NumericArray } from './arrow-build.js';
import { vectorOf } from './arrow-build.js';
import { columnValues } from './block.js';
import { at, must } from './checked.js';
import { SchemaMismatchError } from './errors.js';

/** A key value: a JS value of a column (number, string, boolean, Date, null...). */
export type KeyValue = unknown;

function rank(v: unknown): number {
  if (v === null || v === undefined) return 9;
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 4;
    default:
      return v instanceof Date ? 3 : 5;
  }
}

/** Orders two key values: numbers numerically, strings by code unit, nulls last. */
export function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number')
    return a < b ? -1 : a > b ? 1 : Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 9) return 0;
  const x = a instanceof Date ? a.getTime() : (a as number);
  const y = b instanceof Date ? b.getTime() : (b as number);
  if (ra === 5) {
    const sa = JSON.stringify(a);
    const sb = JSON.stringify(b);
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Orders two tuples of key values, each position ascending or descending. */
export function compareKeys(
  a: readonly unknown[],
  b: readonly unknown[],
  descending: readonly boolean[],
): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return descending[i] ? -c : c;
  }
  return 0;
}

/** The values of the key columns, or a SchemaMismatchError naming the missing one. */
export function keyColumns(table: arrow.Table, keys: readonly string[], op: string): ArrayLike<unknown>[] {
  return keys.map((k) => {
    const v = table.getChild(k);
    if (!v) {
      if (table.numRows === 0) return [];
      throw new SchemaMismatchError(
        `${op}: no column '${k}' (the columns are ${table.schema.fields.map((f) => `'${f.name}'`).join(', ')})`,
      );
    }
    return columnValues(v);
  });
}

/** The key tuple of row i. */
export function keyAt(cols: ArrayLike<unknown>[], i: number): unknown[] {
  const out = new Array(cols.length);
  for (let j = 0; j < cols.length; j++) out[j] = at(cols, j)[i];
  return out;
}

/** Row indices in key order (a stable sort). */
export function sortIndices(
  table: arrow.Table,
  keys: readonly string[],
  descending: readonly boolean[],
  op: string,
): Uint32Array {
  const cols = keyColumns(table, keys, op);
  const n = table.numRows;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (cols.length === 1 && !descending[0]) {
    const c = at(cols, 0);
    return idx.sort((a, b) => compareValues(c[a], c[b]) || a - b);
  }
  return idx.sort((a, b) => {
    for (let j = 0; j < cols.length; j++) {
      const c = compareValues(at(cols, j)[a], at(cols, j)[b]);
      if (c !== 0) return descending[j] ? -c : c;
    }
    return a - b;
  });
}

/** A vector of the rows at the given indices, as one chunk. */
function takeVector(vec: arrow.Vector, indices: ArrayLike<number>): arrow.Vector {
  const type = vec.type as arrow.DataType;
  const n = indices.length;
  if ((arrow.DataType.isFloat(type) || arrow.DataType.isInt(type)) && vec.nullCount === 0) {
    const src = vec.toArray() as NumericArray;
    const out = new (src.constructor as new (n: number) => typeof src)(n);
    for (let i = 0; i < n; i++) out[i] = src[at(indices, i)] as number | bigint;
    return arrow.makeVector(out);
  }
  if (arrow.DataType.isUtf8(type) && vec.data.length === 1 && vec.nullCount === 0) {
    const d = at(vec.data, 0);
    const offs = d.valueOffsets as Int32Array;
    const bytes = d.values as Uint8Array;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const r = at(indices, i);
      total += at(offs, r + 1) - at(offs, r);
    }
    const outOffs = new Int32Array(n + 1);
    const out = new Uint8Array(total);
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const r = at(indices, i);
      const a = at(offs, r);
      const len = at(offs, r + 1) - a;
      outOffs[i] = pos;
      if (len < 32) for (let k = 0; k < len; k++) out[pos + k] = at(bytes, a + k);
      else out.set(bytes.subarray(a, a + len), pos);
      pos += len;
    }
    outOffs[n] = pos;
    return arrow.makeVector(
      arrow.makeData({ type: new arrow.Utf8(), length: n, valueOffsets: outOffs, data: out }),
    );
  }
  const values = new Array(n);
  for (let i = 0; i < n; i++) values[i] = vec.get(at(indices, i));
  if (arrow.DataType.isStruct(type) || arrow.DataType.isList(type) || arrow.DataType.isMap(type)) {
    const plain = columnValues(vec);
    for (let i = 0; i < n; i++) values[i] = plain[at(indices, i)];
  }
  return vectorOf(values, type);
}

/** The table of the rows at the given indices, in that order. */
export function take(table: arrow.Table, indices: ArrayLike<number>): arrow.Table {
  if (table.schema.fields.length === 0) return table;
  const cols: Record<string, arrow.Vector> = {};
  // One chunk per column makes every gather a plain index.
  const flat = table.batches.length > 1 ? new arrow.Table([mergeBatches(table)]) : table;
  table.schema.fields.forEach((f, j) => {
    cols[f.name] = takeVector(must(flat.getChildAt(j)), indices);
  });
  return new arrow.Table(cols);
}

/** A table's batches as one record batch (copies). */
function mergeBatches(table: arrow.Table): arrow.RecordBatch {
  const cols: Record<string, arrow.Vector> = {};
  table.schema.fields.forEach((f, j) => {
    const v = must(table.getChildAt(j));
    if (v.data.length <= 1) cols[f.name] = v;
    else if ((arrow.DataType.isFloat(v.type) || arrow.DataType.isInt(v.type)) && v.nullCount === 0) {
      cols[f.name] = arrow.makeVector(v.toArray() as NumericArray);
    } else {
      const values = arrow.DataType.isUtf8(v.type) ? Array.from(v) : Array.from(columnValues(v));
      cols[f.name] = vectorOf(values, v.type);
    }
  });
  const t = new arrow.Table(cols);
  return at(t.batches, 0);
}

/** A seeded pseudo-random generator (mulberry32): the same seed gives the same shuffle. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, random: () => number): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = at(idx, i);
    idx[i] = at(idx, j);
    idx[j] = t;
  }
  return idx;
}
