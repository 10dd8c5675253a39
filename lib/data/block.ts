// The block format: a block is an Arrow table (one or more record batches of one schema),
// stored as an Arrow IPC stream. Tasks return it as a Uint8Array, which sunray writes once into
// the shared-memory store; whoever gets it back receives a view of that memory, and decoding
// the IPC stream makes Arrow vectors over the same bytes (no copy). Also here: turning blocks
// into JS rows and columns, and joining blocks whose inferred types differ.

import * as arrow from 'apache-arrow';
import { vectorOf } from './arrow-build.js';
import { at, must } from './checked.js';
import { SchemaMismatchError } from './errors.js';

/** What the driver knows of a block without reading it. */
export interface BlockMeta {
  /** Rows in the block. */
  rows: number;
  /** Bytes of its IPC stream (what it takes in the store). */
  bytes: number;
}

/** A row: column name to value. */
export type Row = Record<string, unknown>;

/** The IPC stream of a table (the bytes a task returns as a block). */
export function encodeBlock(table: arrow.Table): Uint8Array {
  return arrow.tableToIPC(table, 'stream');
}

/**
 * What keeps a block's bytes alive. A get's view pins the object in the store until the view
 * is collected, but Arrow's vectors are new typed arrays over the same memory that do not
 * reference the view: once the view was collected the store could reuse the memory under a
 * table still in use (seen as garbage sums in the bench). Every object a user may keep of a
 * decoded table (the table, its batches, their Data and buffers) keeps the view here.
 */
const owners = new WeakMap<object, Uint8Array>();

function keepData(d: arrow.Data, bytes: Uint8Array): void {
  owners.set(d, bytes);
  for (const buf of [d.values, d.valueOffsets, d.nullBitmap, d.typeIds] as unknown[]) {
    if (ArrayBuffer.isView(buf)) owners.set(buf, bytes);
  }
  for (const c of d.children) keepData(c, bytes);
  if (d.dictionary) for (const dd of d.dictionary.data) keepData(dd, bytes);
}

/** The table in a block's bytes: vectors are views of those bytes (zero-copy from the store). */
export function decodeBlock(bytes: Uint8Array): arrow.Table {
  if (bytes.byteLength === 0) return new arrow.Table();
  const table = arrow.tableFromIPC(bytes);
  owners.set(table, bytes);
  for (const b of table.batches) {
    owners.set(b, bytes);
    keepData(b.data, bytes);
  }
  return table;
}

/** The metadata of an encoded block. */
export function metaOf(table: arrow.Table, bytes: Uint8Array): BlockMeta {
  return { rows: table.numRows, bytes: bytes.byteLength };
}

/** Whether two Arrow types are the same type. */
export function sameType(a: arrow.DataType, b: arrow.DataType): boolean {
  return arrow.util.compareTypes(a, b);
}

/** Whether a vector's values need turning into JS numbers (64-bit integers come as bigint). */
function isInt64(t: arrow.DataType): boolean {
  return arrow.DataType.isInt(t) && t.bitWidth === 64;
}

/** A nested Arrow value (vector, struct row, bigint, timestamp) as plain JS. */
function plain(v: unknown, type: arrow.DataType): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (arrow.DataType.isTimestamp(type) || arrow.DataType.isDate(type)) return new Date(Number(v));
  if (arrow.DataType.isList(type) || arrow.DataType.isFixedSizeList(type)) {
    const item = at(type.children, 0).type;
    const out: unknown[] = [];
    const list = v as { length: number; get(i: number): unknown };
    for (let i = 0; i < list.length; i++) out.push(plain(list.get(i), item));
    return out;
  }
  if (arrow.DataType.isStruct(type)) {
    const o: Record<string, unknown> = {};
    for (const f of type.children) o[f.name] = plain((v as Record<string, unknown>)[f.name], f.type);
    return o;
  }
  if (arrow.DataType.isMap(type)) return (v as { toJSON(): unknown }).toJSON();
  return v;
}

/**
 * A column's values as JS: a typed array (a view, no copy) for numeric columns without
 * nulls, Float64Array for 64-bit integers (exact up to 2^53), else an array of JS values.
 */
export function columnValues(vec: arrow.Vector): ArrayLike<unknown> {
  const t = vec.type as arrow.DataType;
  const n = vec.length;
  if ((arrow.DataType.isFloat(t) || arrow.DataType.isInt(t)) && vec.nullCount === 0) {
    const arr = vec.toArray() as ArrayLike<number | bigint>;
    if (!isInt64(t)) return arr as ArrayLike<number>;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(arr[i]);
    return out;
  }
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isBool(t) || arrow.DataType.isFloat(t)) {
    const out = new Array(n);
    let i = 0;
    for (const v of vec) out[i++] = v ?? null;
    return out;
  }
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = plain(vec.get(i), t);
  return out;
}

/** A table's rows as plain JS objects. */
export function rowsOf(table: arrow.Table): Row[] {
  const names = table.schema.fields.map((f) => f.name);
  const cols = names.map((_, j) => columnValues(must(table.getChildAt(j))));
  const n = table.numRows;
  const rows: Row[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r: Row = {};
    for (let j = 0; j < names.length; j++) r[at(names, j)] = at(cols, j)[i];
    rows[i] = r;
  }
  return rows;
}

/** A table's columns as JS: name to typed array or array (see columnValues). */
export function columnsOf(table: arrow.Table): Record<string, ArrayLike<unknown>> {
  const out: Record<string, ArrayLike<unknown>> = {};
  table.schema.fields.forEach((f, j) => {
    out[f.name] = columnValues(must(table.getChildAt(j)));
  });
  return out;
}

/**
 * columnsOf, each column converted when it is first read (then a plain property): a function
 * that reads two columns of four does not pay for the others (a utf8 column becomes an array
 * of strings, an int64 one a Float64Array: most of addColumn's cost on the CSV benchmark).
 * Assigning or deleting a column works as on a plain object.
 */
export function lazyColumnsOf(table: arrow.Table): Record<string, ArrayLike<unknown>> {
  const out: Record<string, ArrayLike<unknown>> = {};
  const settle = (name: string, value: unknown) =>
    Object.defineProperty(out, name, { value, writable: true, enumerable: true, configurable: true });
  table.schema.fields.forEach((f, j) => {
    Object.defineProperty(out, f.name, {
      enumerable: true,
      configurable: true,
      get: () => {
        const v = columnValues(must(table.getChildAt(j)));
        settle(f.name, v);
        return v;
      },
      set: (v: unknown) => settle(f.name, v),
    });
  });
  return out;
}

/** The wider of two column types for joining blocks (int and float: float64), or undefined. */
function unifyType(a: arrow.DataType, b: arrow.DataType): arrow.DataType | undefined {
  if (a.typeId === arrow.Type.Null) return b;
  if (b.typeId === arrow.Type.Null) return a;
  if (sameType(a, b)) return a;
  const numeric = (t: arrow.DataType) => arrow.DataType.isInt(t) || arrow.DataType.isFloat(t);
  if (numeric(a) && numeric(b)) return new arrow.Float64();
  if (arrow.DataType.isDictionary(a) && arrow.DataType.isUtf8(b)) return b;
  if (arrow.DataType.isUtf8(a) && arrow.DataType.isDictionary(b)) return a;
  return undefined;
}

/** One schema for several: columns in order of first appearance, types widened, all nullable. */
export function unifySchemas(schemas: arrow.Schema[]): arrow.Schema {
  const order: string[] = [];
  const types = new Map<string, arrow.DataType>();
  for (const s of schemas) {
    for (const f of s.fields) {
      const prev = types.get(f.name);
      if (!prev) {
        order.push(f.name);
        types.set(f.name, f.type);
        continue;
      }
      const t = unifyType(prev, f.type);
      if (!t) {
        throw new SchemaMismatchError(
          `column '${f.name}' is ${prev} in one block and ${f.type} in another, and the two cannot be ` +
            'joined: make the column one type in every row (e.g. with map or addColumn)',
        );
      }
      types.set(f.name, t);
    }
  }
  return new arrow.Schema(order.map((n) => new arrow.Field(n, must(types.get(n)), true)));
}

/** The table recast to a schema (missing columns become nulls); itself if it already fits. */
export function castTable(table: arrow.Table, schema: arrow.Schema): arrow.Table {
  if (sameColumns(table.schema, schema)) return table;
  const cols: Record<string, arrow.Vector> = {};
  for (const f of schema.fields) {
    const v = table.getChild(f.name);
    if (!v) {
      cols[f.name] = vectorOf(new Array(table.numRows).fill(null), f.type);
    } else if (sameType(v.type, f.type)) {
      cols[f.name] = v;
    } else {
      cols[f.name] = vectorOf(Array.from(columnValues(v)), f.type);
    }
  }
  return new arrow.Table(cols);
}

function sameColumns(a: arrow.Schema, b: arrow.Schema): boolean {
  if (a.fields.length !== b.fields.length) return false;
  return a.fields.every((f, i) => f.name === at(b.fields, i).name && sameType(f.type, at(b.fields, i).type));
}

/** Tables joined in order into one (their record batches, recast to one schema if they differ). */
export function concatTables(tables: arrow.Table[]): arrow.Table {
  const nonEmpty = tables.filter((t) => t.numRows > 0 || t.schema.fields.length > 0);
  if (nonEmpty.length === 0) return new arrow.Table();
  if (nonEmpty.length === 1) return at(nonEmpty, 0);
  const first = at(nonEmpty, 0).schema;
  const same = nonEmpty.every((t) => sameColumns(t.schema, first));
  const schema = same ? first : unifySchemas(nonEmpty.map((t) => t.schema));
  const batches: arrow.RecordBatch[] = [];
  for (const t of nonEmpty) {
    const fitted = same ? t : castTable(t, schema);
    for (const b of fitted.batches) {
      batches.push(b.schema === schema ? b : new arrow.RecordBatch(schema, b.data));
    }
  }
  return new arrow.Table(schema, batches);
}
