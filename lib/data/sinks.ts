// Sinks, run in workers: each write task writes its block as one file in the output directory,
// named by the write's id and the task's index, so that a retried task (its worker died)
// replaces its own file and the output holds every row once. A file is written under a hidden
// temporary name (O_EXCL | O_NOFOLLOW) and renamed into place when complete: readers of the
// directory never see half a file.
import { closeSync, constants, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type * as arrow from 'apache-arrow';
import { encodeBlock, rowsOf } from './block.js';
import { DataSinkError } from './errors.js';
import { parquet } from './sources/readers.js';

/** The formats of the sinks. */
export type SinkFormat = 'parquet' | 'csv' | 'json';

/** A write, as it travels to the tasks. */
export interface WriteSpec {
  format: SinkFormat;
  dir: string;
  /** Names the files of one write: `${prefix}_${index}.${ext}`. */
  prefix: string;
  /** Parquet compression (default 'snappy'). */
  compression?: 'snappy' | 'zstd' | 'gzip' | 'uncompressed';
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (v instanceof Date) s = v.toISOString();
  else if (typeof v === 'object') s = JSON.stringify(v);
  else s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toCsv(table: arrow.Table): Buffer {
  const names = table.schema.fields.map((f) => f.name);
  const lines = [names.map(csvField).join(',')];
  for (const r of rowsOf(table)) lines.push(names.map((n) => csvField(r[n])).join(','));
  return Buffer.from(`${lines.join('\n')}\n`);
}

function toJson(table: arrow.Table): Buffer {
  const out: string[] = [];
  for (const r of rowsOf(table)) {
    out.push(JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)));
  }
  return Buffer.from(out.length > 0 ? `${out.join('\n')}\n` : '');
}

async function toParquet(table: arrow.Table, compression: WriteSpec['compression']): Promise<Uint8Array> {
  const pw = await parquet();
  const codec = {
    snappy: pw.Compression.SNAPPY,
    zstd: pw.Compression.ZSTD,
    gzip: pw.Compression.GZIP,
    uncompressed: pw.Compression.UNCOMPRESSED,
  }[compression ?? 'snappy'];
  const props = new pw.WriterPropertiesBuilder().setCompression(codec).build();
  const wasmTable = pw.Table.fromIPCStream(encodeBlock(table));
  return pw.writeParquet(wasmTable, props);
}

/** Writes a table as the task's file; returns the file's path. */
export async function writeBlock(table: arrow.Table, spec: WriteSpec, index: number): Promise<string> {
  const ext = spec.format;
  const name = `${spec.prefix}_${String(index).padStart(6, '0')}.${ext}`;
  const final = join(spec.dir, name);
  let bytes: Uint8Array;
  try {
    bytes =
      spec.format === 'parquet'
        ? await toParquet(table, spec.compression)
        : spec.format === 'csv'
          ? toCsv(table)
          : toJson(table);
  } catch (err) {
    throw new DataSinkError(`cannot encode a block as ${spec.format}: ${(err as Error).message}`, final);
  }
  const tmp = join(spec.dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    const fd = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
    try {
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new DataSinkError(`cannot write ${final}: ${(err as Error).message}`, final);
  }
  return final;
}
