// Planning reads in the driver: the read tasks of a source, each a piece of the input small
// enough to be one block. range() splits its rows; file sources split their files into byte
// ranges cut at line breaks (CSV, JSON lines, text) or take files whole (Parquet, binary), and
// group small files so that there are about as many tasks as `parallelism` asks.
import { closeSync, openSync, readSync } from 'node:fs';
import { DataSourceError } from '../errors.js';
import type { CsvOptions } from './csv.js';
import { expandPaths, type FileInfo } from './paths.js';

/** A piece of a file: bytes [start, end), or the whole file when end is -1. */
export interface FilePiece {
  path: string;
  start: number;
  end: number;
  /** The file's first line, for pieces of a CSV file that do not start at 0. */
  header?: string;
}

/** Options every file reader takes. */
export interface ReadOptions {
  /** Read tasks to aim for (default: one per file, more for files larger than the target block size). */
  parallelism?: number;
  /** Add a 'path' column with each row's file. */
  includePaths?: boolean;
  /** Only files ending in these extensions (without the dot), for directories and patterns. */
  fileExtensions?: string[];
}

/** One read task, as it travels to a worker. */
export type ReadTask =
  | { kind: 'range'; start: number; end: number }
  | { kind: 'csv'; pieces: FilePiece[]; includePaths: boolean; csv: CsvOptions }
  | { kind: 'json'; pieces: FilePiece[]; includePaths: boolean }
  | { kind: 'text'; pieces: FilePiece[]; includePaths: boolean }
  | { kind: 'parquet'; pieces: FilePiece[]; includePaths: boolean; columns?: string[] }
  | { kind: 'binary'; pieces: FilePiece[]; includePaths: boolean };

/** A planned read task with the bytes it will read (for the memory budget). */
export interface PlannedRead {
  task: ReadTask;
  estBytes: number;
}

/** range(n): tasks of consecutive ids. */
export function planRange(n: number, parallelism: number | undefined, rowsPerBlock: number): PlannedRead[] {
  const tasks = Math.max(1, Math.min(n, parallelism ?? Math.ceil(n / rowsPerBlock)));
  const out: PlannedRead[] = [];
  for (let i = 0; i < tasks; i++) {
    const start = Math.floor((i * n) / tasks);
    const end = Math.floor(((i + 1) * n) / tasks);
    out.push({ task: { kind: 'range', start, end }, estBytes: (end - start) * 8 });
  }
  return n === 0 ? [{ task: { kind: 'range', start: 0, end: 0 }, estBytes: 0 }] : out;
}

/** The offset just past the first line break at or after `from` (the file's size if none). */
function nextLineStart(fd: number, from: number, size: number): number {
  const buf = Buffer.allocUnsafe(64 * 1024);
  let pos = from;
  while (pos < size) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) break;
    const i = buf.subarray(0, n).indexOf(10);
    if (i >= 0) return pos + i + 1;
    pos += n;
  }
  return size;
}

/** The file's first line (without its line break). */
function firstLine(fd: number, size: number): string {
  const end = nextLineStart(fd, 0, size);
  const buf = Buffer.allocUnsafe(end);
  readSync(fd, buf, 0, end, 0);
  return buf.toString('utf8').replace(/\r?\n$/, '');
}

/** Splits a line-based file into pieces of about `target` bytes, each starting at a line. */
function splitLines(f: FileInfo, target: number, csvHeader: boolean): FilePiece[] {
  if (f.size <= target) return [{ path: f.path, start: 0, end: -1 }];
  const fd = openSync(f.path, 'r');
  try {
    const header = csvHeader ? firstLine(fd, f.size) : undefined;
    const pieces: FilePiece[] = [];
    let start = 0;
    while (start < f.size) {
      const end = Math.min(f.size, nextLineStart(fd, start + target - 1, f.size));
      pieces.push({ path: f.path, start, end, ...(header !== undefined && start > 0 ? { header } : {}) });
      start = end;
    }
    return pieces;
  } finally {
    closeSync(fd);
  }
}

/** Groups pieces into about `tasks` tasks of similar byte counts, keeping their order. */
function group(pieces: Array<FilePiece & { bytes: number }>, tasks: number): Array<FilePiece[]> {
  if (pieces.length <= tasks) return pieces.map((p) => [p]);
  const total = pieces.reduce((a, p) => a + p.bytes, 0);
  const per = total / tasks;
  const out: FilePiece[][] = [];
  let cur: FilePiece[] = [];
  let acc = 0;
  for (const p of pieces) {
    cur.push(p);
    acc += p.bytes;
    if (acc >= per * (out.length + 1) && out.length < tasks - 1) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Plans the read tasks of a file source. */
export function planFiles(
  kind: Exclude<ReadTask['kind'], 'range'>,
  paths: string | readonly string[],
  opts: ReadOptions & { csv?: CsvOptions; columns?: string[] },
  targetBlockBytes: number,
  op: string,
): PlannedRead[] {
  if (opts.parallelism !== undefined && !(Number.isInteger(opts.parallelism) && opts.parallelism > 0)) {
    throw new DataSourceError(`${op}(): parallelism must be a whole number above 0, got ${opts.parallelism}`);
  }
  const files = expandPaths(paths, op, opts.fileExtensions);
  const total = files.reduce((a, f) => a + f.size, 0);
  const splittable = kind === 'json' || kind === 'text' || (kind === 'csv' && !opts.csv?.newlinesInValues);
  // Pieces of at most the target block size; smaller when parallelism asks for more tasks.
  let target = targetBlockBytes;
  if (opts.parallelism !== undefined && opts.parallelism > files.length) {
    target = Math.min(target, Math.max(64 * 1024, Math.ceil(total / opts.parallelism)));
  }
  const pieces: Array<FilePiece & { bytes: number }> = [];
  for (const f of files) {
    const ps = splittable ? splitLines(f, target, kind === 'csv') : [{ path: f.path, start: 0, end: -1 }];
    for (const p of ps) pieces.push({ ...p, bytes: p.end < 0 ? f.size : p.end - p.start });
  }
  const tasks = opts.parallelism ?? pieces.length;
  const includePaths = opts.includePaths ?? false;
  return group(pieces, tasks).map((ps) => {
    const clean = ps.map(({ path, start, end, header }) => ({
      path,
      start,
      end,
      ...(header !== undefined ? { header } : {}),
    }));
    const estBytes = ps.reduce((a, p) => a + (p as FilePiece & { bytes: number }).bytes, 0);
    const task: ReadTask =
      kind === 'csv'
        ? { kind, pieces: clean, includePaths, csv: opts.csv ?? {} }
        : kind === 'parquet'
          ? { kind, pieces: clean, includePaths, ...(opts.columns ? { columns: opts.columns } : {}) }
          : { kind, pieces: clean, includePaths };
    return { task, estBytes };
  });
}
