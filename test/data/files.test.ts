// sunray/data's sources and sinks on real files: CSV written by csv-stringify and Parquet written
// by hyparquet-writer read back by sunray; sunray's Parquet, CSV and JSON read back by hyparquet
// and by plain parsing; directories and globs; text and binary files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import * as sunray from 'sunray';
import * as data from 'sunray/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const rows = Array.from({ length: 500 }, (_, i) => ({
  id: i,
  price: i * 1.25,
  name: `item, "${i}"`,
  ok: i % 2 === 0,
}));
let dir: string;

async function readParquetFile(path: string): Promise<Record<string, unknown>[]> {
  const buf = readFileSync(path);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
}

describe('sunray/data files', () => {
  beforeAll(async () => {
    data.DataContext.getCurrent().progress = 'off';
    dir = mkdtempSync(join(tmpdir(), 'sunray-data-files-'));
    await sunray.init({ numCpus: 2 });
  });
  afterAll(async () => {
    await sunray.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('CSV written by csv-stringify (quotes, commas, a directory of files) reads as the same rows', async () => {
    const csvDir = join(dir, 'csv');
    await mkdir(csvDir);
    for (let f = 0; f < 4; f++) {
      const part = rows.slice(f * 125, (f + 1) * 125);
      writeFileSync(join(csvDir, `part-${f}.csv`), stringify(part, { header: true }));
    }
    const got = await data.readCsv(csvDir).takeAll();
    expect(got.map((r) => ({ id: r.id, price: r.price, name: r.name }))).toEqual(
      rows.map(({ id, price, name }) => ({ id, price, name })),
    );
    // A glob picks a subset.
    expect(await data.readCsv(join(csvDir, 'part-[01].csv')).count()).toBe(250);
  });

  test('a CSV read in several parts: a column whole in the first and fractional later is float64', async () => {
    // About 3 MiB of text: parsed in parts of about 1 MiB, each typed over its own values,
    // then unified. addColumn's function reads two of the four columns.
    const n = 150_000;
    const lines = ['id,v,label,w'];
    for (let i = 0; i < n; i++) lines.push(`${i},${i < n / 2 ? i : i + 0.5},row-${i % 7},${i % 3}`);
    const path = join(dir, 'parts.csv');
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(readFileSync(path).length).toBeGreaterThan(2.5 * 1024 * 1024);
    const ds = data.readCsv(path).addColumn('sum', (b) => {
      const v = b.v as ArrayLike<number>;
      const w = b.w as ArrayLike<number>;
      const out = new Float64Array(v.length);
      for (let i = 0; i < out.length; i++) out[i] = Number(v[i]) + Number(w[i]);
      return out;
    });
    const got = await ds.takeAll();
    expect(got).toHaveLength(n);
    for (const i of [0, 1, n / 2 - 1, n / 2, n - 1]) {
      const v = i < n / 2 ? i : i + 0.5;
      expect(got[i]).toEqual({ id: i, v, label: `row-${i % 7}`, w: i % 3, sum: v + (i % 3) });
    }
    const schema = await ds.schema();
    expect(String(schema?.fields.find((f) => f.name === 'v')?.type)).toBe('Float64');
  });

  test('Parquet written by hyparquet-writer reads as the same rows', async () => {
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: Int32Array.from(rows, (r) => r.id) },
        { name: 'price', data: Float64Array.from(rows, (r) => r.price) },
        { name: 'name', data: rows.map((r) => r.name) },
        { name: 'ok', data: rows.map((r) => r.ok) },
      ],
    });
    const path = join(dir, 'other.parquet');
    writeFileSync(path, new Uint8Array(buf));
    expect(await data.readParquet(path).takeAll()).toEqual(rows);
    expect(await data.readParquet(path, { columns: ['id'] }).take(2)).toEqual([{ id: 0 }, { id: 1 }]);
  });

  test("sunray's Parquet, CSV and JSON lines read back by other readers as the same rows", async () => {
    const ds = data.fromItems(rows, { parallelism: 4 }).map((r) => ({ ...r, twice: r.price * 2 }));
    const expected = rows.map((r) => ({ ...r, twice: r.price * 2 }));
    const pq = join(dir, 'out-parquet');
    await ds.writeParquet(pq);
    const files = readdirSync(pq)
      .filter((f) => f.endsWith('.parquet'))
      .sort();
    expect(files.length).toBeGreaterThan(0);
    const back: Record<string, unknown>[] = [];
    for (const f of files) back.push(...(await readParquetFile(join(pq, f))));
    expect(back.map((r) => ({ ...r, id: Number(r.id) }))).toEqual(expected);
    expect(await data.readParquet(pq).takeAll()).toEqual(expected);

    const cs = join(dir, 'out-csv');
    await ds.writeCsv(cs);
    expect(await data.readCsv(cs).takeAll()).toEqual(expected);
    const js = join(dir, 'out-json');
    await ds.writeJson(js);
    const lines = readdirSync(js)
      .sort()
      .flatMap((f) => readFileSync(join(js, f), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(expected);
    expect(await data.readJson(js).takeAll()).toEqual(expected);
  });

  test('readText gives lines, readBinaryFiles gives each file whole with its path', async () => {
    const t = join(dir, 'text');
    await mkdir(t);
    writeFileSync(join(t, 'a.txt'), 'one\ntwo\n');
    writeFileSync(join(t, 'b.txt'), 'three\n');
    expect(await data.readText(t).takeAll()).toEqual([{ text: 'one' }, { text: 'two' }, { text: 'three' }]);
    const bin = await data.readBinaryFiles(join(t, '*.txt'), { includePaths: true }).takeAll();
    expect(
      bin.map((r) => [String(r.path).endsWith('a.txt'), Buffer.from(r.bytes as Uint8Array).toString()]),
    ).toEqual([
      [true, 'one\ntwo\n'],
      [false, 'three\n'],
    ]);
  });

  test('a path that does not exist is a DataSourceError naming it', async () => {
    expect(() => data.readCsv(join(dir, 'missing.csv'))).toThrow(data.DataSourceError);
    expect(() => data.readCsv(join(dir, 'missing.csv'))).toThrow(/missing\.csv/);
  });
});
