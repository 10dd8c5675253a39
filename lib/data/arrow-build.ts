// Building Arrow columns from JavaScript values: the type each column takes (inferred from its
// values, as pyarrow infers a type from Python objects) and fast builders for the common flat
// types (float64, int64, utf8, bool), with Arrow's own builders for nested ones.

import * as arrow from 'apache-arrow';
import { at } from './checked.js';
import { SchemaMismatchError } from './errors.js';

/** The typed arrays an Arrow numeric column is made from, and gives back from toArray(). */
export type NumericArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

const TYPED_LIST: Array<[abstract new (...args: never[]) => object, () => arrow.DataType]> = [
  [Float64Array, () => new arrow.Float64()],
  [Float32Array, () => new arrow.Float32()],
  [Int32Array, () => new arrow.Int32()],
  [Int16Array, () => new arrow.Int16()],
  [Int8Array, () => new arrow.Int8()],
  [Uint32Array, () => new arrow.Uint32()],
  [Uint16Array, () => new arrow.Uint16()],
  [BigInt64Array, () => new arrow.Int64()],
];

/** The Arrow type of one non-null JS value (undefined: no opinion, e.g. an empty array). */
function typeOfValue(v: unknown, column: string): arrow.DataType | undefined {
  switch (typeof v) {
    case 'number':
      return new arrow.Float64();
    case 'bigint':
      return new arrow.Int64();
    case 'string':
      return new arrow.Utf8();
    case 'boolean':
      return new arrow.Bool();
    case 'object': {
      if (v instanceof Date) return new arrow.TimestampMillisecond();
      if (v instanceof Uint8Array) return new arrow.Binary();
      for (const [ctor, make] of TYPED_LIST) {
        if (v instanceof ctor) return new arrow.List(new arrow.Field('item', make(), true));
      }
      if (Array.isArray(v)) {
        const item = inferType(v, `${column}[]`);
        return new arrow.List(new arrow.Field('item', item, true));
      }
      const fields = Object.keys(v as object).map(
        (k) => new arrow.Field(k, inferType([(v as Record<string, unknown>)[k]], `${column}.${k}`), true),
      );
      return new arrow.Struct(fields);
    }
    default:
      throw new SchemaMismatchError(
        `column '${column}' holds a ${typeof v}, which has no Arrow type: give rows plain data ` +
          '(numbers, strings, booleans, bigints, Dates, Uint8Arrays, arrays and objects of those)',
      );
  }
}

/** Whether two inferred types can hold each other's values as the wider one; returns it. */
function widen(a: arrow.DataType, b: arrow.DataType, column: string): arrow.DataType {
  if (a.typeId === arrow.Type.Null) return b;
  if (b.typeId === arrow.Type.Null) return a;
  if (String(a) === String(b)) return a;
  if (arrow.DataType.isStruct(a) && arrow.DataType.isStruct(b)) {
    const byName = new Map(a.children.map((f) => [f.name, f.type]));
    for (const f of b.children) {
      const prev = byName.get(f.name);
      byName.set(f.name, prev ? widen(prev, f.type, `${column}.${f.name}`) : f.type);
    }
    return new arrow.Struct([...byName].map(([n, t]) => new arrow.Field(n, t, true)));
  }
  if (arrow.DataType.isList(a) && arrow.DataType.isList(b)) {
    const item = widen(at(a.children, 0).type, at(b.children, 0).type, `${column}[]`);
    return new arrow.List(new arrow.Field('item', item, true));
  }
  const numeric = (t: arrow.DataType) => arrow.DataType.isInt(t) || arrow.DataType.isFloat(t);
  if (numeric(a) && numeric(b)) return new arrow.Float64();
  throw new SchemaMismatchError(
    `column '${column}' holds values of two types, ${a} and ${b}, that no one Arrow type holds: ` +
      'make the column one type (e.g. convert with String() or Number() in a map)',
  );
}

/** The Arrow type of a column of JS values (Null when every value is null or undefined). */
export function inferType(values: ArrayLike<unknown>, column: string): arrow.DataType {
  let t: arrow.DataType = new arrow.Null();
  let last = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    // Fast path: most columns hold one primitive type.
    const kind = typeof v;
    if (kind === last && kind !== 'object') continue;
    last = kind;
    const vt = typeOfValue(v, column);
    if (vt) t = widen(t, vt, column);
  }
  return t;
}

/** A validity bitmap for the values that are null or undefined (undefined when there are none). */
function validity(values: ArrayLike<unknown>): { bitmap: Uint8Array; nulls: number } | undefined {
  let nulls = 0;
  let bitmap: Uint8Array | undefined;
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      if (!bitmap) {
        bitmap = new Uint8Array((n + 7) >> 3).fill(0xff);
      }
      bitmap[i >> 3] = at(bitmap, i >> 3) & ~(1 << (i & 7));
      nulls++;
    }
  }
  return bitmap ? { bitmap, nulls } : undefined;
}

/** A utf8 vector written straight into one buffer (Arrow's builder is several times slower). */
export function utf8Vector(values: ArrayLike<unknown>): arrow.Vector {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) total += Buffer.byteLength(String(v));
  }
  const data = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    offsets[i] = pos;
    const v = values[i];
    if (v !== null && v !== undefined) pos += data.write(String(v), pos, 'utf8');
  }
  offsets[n] = pos;
  const valid = validity(values);
  return arrow.makeVector(
    arrow.makeData({
      type: new arrow.Utf8(),
      length: n,
      valueOffsets: offsets,
      data: new Uint8Array(data.buffer, data.byteOffset, total),
      ...(valid ? { nullBitmap: valid.bitmap, nullCount: valid.nulls } : {}),
    }),
  );
}

function float64Vector(values: ArrayLike<unknown>): arrow.Vector {
  const n = values.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(values[i] ?? 0);
  const valid = validity(values);
  if (!valid) return arrow.makeVector(out);
  return arrow.makeVector(
    arrow.makeData({
      type: new arrow.Float64(),
      length: n,
      data: out,
      nullBitmap: valid.bitmap,
      nullCount: valid.nulls,
    }),
  );
}

function int64Vector(values: ArrayLike<unknown>): arrow.Vector {
  const n = values.length;
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    out[i] = v === null || v === undefined ? 0n : BigInt(v as bigint | number);
  }
  const valid = validity(values);
  if (!valid) return arrow.makeVector(out);
  return arrow.makeVector(
    arrow.makeData({
      type: new arrow.Int64(),
      length: n,
      data: out,
      nullBitmap: valid.bitmap,
      nullCount: valid.nulls,
    }),
  );
}

/** A vector of the given type from JS values (numbers for float columns, strings for utf8...). */
export function vectorOf(values: ArrayLike<unknown>, type: arrow.DataType): arrow.Vector {
  if (type.typeId === arrow.Type.Float && (type as arrow.Float).precision === arrow.Precision.DOUBLE) {
    return float64Vector(values);
  }
  if (type.typeId === arrow.Type.Int && (type as arrow.Int).bitWidth === 64 && (type as arrow.Int).isSigned) {
    return int64Vector(values);
  }
  if (type.typeId === arrow.Type.Utf8) return utf8Vector(values);
  if (type.typeId === arrow.Type.Null) {
    return arrow.makeVector(arrow.makeData({ type: new arrow.Null(), length: values.length }));
  }
  const arr = Array.isArray(values) ? values : Array.from(values);
  const normalized = arr.map((v) => (v === undefined ? null : v));
  return arrow.vectorFromArray(
    normalized,
    type as arrow.DataType<arrow.Type, Record<string | number, arrow.DataType>>,
  );
}

/** A column from JS values or a typed array (typed arrays are wrapped without a copy). */
export function columnVector(values: ArrayLike<unknown>, column: string): arrow.Vector {
  if (ArrayBuffer.isView(values) && !(values instanceof DataView))
    return arrow.makeVector(values as NumericArray);
  return vectorOf(values, inferType(values, column));
}
