// The decisions of sunray/data with fakes, no processes: fusion of the physical plan, the memory
// rule (each operator's share, backpressure of a producer whose outputs are not consumed), the
// partitioning of repartition/zip/sort/groupby, and the block conversions and aggregations the
// tasks run, each against the same computation in plain JS.
import * as arrow from 'apache-arrow';
import { describe, expect, test } from 'vitest';
import { aggName, finishPartials, partialOf } from '../../dist/data/aggregate.js';
import { tableFromBatch, tableFromRows } from '../../dist/data/batch.js';
import {
  concatTables,
  decodeBlock,
  encodeBlock,
  lazyColumnsOf,
  rowsOf,
  unifySchemas,
} from '../../dist/data/block.js';
import { mayStart, OutputEstimator, shareOf } from '../../dist/data/budget.js';
import { planPartitions, planSlices } from '../../dist/data/exec/partitioning.js';
import { canFuse, fuse } from '../../dist/data/fusion.js';
import type { Compute, LogicalOp } from '../../dist/data/plan.js';
import { parseCsv } from '../../dist/data/sources/csv.js';
import { globToRegExp } from '../../dist/data/sources/paths.js';
import { csvPartBytes } from '../../dist/data/sources/readers.js';
import { compareKeys, sortIndices, take } from '../../dist/data/table-ops.js';
import { rangeOf } from '../../dist/data/tasks.js';

const fn = { kind: 'source' as const, name: 'f', source: '(r) => r', baseDir: '/', isClass: false };
const tasks: Compute = { kind: 'tasks', size: 0 };
const read: LogicalOp = {
  kind: 'read',
  name: 'Read',
  reads: [{ task: { kind: 'range', start: 0, end: 10 }, estBytes: 80 }],
};
const map = (input: LogicalOp, compute: Compute = tasks, name = 'Map'): LogicalOp => ({
  kind: 'map',
  name,
  input,
  transform: { op: 'map', fn },
  compute,
});

describe('fusion', () => {
  test('a read and the maps after it with the same resources become one operator', () => {
    const p = fuse(map(map(read), tasks, 'Map2'));
    expect(p.kind).toBe('map');
    if (p.kind !== 'map') return;
    expect(p.reads).toHaveLength(1);
    expect(p.transforms).toHaveLength(2);
    expect(p.input).toBeUndefined();
    expect(p.name).toBe('Read->Map->Map2');
  });

  test('different resources, an actor pool after a read, a limit and an all-to-all break fusion', () => {
    const gpu = fuse(map(read, { kind: 'tasks', size: 0, numGpus: 1 }));
    expect(gpu.kind === 'map' && gpu.input?.kind).toBe('map');
    const pool: Compute = { kind: 'actors', size: 2 };
    const afterRead = fuse(map(read, pool));
    expect(afterRead.kind === 'map' && afterRead.compute.kind === 'actors' && afterRead.input?.kind).toBe(
      'map',
    );
    const limit = fuse(map({ kind: 'limit', name: 'Limit', input: read, n: 3 }));
    expect(limit.kind === 'map' && limit.input?.kind).toBe('limit');
    const sorted = fuse(
      map({
        kind: 'allToAll',
        name: 'Sort',
        input: read,
        spec: { kind: 'sort', keys: ['id'], descending: [false] },
      }),
    );
    expect(sorted.kind === 'map' && sorted.input?.kind).toBe('allToAll');
  });

  test('a task map fuses into a following actor pool; nothing fuses after a pool or a write', () => {
    const input: LogicalOp = { kind: 'input', name: 'In', blocks: [] };
    const p = fuse(map(map(input), { kind: 'actors', size: 2 }, 'Pool'));
    expect(p.kind === 'map' && p.compute.kind).toBe('actors');
    expect(p.kind === 'map' && p.transforms.length).toBe(2);
    expect(canFuse(p, tasks)).toBe(false);
    const w = fuse({
      kind: 'write',
      name: 'Write',
      input: map(read),
      spec: { format: 'csv', dir: '/x', prefix: 'p' },
    });
    expect(w.kind === 'map' && w.write?.format).toBe('csv');
    expect(canFuse(w, tasks)).toBe(false);
  });

  test('mapBatches with batchSize bundles its input blocks to that many rows', () => {
    const input: LogicalOp = { kind: 'input', name: 'In', blocks: [] };
    const p = fuse({ ...(map(input) as any), minRows: 500 });
    expect(p.kind === 'map' && p.minRows).toBe(500);
  });
});

describe('the memory rule', () => {
  test('each operator gets an equal share of the budget', () => {
    expect(shareOf(100, 4)).toBe(25);
    expect(shareOf(100, 0)).toBe(100);
  });

  test('an operator holding nothing may always start one task, even for a block above its share', () => {
    expect(mayStart({ aliveBytes: 0, running: 0, estTaskBytes: 10_000 }, 100)).toBe(true);
    expect(mayStart({ aliveBytes: 0, running: 1, estTaskBytes: 10_000 }, 100)).toBe(false);
    expect(mayStart({ aliveBytes: 40, running: 1, estTaskBytes: 30 }, 100)).toBe(true); // 40 + 2*30
    expect(mayStart({ aliveBytes: 50, running: 1, estTaskBytes: 30 }, 100)).toBe(false); // 50 + 2*30
  });

  test('until a task has finished, an operator runs one task alone (its output size is a guess)', () => {
    expect(mayStart({ aliveBytes: 0, running: 0, estTaskBytes: 1, measured: false }, 100)).toBe(true);
    expect(mayStart({ aliveBytes: 0, running: 1, estTaskBytes: 1, measured: false }, 100)).toBe(false);
    expect(mayStart({ aliveBytes: 0, running: 1, estTaskBytes: 1, measured: true }, 100)).toBe(true);
    const e = new OutputEstimator();
    expect(e.measured).toBe(false);
    e.observe(10, 80);
    expect(e.measured).toBe(true);
    expect(e.estimate(10)).toBe(80);
  });

  test('a producer whose outputs are not consumed stops at its share, and goes on when they are', () => {
    // A fake operator: tasks of 10 bytes each that finish at once; the consumer takes none.
    const share = 100;
    const u = { aliveBytes: 0, running: 0, estTaskBytes: 10 };
    let started = 0;
    const step = () => {
      while (mayStart(u, share)) {
        started++;
        u.running++;
      }
      // Every running task finishes: its output is alive until the consumer frees it.
      u.aliveBytes += u.running * 10;
      u.running = 0;
    };
    for (let i = 0; i < 50; i++) step();
    expect(started).toBe(10);
    expect(u.aliveBytes).toBe(100);
    u.aliveBytes -= 30; // the consumer frees three blocks
    step();
    expect(started).toBe(13);
    expect(u.aliveBytes).toBeLessThanOrEqual(share);
  });

  test('the output estimate follows what tasks produced', () => {
    const e = new OutputEstimator();
    expect(e.estimate(64)).toBe(64); // nothing seen: the input's size
    e.observe(100, 50);
    e.observe(100, 150);
    expect(e.estimate(200)).toBe(200); // ratio 1
    e.observe(200, 0);
    expect(e.estimate(400)).toBe(200); // 200 out of 400 in
  });
});

describe('partitioning', () => {
  test('repartition: equal outputs cut across input blocks, every row once', () => {
    const slices = planSlices([5, 0, 7, 3], 4);
    expect(slices.map((s) => s.reduce((a, x) => a + x.end - x.start, 0))).toEqual([3, 4, 4, 4]);
    const seen: string[] = [];
    for (const s of slices)
      for (const x of s) for (let r = x.start; r < x.end; r++) seen.push(`${x.block}:${r}`);
    expect(seen).toHaveLength(15);
    expect(new Set(seen).size).toBe(15);
    expect(seen[0]).toBe('0:0');
    expect(seen[14]).toBe('3:2');
  });

  test('zip: slices of the right side match the left side block sizes', () => {
    const s = planSlices([4, 4], 3, [2, 5, 1]);
    expect(s).toEqual([
      [{ block: 0, start: 0, end: 2 }],
      [
        { block: 0, start: 2, end: 4 },
        { block: 1, start: 0, end: 3 },
      ],
      [{ block: 1, start: 3, end: 4 }],
    ]);
  });

  test('key ranges: boundaries at quantiles of the samples; every key lands in its range', () => {
    const samples = Array.from({ length: 100 }, (_, i) => [99 - i]);
    const asc = [false];
    const b = planPartitions(samples, 4, (x, y) => compareKeys(x, y, asc));
    expect(b).toEqual([[25], [50], [75]]);
    expect(rangeOf([0], b, asc)).toBe(0);
    expect(rangeOf([25], b, asc)).toBe(1);
    expect(rangeOf([99], b, asc)).toBe(3);
    // Descending: ranges run from the largest keys down.
    const desc = [true];
    const bd = planPartitions(samples, 4, (x, y) => compareKeys(x, y, desc));
    expect(bd).toEqual([[74], [49], [24]]);
    expect(rangeOf([99], bd, desc)).toBe(0);
    expect(rangeOf([0], bd, desc)).toBe(3);
  });

  test('key order: numbers, then strings, nulls last; tuples position by position', () => {
    const vals = ['b', null, 3, 'a', 1, null, 2];
    expect([...vals].sort((a, b) => compareKeys([a], [b], [false]))).toEqual([1, 2, 3, 'a', 'b', null, null]);
    expect(compareKeys([1, 'b'], [1, 'a'], [false, true])).toBeLessThan(0);
  });
});

describe('blocks and batches', () => {
  const rows = [
    { id: 1, name: 'a', ok: true, when: new Date(0), tags: ['x'], nested: { k: 1 } },
    { id: 2.5, name: null, ok: false, when: new Date(1000), tags: [], nested: { k: 2 } },
  ];

  test('rows survive a round trip through an IPC block', () => {
    const t = tableFromRows(rows);
    const back = rowsOf(decodeBlock(encodeBlock(t)));
    expect(back).toEqual(rows);
  });

  test('a block decoded from bytes reads them in place (no copy)', () => {
    const bytes = encodeBlock(tableFromBatch({ x: new Float64Array([1, 2, 3]) }, 'test'));
    const t = decodeBlock(bytes);
    expect(t.getChild('x')!.data[0]!.values.buffer).toBe(bytes.buffer);
  });

  test('blocks whose inferred types differ join: int and float widen, missing columns are null', () => {
    const a = tableFromBatch({ x: BigInt64Array.from([1n]) }, 'a');
    const b = tableFromRows([{ x: 1.5, y: 's' }]);
    expect(String(unifySchemas([a.schema, b.schema]).fields.map((f) => f.type))).toBe('Float64,Utf8');
    expect(rowsOf(concatTables([a, b]))).toEqual([
      { x: 1, y: null },
      { x: 1.5, y: 's' },
    ]);
    expect(() => concatTables([tableFromRows([{ x: 's' }]), tableFromRows([{ x: 1 }])])).toThrow(
      /column 'x'/,
    );
  });

  test('CSV: types over all values (int64, float64, bool, utf8), empty fields are null, quotes', () => {
    const t = parseCsv('i,f,b,s\n1,1.5,true,"a, b"\n2,,false,plain\n', {});
    expect(t.schema.fields.map((f) => String(f.type))).toEqual(['Int64', 'Float64', 'Bool', 'Utf8']);
    expect(rowsOf(t)).toEqual([
      { i: 1, f: 1.5, b: true, s: 'a, b' },
      { i: 2, f: null, b: false, s: 'plain' },
    ]);
  });

  test('take and sort indices order rows as a plain sort does', () => {
    const data = Array.from({ length: 50 }, (_, i) => ({ k: (i * 37) % 11, s: `r${i}`, v: i }));
    const t = tableFromRows(data);
    const sorted = rowsOf(take(t, sortIndices(t, ['k', 'v'], [false, true], 'sort')));
    const expected = [...data].sort((a, b) => a.k - b.k || b.v - a.v);
    expect(sorted).toEqual(expected);
  });

  test('aggregations merged from partial states equal the same sums over all rows', () => {
    const data = Array.from({ length: 200 }, (_, i) => ({
      g: i % 3,
      x: (i * 7) % 13,
      y: i % 5 === 0 ? null : i,
    }));
    const aggs = [
      { kind: 'count' as const },
      { kind: 'sum' as const, on: 'x' },
      { kind: 'min' as const, on: 'x' },
      { kind: 'max' as const, on: 'y' },
      { kind: 'mean' as const, on: 'y' },
      { kind: 'std' as const, on: 'x', ddof: 1 },
    ];
    // Three "blocks", folded separately, merged in the reduce.
    const parts = [data.slice(0, 50), data.slice(50, 51), data.slice(51)].map((d) =>
      partialOf(tableFromRows(d), ['g'], aggs),
    );
    const out = rowsOf(finishPartials(parts, ['g'], aggs));
    expect(out.map((r) => r.g)).toEqual([0, 1, 2]);
    for (const r of out) {
      const grp = data.filter((d) => d.g === r.g);
      const xs = grp.map((d) => d.x);
      const ys = grp.map((d) => d.y).filter((y): y is number => y !== null);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(r[aggName(aggs[0]!)]).toBe(grp.length);
      expect(r['sum(x)']).toBe(xs.reduce((a, b) => a + b, 0));
      expect(r['min(x)']).toBe(Math.min(...xs));
      expect(r['max(y)']).toBe(Math.max(...ys));
      expect(r['mean(y)']).toBeCloseTo(ys.reduce((a, b) => a + b, 0) / ys.length, 9);
      expect(r['std(x)']).toBeCloseTo(
        Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)),
        9,
      );
    }
  });

  test('batch results: rows, columns and Arrow tables all become tables', () => {
    expect(tableFromBatch([{ a: 1 }], 'f').numRows).toBe(1);
    expect(tableFromBatch({ a: [1, 2], b: new Int32Array([3, 4]) }, 'f').numRows).toBe(2);
    expect(tableFromBatch(new arrow.Table({ a: arrow.makeVector(new Float64Array([1])) }), 'f').numRows).toBe(
      1,
    );
    expect(() => tableFromBatch(42, 'mapBatches function')).toThrow(/returned number/);
    expect(() => tableFromBatch({ a: [1], b: [1, 2] }, 'f')).toThrow(/differ in length/);
  });

  test('glob patterns: *, ?, ** and classes', () => {
    expect(globToRegExp('/d/*.csv').test('/d/a.csv')).toBe(true);
    expect(globToRegExp('/d/*.csv').test('/d/x/a.csv')).toBe(false);
    expect(globToRegExp('/d/**/*.csv').test('/d/x/y/a.csv')).toBe(true);
    expect(globToRegExp('/d/**/*.csv').test('/d/a.csv')).toBe(true);
    expect(globToRegExp('/d/part-[0-9]?.json').test('/d/part-12.json')).toBe(true);
  });
});

describe('CSV part sizes', () => {
  const MiB = 1024 * 1024;
  test('1 MiB at least, 16 KiB a column, 16 MiB at most', () => {
    expect(csvPartBytes('a,b,c', {})).toBe(MiB);
    const wide = Array.from({ length: 100 }, (_, i) => `c${i}`);
    expect(csvPartBytes(wide.join(','), {})).toBe(100 * 16 * 1024);
    expect(csvPartBytes(wide.join(';'), { delimiter: ';' })).toBe(100 * 16 * 1024);
    const widest = Array.from({ length: 5000 }, (_, i) => `c${i}`).join(',');
    expect(csvPartBytes(widest, {})).toBe(16 * MiB);
  });

  test('columns are counted as the parser reads the header: a quoted delimiter is no column', () => {
    const names = Array.from({ length: 80 }, (_, i) => `"x,${i}"`).join(',');
    expect(parseCsv(`${names}\n`, {}).schema.fields).toHaveLength(80);
    expect(csvPartBytes(names, {})).toBe(80 * 16 * 1024); // not 160 columns' worth
  });
});

describe("addColumn's lazy columns", () => {
  const table = tableFromRows([
    { n: 1, s: 'a', big: 2 ** 40 },
    { n: 2, s: 'b', big: 3 },
  ]);

  test('every column is listed; one is converted when read, as columnsOf converts it', () => {
    const cols = lazyColumnsOf(table);
    expect(Object.keys(cols)).toEqual(['n', 's', 'big']);
    const before = Object.getOwnPropertyDescriptor(cols, 's');
    expect(before?.get).toBeTypeOf('function');
    expect(Array.from(cols.s as ArrayLike<unknown>)).toEqual(['a', 'b']);
    const after = Object.getOwnPropertyDescriptor(cols, 's');
    expect(after?.get).toBeUndefined();
    expect(after?.value).toBe(cols.s); // converted once
    expect(Object.getOwnPropertyDescriptor(cols, 'n')?.get).toBeTypeOf('function'); // not read: not converted
    expect(Array.from(cols.big as ArrayLike<unknown>)).toEqual([2 ** 40, 3]);
  });

  test('a column can be replaced, added or deleted as on a plain object', () => {
    const cols = lazyColumnsOf(table) as Record<string, ArrayLike<unknown>>;
    cols.n = [10, 20];
    cols.extra = [true, false];
    delete cols.s;
    expect(Object.keys(cols)).toEqual(['n', 'big', 'extra']);
    expect(
      tableFromBatch(cols, 'test')
        .toArray()
        .map((r) => r.toJSON()),
    ).toEqual([
      { n: 10, big: 2 ** 40, extra: true },
      { n: 20, big: 3, extra: false },
    ]);
  });
});
