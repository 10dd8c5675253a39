// CSV text to an Arrow table. uDSV splits the text into fields (the fastest of the JS parsers
// we measured, docs/data.md); each column then gets one type over all its values, as pyarrow
// infers it: int64 when every value is an integer, float64 when every value is a number,
// bool for true/false, else utf8. Empty fields are nulls.

import * as arrow from 'apache-arrow';
import { inferSchema, initParser } from 'udsv';
import { utf8Vector } from '../arrow-build.js';
import { at } from '../checked.js';

/** Options of readCsv. */
export interface CsvOptions {
  /** Field separator (default ','). */
  delimiter?: string;
  /**
   * Fields may hold line breaks inside quotes: files are then read whole by one task each
   * (default false: large files are split at line breaks, as pyarrow's newlines_in_values).
   */
  newlinesInValues?: boolean;
}

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const INTEGER = /^[-+]?\d{1,15}$/;

function column(rows: string[][], j: number): arrow.Vector {
  const n = rows.length;
  let ints = true;
  let nums = true;
  let bools = true;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const s = at(rows, i)[j];
    if (s === undefined || s === '') {
      nulls++;
      continue;
    }
    if (nums && !NUMBER.test(s)) nums = ints = false;
    else if (ints && !INTEGER.test(s)) ints = false;
    if (bools) {
      const l = s.length;
      bools = (l === 4 || l === 5) && /^(?:true|false)$/i.test(s);
    }
    if (!nums && !bools) break;
  }
  if (nulls === n) return utf8Vector(new Array(n).fill(null));
  let bitmap: Uint8Array | undefined;
  if (nulls > 0) {
    bitmap = new Uint8Array((n + 7) >> 3).fill(0xff);
    for (let i = 0; i < n; i++) {
      const s = at(rows, i)[j];
      if (s === undefined || s === '') bitmap[i >> 3] = at(bitmap, i >> 3) & ~(1 << (i & 7));
    }
  }
  const nullInfo = bitmap ? { nullBitmap: bitmap, nullCount: nulls } : {};
  if (ints) {
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const s = at(rows, i)[j];
      if (s) out[i] = BigInt(+s);
    }
    return arrow.makeVector(arrow.makeData({ type: new arrow.Int64(), length: n, data: out, ...nullInfo }));
  }
  if (nums) {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s = at(rows, i)[j];
      if (s) out[i] = +s;
    }
    return arrow.makeVector(arrow.makeData({ type: new arrow.Float64(), length: n, data: out, ...nullInfo }));
  }
  if (bools) {
    const values = new Array(n);
    for (let i = 0; i < n; i++) {
      const s = at(rows, i)[j];
      values[i] = s ? s.length === 4 : null;
    }
    return arrow.vectorFromArray(values, new arrow.Bool());
  }
  const values = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = at(rows, i)[j];
    values[i] = s === '' || s === undefined ? null : s;
  }
  return utf8Vector(values);
}

/** The header line's column names, split as the parser splits fields. */
export function headerNames(headerLine: string, opts: CsvOptions): string[] {
  const schema = inferSchema(`${headerLine}\n`, { col: opts.delimiter ?? ',' });
  return schema.cols.map((c) => c.name);
}

/**
 * A table from CSV text. `text` starts with the header line unless `header` (the file's first
 * line) is given for a piece from the middle of a file.
 */
export function parseCsv(text: string, opts: CsvOptions, header?: string): arrow.Table {
  const full = header === undefined ? text : `${header}\n${text}`;
  const schema = inferSchema(full, { col: opts.delimiter ?? ',' });
  // Every column as a string: the types are decided over all values below.
  for (const c of schema.cols) c.type = 's';
  const parser = initParser(schema);
  const rows = parser.stringArrs(full) as string[][];
  const names = schema.cols.map((c) => c.name);
  const cols: Record<string, arrow.Vector> = {};
  names.forEach((name, j) => {
    cols[name] = column(rows, j);
  });
  return new arrow.Table(cols);
}
