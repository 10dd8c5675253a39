// sunray/data against the same work in one process, measured in the same run (ratio column):
// CSV -> parse -> add a column -> Parquet over 16 CSV files (SUNRAY_BENCH_DATA_MB in all,
// default 1024), against one process parsing each file with the same parser (udsv, through
// sunray/data's parseCsv), adding the column with apache-arrow and writing with parquet-wasm;
// a random shuffle of the same rows; iterBatches throughput against iterating the same Arrow
// table's record batches in the driver directly.
//
// Ray here (--vs-ray): bench/ray/python/data_rows.py runs each row on Ray Data 2.58 over the
// same CSV files (their directory goes to the Ray session in SUNRAY_BENCH_DATA_CSV): read_csv,
// map_batches, write_parquet / random_shuffle / iter_batches. By hand before that (issue #23):
// 0.81 GiB of CSV into Parquet with one added column in 18.8 s, pyarrow alone 4.1 s.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../harness/cleanup.js';
import { timesBaseline } from '../harness/goals.js';
import { summarize } from '../harness/stats.js';
import type { BenchContext, Benchmark, Measurement } from '../harness/types.js';
import { SkipError } from '../harness/types.js';
import { RAY_DATA_PACKAGES, rayScript } from '../ray/counterparts.js';
import { sunrayDefs } from './defs.js';

/** Ray Data over the same rows: bench/ray/python/data_rows.py prints MiB/s, shown as GiB/s. */
const onRayData = (test: string, note: string) =>
  rayScript('data_rows.py', test, { pip: RAY_DATA_PACKAGES, scale: 1 / 1024, unit: 'GiB/s', note });

const specifier = (name: string) => name; // keeps tsc from resolving the module at compile time
const MB = Number(process.env.SUNRAY_BENCH_DATA_MB) || 1024;
const FILES = 16;
export const CSV_ONE_PROCESS = 'CSV -> Parquet in one process (apache-arrow)';
export const ARROW_DIRECT = 'Arrow record batches read directly';

let dataset: { dir: string; csv: string; bytes: number; rows: number } | undefined;

/** The CSV files, written once for all rows (about MB MiB). */
function csvFiles(): { dir: string; csv: string; bytes: number; rows: number } {
  if (dataset) return dataset;
  const dir = mkdtempSync(join(tmpdir(), 'sunray-bench-data-'));
  onCleanup('data bench files', () => rmSync(dir, { recursive: true, force: true }));
  const csv = join(dir, 'csv');
  mkdirSync(csv);
  const perFile = Math.ceil((MB * 1024 * 1024) / FILES);
  let bytes = 0;
  let rows = 0;
  for (let f = 0; f < FILES; f++) {
    const lines = ['id,price,qty,name'];
    let size = lines[0]!.length + 1;
    while (size < perFile) {
      const l = `${rows},${((rows * 7919) % 100000) / 100},${rows % 97},item-${rows % 1000}`;
      lines.push(l);
      size += l.length + 1;
      rows++;
    }
    const text = `${lines.join('\n')}\n`;
    writeFileSync(join(csv, `part-${String(f).padStart(2, '0')}.csv`), text);
    bytes += text.length;
  }
  dataset = { dir, csv, bytes, rows };
  // For --vs-ray: Ray Data's session (started after this row) reads the very same files.
  process.env.SUNRAY_BENCH_DATA_CSV = csv;
  return dataset;
}

function once(seconds: number, bytes: number, notes: string[]): Measurement {
  const gibs = bytes / 1024 ** 3 / seconds;
  return { median: gibs, min: gibs, max: gibs, runs: [gibs], unit: 'GiB/s', higherIsBetter: true, notes };
}

async function dataModule(): Promise<any> {
  await sunrayDefs();
  try {
    const data = await import(specifier('sunray/data'));
    data.DataContext.getCurrent().progress = 'off';
    return data;
  } catch (e) {
    throw new SkipError(`sunray/data not available (${(e as Error).message})`);
  }
}

/** The CSV row's work in this process alone: its baseline. */
async function csvOneProcess(): Promise<Measurement> {
  const arrow = await import('apache-arrow');
  const pw = await import('parquet-wasm');
  const { parseCsv } = await import(specifier('sunray/dist/data/sources/csv.js')).catch(
    () => import(new URL('../../dist/data/sources/csv.js', import.meta.url).href),
  );
  const { csv, bytes } = csvFiles();
  const out = join(csvFiles().dir, 'baseline-out');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  const t0 = performance.now();
  for (const f of readdirSync(csv).sort()) {
    const t = parseCsv(readFileSync(join(csv, f), 'utf8'), {}) as import('apache-arrow').Table;
    const price = t.getChild('price')!.toArray() as Float64Array;
    const qty = t.getChild('qty')!.toArray();
    const total = new Float64Array(t.numRows);
    for (let i = 0; i < total.length; i++) total[i] = price[i]! * Number(qty[i]);
    const cols: Record<string, import('apache-arrow').Vector> = {};
    for (const field of t.schema.fields) cols[field.name] = t.getChild(field.name)!;
    cols.total = arrow.makeVector(total);
    const ipc = arrow.tableToIPC(new arrow.Table(cols), 'stream');
    const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).build();
    writeFileSync(join(out, `${f}.parquet`), pw.writeParquet(pw.Table.fromIPCStream(ipc), props));
  }
  const s = (performance.now() - t0) / 1000;
  rmSync(out, { recursive: true, force: true });
  return once(s, bytes, [`${(bytes / 2 ** 20).toFixed(0)} MiB in ${s.toFixed(1)} s`]);
}

export const dataBaselines: Benchmark[] = [
  {
    name: CSV_ONE_PROCESS,
    group: 'baseline',
    kind: 'baseline',
    shape: `${MB} MiB of CSV in ${FILES} files: parse, add a column, write Parquet (snappy), one process`,
    heavy: true,
    timeoutMs: 900_000,
    run: csvOneProcess,
  },
  {
    name: ARROW_DIRECT,
    group: 'baseline',
    kind: 'baseline',
    shape: 'the CSV rows as one Arrow table in the driver, its record batches iterated, a column summed',
    heavy: true,
    timeoutMs: 900_000,
    async run() {
      const data = await dataModule();
      const { rows } = csvFiles();
      const t = await arrowTable(data);
      const { s, sum } = directPass(t);
      return once(s, tableBytes, [`${rows} rows, sum ${sum}`]);
    },
  },
];

let tableBytes = 0;
let table: Promise<any> | undefined;

/** Sums the qty column of a table's record batches: one record batch's column is one array. */
function sumBatches(t: any): number {
  let sum = 0;
  for (const b of t.batches) {
    const v = b.getChild('qty').toArray();
    for (let i = 0; i < v.length; i++) sum += Number(v[i]);
  }
  return sum;
}

/** One pass of the direct baseline over the table in the driver: seconds and the sum. */
function directPass(t: any): { s: number; sum: number } {
  const t0 = performance.now();
  const sum = sumBatches(t);
  return { s: (performance.now() - t0) / 1000, sum };
}

/** One pass of iterBatches over the materialized dataset, each block summed as the baseline does. */
async function iterPass(ds: any): Promise<{ s: number; sum: number }> {
  const t0 = performance.now();
  let sum = 0;
  // A block is a table of several record batches (repartition joins slices of the CSV's):
  // sumBatches walks them as the direct baseline does. (getChild on the whole table would
  // make a chunked vector, whose toArray() copies the chunks into one array.)
  for await (const t of ds.iterBatches({ batchFormat: 'arrow', batchSize: null, prefetchBatches: 2 }))
    sum += sumBatches(t);
  return { s: (performance.now() - t0) / 1000, sum };
}

/** Passes of the iterBatches row, each beside a pass of the direct baseline. */
const iterRuns = (ctx: BenchContext) => (ctx.quick ? 2 : 5);

/** The CSV rows read once into the driver as an Arrow table (for the iterBatches rows). */
function arrowTable(data: any): Promise<any> {
  table ??= (async () => {
    const arrow = await import('apache-arrow');
    const batches: any[] = [];
    for await (const b of data
      .readCsv(csvFiles().csv)
      .iterBatches({ batchFormat: 'arrow', batchSize: null })) {
      batches.push(...b.batches);
      tableBytes += arrow.tableToIPC(b, 'stream').byteLength;
    }
    return new arrow.Table(batches);
  })();
  return table;
}

export const dataBenchmarks: Benchmark[] = [
  {
    name: 'data: CSV -> parse -> add column -> Parquet',
    group: 'data',
    kind: 'sunray',
    vsRay: onRayData(
      'data: CSV -> parse -> add column -> Parquet',
      'read_csv, map_batches (pyarrow batches, pyarrow.compute) adding total, write_parquet (snappy)',
    ),
    shape: `${MB} MiB of CSV in ${FILES} files: readCsv, addColumn, writeParquet (snappy), right after the one-process baseline's pass (its ratio's baseline)`,
    heavy: true,
    timeoutMs: 900_000,
    baselines: [{ name: CSV_ONE_PROCESS }],
    goal: timesBaseline(1.6, 'one process'),
    async run() {
      const data = await dataModule();
      // The baseline again, just before: its own row runs at the start of the run, and a full
      // run reaches this row about 25 minutes later, on a shared machine whose speed drifts.
      const oneProcess = await csvOneProcess();
      const { csv, bytes, dir } = csvFiles();
      const out = join(dir, 'sunray-out');
      rmSync(out, { recursive: true, force: true });
      const t0 = performance.now();
      await data
        .readCsv(csv)
        .addColumn('total', (b: any) => {
          const p = b.price;
          const q = b.qty;
          const r = new Float64Array(p.length);
          for (let i = 0; i < r.length; i++) r[i] = p[i] * Number(q[i]);
          return r;
        })
        .writeParquet(out);
      const s = (performance.now() - t0) / 1000;
      return {
        ...once(s, bytes, [
          `${(bytes / 2 ** 20).toFixed(0)} MiB in ${s.toFixed(1)} s`,
          `one process just before: ${oneProcess.median.toPrecision(3)} GiB/s`,
        ]),
        paired: { [CSV_ONE_PROCESS]: oneProcess },
      };
    },
  },
  {
    name: 'data: randomShuffle',
    group: 'data',
    kind: 'sunray',
    vsRay: onRayData('data: randomShuffle', 'read_csv, random_shuffle(seed=1), count; CSV bytes'),
    shape: `the ${MB} MiB of CSV rows read, randomShuffle({ seed }), rows counted`,
    heavy: true,
    timeoutMs: 900_000,
    async run() {
      const data = await dataModule();
      const { csv, bytes, rows } = csvFiles();
      const t0 = performance.now();
      const n = await data.readCsv(csv).randomShuffle({ seed: 1 }).count();
      const s = (performance.now() - t0) / 1000;
      if (n !== rows) throw new Error(`shuffle lost rows: ${n} of ${rows}`);
      return once(s, bytes, [`${rows} rows in ${s.toFixed(1)} s (CSV bytes)`]);
    },
  },
  {
    name: 'data: iterBatches',
    group: 'data',
    kind: 'sunray',
    vsRay: onRayData(
      'data: iterBatches',
      "read_csv, repartition(16), materialize off the clock; iter_batches (pyarrow, prefetch 2), qty summed by pyarrow.compute; Arrow's in-memory bytes (sunray: IPC bytes)",
    ),
    shape:
      "the same Arrow table from the store through iterBatches (arrow format, whole blocks), each block's record batches walked and a column summed; 5 passes (--quick 2), each after one of the direct baseline's",
    heavy: true,
    timeoutMs: 900_000,
    baselines: [{ name: ARROW_DIRECT }],
    goal: timesBaseline(0.8, 'direct'),
    async run(ctx) {
      const data = await dataModule();
      const t = await arrowTable(data);
      // One block per record batch: one 1.3 GiB block would need that much contiguous store
      // beside the blocks the cached table's views still pin (the full run failed so).
      const arrow = await import('apache-arrow');
      const blocks = t.batches.map((b: unknown) => new arrow.Table([b as never]));
      const ds = await data.fromArrow(blocks).repartition(FILES).materialize();
      // Passes alternate with the direct baseline's over the same table, so the ratio compares
      // moments of the same noisy machine (a single pass of each moved it from 0.43x to 0.77x).
      const gibs = (s: number) => tableBytes / 1024 ** 3 / s;
      const mine: number[] = [];
      const direct: number[] = [];
      let sum = 0;
      for (let i = 0; i < iterRuns(ctx); i++) {
        const d = directPass(t);
        const m = await iterPass(ds);
        if (m.sum !== d.sum) throw new Error(`iterBatches summed ${m.sum}, the table ${d.sum}`);
        direct.push(gibs(d.s));
        mine.push(gibs(m.s));
        sum = m.sum;
      }
      return {
        ...summarize(mine, 'GiB/s', true),
        notes: [`sum ${sum}`, `${mine.length} passes, each after one of the direct baseline's`],
        paired: { [ARROW_DIRECT]: summarize(direct, 'GiB/s', true) },
      };
    },
  },
];
