// Running a read task in a worker: the pieces of files it was given, parsed into one Arrow
// table. CSV is parsed in parts of about 1 MiB of text, more for wide rows (csvPartBytes):
// the strings of a whole 128 MiB block at once would take gigabytes of heap, and a part's
// strings then die young instead of being promoted and copied by the collector (16 MiB parts
// made the CSV -> Parquet benchmark 5-8% slower). Parquet is decoded by parquet-wasm (Rust's
// arrow-rs), which hands back an Arrow IPC stream that apache-arrow reads in place.

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import * as arrow from 'apache-arrow';
import { tableFromRows } from '../batch.js';
import { concatTables } from '../block.js';
import { must } from '../checked.js';
import { DataSourceError } from '../errors.js';
import { type CsvOptions, headerNames, parseCsv } from './csv.js';
import type { FilePiece, ReadTask } from './read-plan.js';

/**
 * A CSV part's text: at least 1 MiB and 16 KiB a column (few rows a part cost per column), at
 * most 16 MiB. The columns are counted as the parser splits the header (quoted delimiters too).
 */
export function csvPartBytes(headerLine: string, csv: CsvOptions): number {
  const columns = headerNames(headerLine, csv).length;
  return Math.min(16 * 1024 * 1024, Math.max(1024 * 1024, columns * 16 * 1024));
}

function readPiece(p: FilePiece): Buffer {
  try {
    if (p.end < 0) return readFileSync(p.path);
    const len = p.end - p.start;
    const buf = Buffer.allocUnsafe(len);
    const fd = openSync(p.path, 'r');
    try {
      let off = 0;
      while (off < len) {
        const n = readSync(fd, buf, off, len - off, p.start + off);
        if (n <= 0) break;
        off += n;
      }
      return off === len ? buf : buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new DataSourceError(`cannot read ${p.path}: ${(err as Error).message}`, p.path);
  }
}

/** Cuts text bytes into parts of about `size`, each ending at a line break. */
function* lineParts(buf: Buffer, size: number): Generator<Buffer> {
  let start = 0;
  while (start < buf.length) {
    let end = Math.min(buf.length, start + size);
    if (end < buf.length) {
      const nl = buf.indexOf(10, end - 1);
      end = nl < 0 ? buf.length : nl + 1;
    }
    yield buf.subarray(start, end);
    start = end;
  }
}

function withPath(table: arrow.Table, path: string): arrow.Table {
  const values = new Array(table.numRows).fill(path);
  const cols: Record<string, arrow.Vector> = {};
  for (const f of table.schema.fields) cols[f.name] = must(table.getChild(f.name));
  cols.path = arrow.vectorFromArray(values, new arrow.Utf8());
  return new arrow.Table(cols);
}

function readCsvPiece(p: FilePiece, task: Extract<ReadTask, { kind: 'csv' }>): arrow.Table {
  const buf = readPiece(p);
  let header = p.header;
  const parts: arrow.Table[] = [];
  const multiline = task.csv.newlinesInValues ?? false;
  // A value may span lines there, so such a piece is parsed whole: no part size to compute.
  const pieces = multiline
    ? [buf]
    : lineParts(
        buf,
        csvPartBytes(header ?? buf.subarray(0, Math.max(buf.indexOf(10), 0)).toString('utf8'), task.csv),
      );
  for (const part of pieces) {
    let text = part.toString('utf8');
    if (header === undefined) {
      // The file's first piece: its first line is the header of every later part.
      const nl = text.indexOf('\n');
      header = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
      text = nl < 0 ? '' : text.slice(nl + 1);
    }
    if (text.trim() === '') continue;
    try {
      parts.push(parseCsv(text, task.csv, header));
    } catch (err) {
      throw new DataSourceError(`cannot parse ${p.path} as CSV: ${(err as Error).message}`, p.path);
    }
  }
  if (parts.length === 0 && header !== undefined) parts.push(parseCsv('', task.csv, header));
  return concatTables(parts);
}

function readJsonPiece(p: FilePiece): arrow.Table {
  const text = readPiece(p).toString('utf8');
  const rows: Record<string, unknown>[] = [];
  let line = 0;
  for (const s of text.split('\n')) {
    line++;
    if (s.trim() === '') continue;
    try {
      rows.push(JSON.parse(s));
    } catch (err) {
      throw new DataSourceError(
        `${p.path}: line ${line}${p.start > 0 ? ` of the piece at byte ${p.start}` : ''} is not JSON (${(err as Error).message}); readJson reads JSON lines: one object per line`,
        p.path,
      );
    }
  }
  return tableFromRows(rows);
}

function readTextPiece(p: FilePiece): arrow.Table {
  const text = readPiece(p).toString('utf8');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return tableFromRows(lines.map((l) => ({ text: l.endsWith('\r') ? l.slice(0, -1) : l })));
}

let parquetWasm: Promise<typeof import('parquet-wasm')> | undefined;

/** parquet-wasm, loaded on first use (its module compiles 5 MB of WebAssembly). */
export function parquet(): Promise<typeof import('parquet-wasm')> {
  parquetWasm ??= import('parquet-wasm');
  return parquetWasm;
}

async function readParquetPiece(p: FilePiece, columns: string[] | undefined): Promise<arrow.Table> {
  const pw = await parquet();
  const bytes = readPiece(p);
  try {
    const table = arrow.tableFromIPC(
      pw.readParquet(bytes, columns ? { columns } : undefined).intoIPCStream(),
    );
    if (!columns) return table;
    // parquet-wasm may return every column (it does for files written by hyparquet): select here.
    const missing = columns.filter((c) => !table.schema.fields.some((f) => f.name === c));
    if (missing.length > 0) {
      throw new DataSourceError(
        `${p.path} has no column ${missing.join(', ')} (readParquet columns)`,
        p.path,
      );
    }
    return table.select(columns);
  } catch (err) {
    throw new DataSourceError(
      `cannot read ${p.path} as Parquet: ${(err as Error).message ?? String(err)}`,
      p.path,
    );
  }
}

/** The table a read task makes. */
export async function runRead(task: ReadTask): Promise<arrow.Table> {
  if (task.kind === 'range') {
    const n = task.end - task.start;
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(task.start + i);
    return new arrow.Table({ id: arrow.makeVector(ids) });
  }
  const tables: arrow.Table[] = [];
  for (const p of task.pieces) {
    let t: arrow.Table;
    switch (task.kind) {
      case 'csv':
        t = readCsvPiece(p, task);
        break;
      case 'json':
        t = readJsonPiece(p);
        break;
      case 'text':
        t = readTextPiece(p);
        break;
      case 'parquet':
        t = await readParquetPiece(p, task.columns);
        break;
      case 'binary':
        t = tableFromRows([{ bytes: new Uint8Array(readPiece(p)) }]);
        break;
    }
    tables.push(task.includePaths ? withPath(t, p.path) : t);
  }
  return concatTables(tables);
}
