// Ray's object store benchmarks ("Plasma Store" calls, put gigabytes), through the sunray
// API (put/get of the runtime) and, as [store API] rows, straight on sunray/store.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FRESH_SOURCE_COPY, MEMCPY, PUT_BYTES } from '../baselines/memcpy.js';
import { atLeast, RAY_248, timesBaseline } from '../harness/goals.js';
import { summarize } from '../harness/stats.js';
import { sharedStore } from '../harness/sunray.js';
import { rate } from '../harness/timing.js';
import type { BenchContext, Benchmark, Measurement } from '../harness/types.js';
import { noRay, RAY_GIGABYTES_TO_GB, rayPerf } from '../ray/counterparts.js';
import { sunrayDefs } from './defs.js';

/** Arena for the store-API rows: one 800 MiB put, or a 1 GiB object for the latency rows, at a time. */
export const STORE_API_CAPACITY = 1.5 * 1024 ** 3;
const SMALL_BATCH = 1000;

/** What differs on the Ray side (--vs-ray) of the [store API] rows. */
const STORE_API_NOTE = 'sunray: its store API directly; Ray: ray.put/ray.get, its public API';
const PUT_GB_NOTE = 'Ray puts a 100 Mi-element int64 NumPy array (838,860,800 B), sunray an 800 MiB Buffer';

const execFileP = promisify(execFile);
const FIRST_PUT_ARM = join(import.meta.dirname, '..', 'arms', 'first-put-arm.mjs');
/** The bounds for a fresh store's first 800 MiB put: this share of memcpy, init() this fast. */
const FIRST_PUT_VS_MEMCPY = 0.5;
const INIT_MS_MAX = 1000;

/**
 * Each run a driver of its own (first-put-arm.mjs): memcpy in that process, then init() and
 * the first put. Figure: the put's GB/s; vsMemcpy: the median of the per-process ratios.
 */
async function firstPut(ctx: BenchContext): Promise<Measurement> {
  const runs = ctx.quick ? 3 : Math.max(7, ctx.runs);
  const puts: number[] = [];
  const ratios: number[] = [];
  const inits: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await execFileP(process.execPath, [FIRST_PUT_ARM], {
      cwd: join(import.meta.dirname, '..', '..'),
      timeout: 120_000,
    });
    const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
      put: number;
      memcpy: number;
      initMs: number;
    };
    puts.push(r.put);
    ratios.push(r.put / r.memcpy);
    inits.push(r.initMs);
  }
  const ratio = summarize(ratios, 'x', true).median;
  const initMs = summarize(inits, 'ms', false).median;
  return {
    ...summarize(puts, 'GB/s', true),
    extra: {
      vsMemcpy: Number(ratio.toFixed(3)),
      initMs: Math.round(initMs),
      initMsMax: Math.round(Math.max(...inits)),
    },
    notes: [
      `memcpy in the same processes: paired ratio ${ratio.toFixed(2)}×; init() ${Math.round(initMs)} ms median, ${Math.round(Math.max(...inits))} ms max`,
    ],
  };
}

/** Deletes an object one way or the other: the creator may hold a reference after seal. */
function dropper(store: any): (id: unknown) => void {
  return (id) => {
    try {
      store.delete(id);
    } catch {
      store.release(id);
      store.delete(id);
    }
  };
}

export const storeBenchmarks: Benchmark[] = [
  {
    name: 'single client get calls (Plasma Store)',
    group: 'store',
    kind: 'sunray',
    shape: 'await sunray.get(ref) of one small put(0) object, one call at a time',
    ray: RAY_248['single client get calls (Plasma Store)'],
    vsRay: rayPerf('single client get calls (Plasma Store)'),
    goal: atLeast(200_000),
    async run(ctx) {
      const { api } = await sunrayDefs();
      const ref = api.put(0);
      return rate(() => api.get(ref), ctx, { unit: 'calls/s' });
    },
  },
  {
    name: 'single client put calls (Plasma Store)',
    group: 'store',
    kind: 'sunray',
    shape: 'sunray.put(0), the ref dropped at once (release), one call at a time',
    ray: RAY_248['single client put calls (Plasma Store)'],
    vsRay: rayPerf('single client put calls (Plasma Store)'),
    goal: atLeast(100_000),
    async run(ctx) {
      const { api } = await sunrayDefs();
      return rate(() => api.put(0).release?.(), ctx, { unit: 'calls/s' });
    },
  },
  {
    name: 'multi client put calls (Plasma Store)',
    group: 'store',
    kind: 'sunray',
    shape: '10 tasks, each 100 x sunray.put(0); counted per put',
    ray: RAY_248['multi client put calls (Plasma Store)'],
    vsRay: rayPerf('multi client put calls (Plasma Store)'),
    goal: atLeast(100_000),
    async run(ctx) {
      const { api, doPutSmall } = await sunrayDefs();
      const fn = () => api.get(Array.from({ length: 10 }, () => doPutSmall.remote()));
      return rate(fn, ctx, { units: 1000, unit: 'calls/s' });
    },
  },
  {
    name: 'single client put gigabytes',
    group: 'store',
    kind: 'sunray',
    shape: 'sunray.put(800 MiB Buffer), ref released; GB/s (1e9 bytes)',
    ray: RAY_248['single client put gigabytes'],
    vsRay: rayPerf('single client put gigabytes', {
      scale: RAY_GIGABYTES_TO_GB,
      note: PUT_GB_NOTE,
    }),
    baselines: [{ name: MEMCPY }],
    goal: timesBaseline(0.8, 'memcpy'),
    async run(ctx) {
      const { api } = await sunrayDefs();
      const arr = Buffer.alloc(PUT_BYTES, 3);
      return rate(() => api.put(arr).release?.(), ctx, { units: PUT_BYTES / 1e9, unit: 'GB/s' });
    },
  },
  {
    name: 'first put gigabytes (fresh store)',
    group: 'store',
    kind: 'sunray',
    shape: 'a driver of its own: init() (default store), then at once sunray.put(800 MiB Buffer); GB/s',
    vsRay: noRay('Ray publishes no first-put figure; its put gigabytes rows time a warm store'),
    goal: {
      text: `≥ ${FIRST_PUT_VS_MEMCPY}× memcpy (same process), init() < ${INIT_MS_MAX} ms`,
      met: (m) =>
        Number(m.extra?.vsMemcpy) >= FIRST_PUT_VS_MEMCPY && Number(m.extra?.initMsMax) < INIT_MS_MAX,
    },
    heavy: true,
    timeoutMs: 600_000,
    run: firstPut,
  },
  {
    name: 'single client put gigabytes (2 GiB object)',
    group: 'store',
    kind: 'sunray',
    shape: 'sunray.put(2 GiB Buffer), ref released; GB/s (1e9 bytes)',
    vsRay: noRay('Ray publishes put gigabytes for 800 MiB objects only'),
    baselines: [{ name: MEMCPY }],
    goal: timesBaseline(0.8, 'memcpy'),
    heavy: true,
    async run(ctx) {
      const { api } = await sunrayDefs();
      const arr = Buffer.alloc(2 * 1024 ** 3, 3);
      return rate(() => api.put(arr).release?.(), ctx, { units: arr.length / 1e9, unit: 'GB/s' });
    },
  },
  {
    name: 'multi client put gigabytes',
    group: 'store',
    kind: 'sunray',
    shape: '10 tasks, each puts 10 fresh 80 MiB Buffers (8.4 GB per round); GB/s',
    ray: RAY_248['multi client put gigabytes'],
    vsRay: rayPerf('multi client put gigabytes', {
      scale: RAY_GIGABYTES_TO_GB,
      note: 'Ray: 10 tasks x 10 puts of a fresh np.zeros(10 Mi int64), 80 MiB each, as sunray',
    }),
    // The second baseline is this shape's own limit per process: its fresh Buffers' pages
    // are first touched by the copy into the store (see docs/performance.md).
    baselines: [{ name: MEMCPY }, { name: FRESH_SOURCE_COPY }],
    goal: timesBaseline(0.8, 'memcpy'),
    heavy: true,
    timeoutMs: 360_000, // ~100 s alone here; twice that on a loaded machine
    async run(ctx) {
      const { api, doPut } = await sunrayDefs();
      const fn = () => api.get(Array.from({ length: 10 }, () => doPut.remote()));
      return rate(fn, ctx, { units: (100 * 80 * 1024 * 1024) / 1e9, unit: 'GB/s' });
    },
  },
  {
    name: 'single client get calls (Plasma Store) [store API]',
    group: 'store',
    kind: 'sunray',
    shape: 'sunray/store: tryGet(id) of a sealed 8-byte object, then release()',
    ray: RAY_248['single client get calls (Plasma Store)'],
    vsRay: rayPerf('single client get calls (Plasma Store)', { note: STORE_API_NOTE }),
    goal: atLeast(200_000),
    async run(ctx) {
      const store = await sharedStore(STORE_API_CAPACITY);
      const { storeModule } = await import('../harness/sunray.js');
      const { ObjectId } = await storeModule();
      const id = ObjectId.random();
      store.create(id, 8)[0] = 1;
      store.seal(id);
      try {
        return await rate(
          () => {
            const h = store.tryGet(id);
            h.release();
          },
          ctx,
          { unit: 'calls/s' },
        );
      } finally {
        dropper(store)(id);
      }
    },
  },
  {
    name: 'single client put calls (Plasma Store) [store API]',
    group: 'store',
    kind: 'sunray',
    shape: `sunray/store: create(random id, 8 B) + write + seal, ${SMALL_BATCH} per batch, then each deleted (delete counted)`,
    ray: RAY_248['single client put calls (Plasma Store)'],
    vsRay: rayPerf('single client put calls (Plasma Store)', { note: STORE_API_NOTE }),
    goal: atLeast(100_000),
    async run(ctx) {
      const store = await sharedStore(STORE_API_CAPACITY);
      const { storeModule } = await import('../harness/sunray.js');
      const { ObjectId } = await storeModule();
      const drop = dropper(store);
      const ids = new Array<unknown>(SMALL_BATCH);
      const fn = () => {
        for (let i = 0; i < SMALL_BATCH; i++) {
          const id = ObjectId.random();
          store.create(id, 8)[0] = 1;
          store.seal(id);
          ids[i] = id;
        }
        for (let i = 0; i < SMALL_BATCH; i++) drop(ids[i]);
      };
      return rate(fn, ctx, { units: SMALL_BATCH, unit: 'calls/s' });
    },
  },
  {
    name: 'single client put gigabytes [store API]',
    group: 'store',
    kind: 'sunray',
    shape: 'sunray/store: create(800 MiB) + Buffer.copy into it + seal, then delete; GB/s',
    ray: RAY_248['single client put gigabytes'],
    vsRay: rayPerf('single client put gigabytes', {
      scale: RAY_GIGABYTES_TO_GB,
      note: `${STORE_API_NOTE}; ${PUT_GB_NOTE}`,
    }),
    baselines: [{ name: MEMCPY }],
    goal: timesBaseline(0.8, 'memcpy'),
    async run(ctx) {
      const store = await sharedStore(STORE_API_CAPACITY);
      const { storeModule } = await import('../harness/sunray.js');
      const { ObjectId } = await storeModule();
      const drop = dropper(store);
      const src = Buffer.alloc(PUT_BYTES, 5);
      const fn = () => {
        const id = ObjectId.random();
        src.copy(store.create(id, PUT_BYTES));
        store.seal(id);
        drop(id);
      };
      return rate(fn, ctx, { units: PUT_BYTES / 1e9, unit: 'GB/s' });
    },
  },
];
