// Every transform and consumer of sunray/data on a real runtime (worker processes, the store),
// each against the same operation done in plain JS on the same rows.
import * as sunray from 'sunray';
import * as data from 'sunray/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

interface R {
  id: number;
  g: number;
  x: number;
  s: string;
}
const N = 1000;
const rows: R[] = Array.from({ length: N }, (_, i) => ({
  id: i,
  g: i % 7,
  x: (i * 37) % 101,
  s: `s${i % 13}`,
}));
const ds = () => data.fromItems(rows, { parallelism: 8 });
const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;

describe('sunray/data operations against plain JS', () => {
  beforeAll(async () => {
    data.DataContext.getCurrent().progress = 'off';
    await sunray.init({ numCpus: 2 });
  });
  afterAll(async () => {
    await sunray.shutdown();
  });

  test('sources: range, fromItems, fromArrow', async () => {
    expect(await data.range(100, { parallelism: 4 }).takeAll()).toEqual(
      Array.from({ length: 100 }, (_, id) => ({ id })),
    );
    expect(await ds().takeAll()).toEqual(rows);
    const arrow = await import('apache-arrow');
    const t = arrow.tableFromArrays({ a: Float64Array.from([1, 2, 3]), b: ['x', 'y', 'z'] });
    expect(await data.fromArrow([t, t]).takeAll()).toEqual([
      ...[1, 2, 3].map((a, i) => ({ a, b: 'xyz'[i] })),
      ...[1, 2, 3].map((a, i) => ({ a, b: 'xyz'[i] })),
    ]);
  });

  test('map, filter, flatMap, addColumn, select/drop/rename, limit', async () => {
    expect(
      await ds()
        .map((r) => ({ id: r.id, y: r.x * 2 }))
        .takeAll(),
    ).toEqual(rows.map((r) => ({ id: r.id, y: r.x * 2 })));
    expect(
      await ds()
        .filter((r) => r.x % 3 === 0)
        .takeAll(),
    ).toEqual(rows.filter((r) => r.x % 3 === 0));
    expect(
      await ds()
        .flatMap((r) => (r.g === 0 ? [{ id: r.id }, { id: -r.id }] : []))
        .takeAll(),
    ).toEqual(rows.flatMap((r) => (r.g === 0 ? [{ id: r.id }, { id: -r.id }] : [])));
    expect(
      await ds()
        .addColumn('z', (b) => Array.from(b.x, (v) => v + 1))
        .takeAll(),
    ).toEqual(rows.map((r) => ({ ...r, z: r.x + 1 })));
    expect(await ds().selectColumns(['id', 's']).takeAll()).toEqual(rows.map(({ id, s }) => ({ id, s })));
    expect(await ds().dropColumns(['s', 'g']).takeAll()).toEqual(rows.map(({ id, x }) => ({ id, x })));
    expect(await ds().renameColumns({ x: 'xx' }).take(3)).toEqual(
      rows.slice(0, 3).map(({ x, ...r }) => ({ ...r, xx: x })),
    );
    expect(await ds().limit(17).takeAll()).toEqual(rows.slice(0, 17));
    expect(await ds().count()).toBe(N);
  });

  test('mapBatches in rows, columns and arrow formats, and with a class in an actor pool', async () => {
    const viaRows = await ds()
      .mapBatches((b) => b.map((r) => ({ id: r.id, y: r.x + r.g })), { batchFormat: 'rows', batchSize: 64 })
      .takeAll();
    expect(viaRows).toEqual(rows.map((r) => ({ id: r.id, y: r.x + r.g })));
    const viaCols = await ds()
      .mapBatches((b) => ({ id: b.id, y: Float64Array.from(b.x, (v) => v * 3) }), { batchFormat: 'columns' })
      .takeAll();
    expect(viaCols).toEqual(rows.map((r) => ({ id: r.id, y: r.x * 3 })));
    const viaArrow = await ds()
      .mapBatches((t) => t.select(['id']), { batchFormat: 'arrow' })
      .takeAll();
    expect(viaArrow).toEqual(rows.map((r) => ({ id: r.id })));
    class AddOffset {
      offset: number;
      constructor(offset: number) {
        this.offset = offset;
      }
      call(b: { id: ArrayLike<number>; x: ArrayLike<number> }) {
        return {
          id: b.id,
          y: Array.from(b.x, (v) => v + this.offset),
          pid: Array.from(b.x, () => process.pid),
        };
      }
    }
    const out = await ds()
      .mapBatches(AddOffset, { concurrency: 2, fnConstructorArgs: [1000], batchSize: 50 })
      .takeAll();
    expect(out.map((r) => ({ id: r.id, y: r.y }))).toEqual(rows.map((r) => ({ id: r.id, y: r.x + 1000 })));
    expect(new Set(out.map((r) => r.pid)).size).toBe(2);
    expect(out.every((r) => r.pid !== process.pid)).toBe(true);
  });

  test('repartition, randomShuffle, sort, union, zip, unique', async () => {
    const rep = ds().repartition(3);
    expect(await rep.takeAll()).toEqual(rows);
    const shuffled = await ds().randomShuffle({ seed: 7 }).takeAll();
    expect(shuffled).not.toEqual(rows);
    expect([...shuffled].sort(byId)).toEqual(rows);
    expect(await ds().randomShuffle({ seed: 7 }).takeAll()).toEqual(shuffled);
    expect(
      await ds()
        .sort('x', { descending: true })
        .takeAll()
        .then((r) => r.map((v) => v.x)),
    ).toEqual(rows.map((r) => r.x).sort((a, b) => b - a));
    expect(await ds().sort(['g', 'id']).takeAll()).toEqual(
      [...rows].sort((a, b) => a.g - b.g || a.id - b.id),
    );
    expect(await ds().union(ds().limit(5)).takeAll()).toEqual([...rows, ...rows.slice(0, 5)]);
    const other = data.range(N, { parallelism: 3 }).map((r) => ({ k: r.id * 10 }));
    expect(await ds().selectColumns(['id']).zip(other).takeAll()).toEqual(
      rows.map((r) => ({ id: r.id, k: r.id * 10 })),
    );
    expect((await ds().unique('s')).sort()).toEqual([...new Set(rows.map((r) => r.s))].sort());
  });

  test('groupby with count, sum, min, max, mean, std, and mapGroups', async () => {
    const groups = [...new Set(rows.map((r) => r.g))].sort((a, b) => a - b);
    const xs = (g: number) => rows.filter((r) => r.g === g).map((r) => r.x);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const std = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1));
    expect(await ds().groupby('g').count().takeAll()).toEqual(
      groups.map((g) => ({ g, 'count()': xs(g).length })),
    );
    expect(await ds().groupby('g').sum('x').takeAll()).toEqual(
      groups.map((g) => ({ g, 'sum(x)': xs(g).reduce((a, b) => a + b, 0) })),
    );
    expect(await ds().groupby('g').min('x').takeAll()).toEqual(
      groups.map((g) => ({ g, 'min(x)': Math.min(...xs(g)) })),
    );
    expect(await ds().groupby('g').max('x').takeAll()).toEqual(
      groups.map((g) => ({ g, 'max(x)': Math.max(...xs(g)) })),
    );
    const means = await ds().groupby('g').mean('x').takeAll();
    const stds = await ds().groupby('g').std('x').takeAll();
    groups.forEach((g, i) => {
      expect(means[i]?.['mean(x)']).toBeCloseTo(mean(xs(g)), 9);
      expect(stds[i]?.['std(x)']).toBeCloseTo(std(xs(g)), 9);
    });
    const sizes = await ds()
      .groupby('g')
      .mapGroups((b: { g: ArrayLike<number>; x: ArrayLike<number> }) => ({ g: [b.g[0]], n: [b.x.length] }))
      .takeAll();
    expect(sizes).toEqual(groups.map((g) => ({ g, n: xs(g).length })));
    expect(await ds().sum('x')).toBe(rows.reduce((a, r) => a + r.x, 0));
  });

  test('consumers: schema, take, takeBatch, show, iterRows, iterBatches, materialize, stats', async () => {
    const schema = await ds().schema();
    expect(schema?.fields.map((f) => f.name)).toEqual(['id', 'g', 'x', 's']);
    expect(await ds().take(5)).toEqual(rows.slice(0, 5));
    const batch = await ds().takeBatch(4, { batchFormat: 'columns' });
    expect(Array.from(batch.id as ArrayLike<number>)).toEqual([0, 1, 2, 3]);
    const seen: R[] = [];
    for await (const r of ds().iterRows()) seen.push(r);
    expect(seen).toEqual(rows);
    let n = 0;
    const sizes: number[] = [];
    for await (const b of ds().iterBatches({ batchSize: 100, batchFormat: 'arrow', prefetchBatches: 2 })) {
      sizes.push(b.numRows);
      n += b.numRows;
    }
    expect(n).toBe(N);
    expect(sizes.every((s) => s === 100)).toBe(true);
    const m = await ds()
      .map((r) => ({ id: r.id }))
      .materialize();
    expect(await m.count()).toBe(N);
    expect(await m.takeAll()).toEqual(rows.map((r) => ({ id: r.id })));
    expect(m.stats()).toMatch(/Map/);
    const lines: string[] = [];
    const log = console.log;
    console.log = (s: unknown) => lines.push(String(s));
    try {
      await ds().show(2);
    } finally {
      console.log = log;
    }
    expect(lines.join('\n')).toMatch(/s0[\s\S]*s1/);
  });

  test('streamingSplit gives disjoint, complete shards; trainTestSplit cuts at the fraction', async () => {
    const its = ds().streamingSplit(2, { equal: true });
    const parts = await Promise.all(
      its.map(async (it) => {
        const got: R[] = [];
        for await (const r of it.iterRows()) got.push(r);
        return got;
      }),
    );
    expect(parts[0]?.length).toBe(N / 2);
    expect([...(parts[0] ?? []), ...(parts[1] ?? [])].sort(byId)).toEqual(rows);
    const [train, testSet] = await ds().trainTestSplit(0.25);
    expect(await train.takeAll()).toEqual(rows.slice(0, 750));
    expect(await testSet.takeAll()).toEqual(rows.slice(750));
  });
});
