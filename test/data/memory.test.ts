// The memory rule on a real store: a dataset four times the store's size streams through
// mapBatches with a class in a pool of two actors, every row arrives, and the store never holds
// more than the execution's budget (half the store) nor spills.
import * as sunray from 'sunray';
import * as data from 'sunray/data';
import { storeStats } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const STORE = 64 * 1024 * 1024;
const ROWS = 4 * 1024 * 1024; // 8 float64 columns: 64 bytes a row, 256 MiB in all

describe('the memory budget', () => {
  beforeAll(async () => {
    const ctx = data.DataContext.getCurrent();
    ctx.progress = 'off';
    ctx.objectStoreMemory = STORE;
    await sunray.init({ numCpus: 2, objectStoreMemory: STORE });
  });
  afterAll(async () => {
    await sunray.shutdown();
  });

  test('4x the store through a class in 2 actors stays under half the store', async () => {
    const budget = data.DataContext.getCurrent().budgetBytes();
    expect(budget).toBe(STORE / 2);
    class Widen {
      call(b: { id: ArrayLike<number> }) {
        const out: Record<string, Float64Array> = { id: Float64Array.from(b.id) };
        for (let c = 0; c < 7; c++) out[`c${c}`] = Float64Array.from(b.id, (v) => v * c);
        return out;
      }
    }
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, storeStats().used);
    }, 2);
    let rows = 0;
    let sum = 0;
    let bytes = 0;
    try {
      const ds = data
        .range(ROWS, { parallelism: 64 })
        .mapBatches<Record<string, number>>(Widen, { concurrency: 2, batchSize: 32 * 1024 });
      for await (const b of ds.iterBatches({ batchSize: 64 * 1024, batchFormat: 'arrow' })) {
        peak = Math.max(peak, storeStats().used);
        rows += b.numRows;
        bytes += b.numRows * 64;
        const c1 = b.getChild('c1')?.toArray() as Float64Array;
        for (const v of c1) sum += v;
      }
    } finally {
      clearInterval(timer);
    }
    expect(rows).toBe(ROWS);
    expect(bytes).toBeGreaterThanOrEqual(4 * STORE);
    expect(sum).toBe((ROWS * (ROWS - 1)) / 2);
    expect(storeStats().spilledObjects).toBe(0);
    expect(peak).toBeLessThanOrEqual(budget);
    console.log(`peak store use ${(peak / 2 ** 20).toFixed(1)} MiB of a ${budget / 2 ** 20} MiB budget`);
  }, 240_000);
});
