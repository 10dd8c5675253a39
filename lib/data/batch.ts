// Batch formats: what a function given to mapBatches receives and may return, and what
// iterBatches yields. A block is an Arrow table; 'rows' and 'columns' are built from it on
// demand, and whatever a function returns (rows, columns or a table) becomes a table again.

import * as arrow from 'apache-arrow';
import { columnVector, inferType, vectorOf } from './arrow-build.js';
import { columnsOf, type Row, rowsOf } from './block.js';
import { at } from './checked.js';
import { SchemaMismatchError } from './errors.js';

/** 'rows': an array of objects; 'columns': column name to array; 'arrow': an apache-arrow Table. */
export type BatchFormat = 'rows' | 'columns' | 'arrow';

/** Columns of a batch: each column a typed array (numbers without nulls) or an array. */
export type Columns<R> = { [K in keyof R]: ArrayLike<R[K]> };

/** The batch type for a row type and a format. */
export type Batch<R, F extends BatchFormat> = F extends 'rows'
  ? R[]
  : F extends 'arrow'
    ? arrow.Table
    : Columns<R>;

const FORMATS: readonly BatchFormat[] = ['rows', 'columns', 'arrow'];

/** Checks a batchFormat option, naming the call. */
export function checkFormat(f: unknown, where: string): BatchFormat {
  if (f === undefined) return 'columns';
  if (!FORMATS.includes(f as BatchFormat)) {
    throw new TypeError(
      `${where}: batchFormat must be 'rows', 'columns' or 'arrow', got ${JSON.stringify(f)}`,
    );
  }
  return f as BatchFormat;
}

/** A table in the given format. */
export function toBatch(table: arrow.Table, format: BatchFormat): unknown {
  if (format === 'arrow') return table;
  if (format === 'rows') return rowsOf(table);
  return columnsOf(table);
}

function isArrowTable(v: unknown): v is arrow.Table {
  const o = v as { batches?: unknown; schema?: { fields?: unknown } } | null;
  return (
    v instanceof arrow.Table ||
    (o !== null && typeof o === 'object' && Array.isArray(o.batches) && o.schema?.fields !== undefined)
  );
}

function isRecordBatch(v: unknown): v is arrow.RecordBatch {
  const o = v as { schema?: { fields?: unknown }; data?: { children?: unknown } } | null | undefined;
  return (
    v instanceof arrow.RecordBatch || (o?.schema?.fields !== undefined && o?.data?.children !== undefined)
  );
}

/** Rows (objects) as a table; columns are inferred over all rows, in order of first appearance. */
export function tableFromRows(rows: readonly Row[]): arrow.Table {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw new SchemaMismatchError(
        `a row must be a plain object (column name to value), got ${r === null ? 'null' : Array.isArray(r) ? 'an array' : typeof r}`,
      );
    }
    for (const k in r) {
      if (!seen.has(k)) {
        seen.add(k);
        names.push(k);
      }
    }
  }
  const cols: Record<string, arrow.Vector> = {};
  const n = rows.length;
  for (const name of names) {
    const values = new Array(n);
    for (let i = 0; i < n; i++) values[i] = at(rows, i)[name];
    cols[name] = vectorOf(values, inferType(values, name));
  }
  return new arrow.Table(cols);
}

/** Columns (name to array or typed array, all of one length) as a table. */
export function tableFromColumns(cols: Record<string, ArrayLike<unknown>>): arrow.Table {
  const vectors: Record<string, arrow.Vector> = {};
  let len = -1;
  for (const [name, values] of Object.entries(cols)) {
    if (
      values === null ||
      typeof values !== 'object' ||
      typeof (values as ArrayLike<unknown>).length !== 'number'
    ) {
      throw new SchemaMismatchError(`column '${name}' of a batch must be an array or typed array`);
    }
    if (len >= 0 && values.length !== len) {
      throw new SchemaMismatchError(
        `the columns of a batch differ in length ('${name}' has ${values.length} values, others ${len})`,
      );
    }
    len = values.length;
    vectors[name] = isVector(values) ? values : columnVector(values, name);
  }
  return new arrow.Table(vectors);
}

function isVector(v: unknown): v is arrow.Vector {
  const o = v as { data?: unknown; type?: { typeId?: unknown } } | null | undefined;
  return v instanceof arrow.Vector || (o?.data !== undefined && o?.type?.typeId !== undefined);
}

/** Whatever a batch function returned, as a table. */
export function tableFromBatch(value: unknown, where: string): arrow.Table {
  if (value instanceof arrow.Table) return value;
  if (isArrowTable(value)) return new arrow.Table((value as { batches: arrow.RecordBatch[] }).batches);
  if (isRecordBatch(value)) return new arrow.Table([value as arrow.RecordBatch]);
  if (Array.isArray(value)) return tableFromRows(value as Row[]);
  if (value !== null && typeof value === 'object') {
    return tableFromColumns(value as Record<string, ArrayLike<unknown>>);
  }
  throw new SchemaMismatchError(
    `${where} returned ${value === null ? 'null' : typeof value}: return rows (an array of objects), ` +
      'columns (an object of arrays) or an Arrow table',
  );
}
