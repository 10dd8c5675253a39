// Worker-thread pools (piscina, tinypool; 2 threads) running the same trivial function
// as sunray's task benchmarks: the peers a Node user would otherwise reach for.

import { fileURLToPath } from 'node:url';
import { onCleanup } from '../harness/cleanup.js';
import { rate } from '../harness/timing.js';
import type { BenchContext, Benchmark, Measurement } from '../harness/types.js';

const WORKER = fileURLToPath(new URL('./trivial-worker.mjs', import.meta.url));
const THREADS = 2;
export const BATCH = 1000;

interface Pool {
  run(x: unknown): Promise<unknown>;
}

let piscina: Promise<Pool> | undefined;
let tinypool: Promise<Pool> | undefined;

function getPiscina(): Promise<Pool> {
  piscina ??= (async () => {
    const { Piscina } = await import('piscina');
    const pool = new Piscina({ filename: WORKER, minThreads: THREADS, maxThreads: THREADS });
    onCleanup('piscina', () => pool.destroy());
    return { run: (x) => pool.run(x) };
  })();
  return piscina;
}

function getTinypool(): Promise<Pool> {
  tinypool ??= (async () => {
    const { Tinypool } = await import('tinypool');
    const pool = new Tinypool({ filename: WORKER, minThreads: THREADS, maxThreads: THREADS });
    onCleanup('tinypool', () => pool.destroy());
    return { run: (x) => pool.run(x) };
  })();
  return tinypool;
}

async function sync(pool: Promise<Pool>, ctx: BenchContext): Promise<Measurement> {
  const p = await pool;
  return rate(() => p.run(0), ctx, { unit: 'tasks/s' });
}

async function async_(pool: Promise<Pool>, ctx: BenchContext): Promise<Measurement> {
  const p = await pool;
  const batch = () => {
    const ps = new Array<Promise<unknown>>(BATCH);
    for (let i = 0; i < BATCH; i++) ps[i] = p.run(0);
    return Promise.all(ps);
  };
  return rate(batch, ctx, { units: BATCH, unit: 'tasks/s' });
}

/** piscina's counterpart of ActorPool.map: run(v) for each value, results read in order. */
async function map(pool: Promise<Pool>, ctx: BenchContext): Promise<Measurement> {
  const p = await pool;
  const values = Array.from({ length: BATCH }, (_, i) => i);
  const once = async () => {
    const ps = values.map((v) => p.run(v));
    for (const r of ps) await r;
  };
  return rate(once, ctx, { units: BATCH, unit: 'items/s' });
}

export const PISCINA_SYNC = 'piscina tasks sync (2 threads)';
export const PISCINA_ASYNC = 'piscina tasks async (2 threads)';
export const PISCINA_MAP = 'piscina map (2 threads)';
export const TINYPOOL_SYNC = 'tinypool tasks sync (2 threads)';
export const TINYPOOL_ASYNC = 'tinypool tasks async (2 threads)';

export const poolBaselines: Benchmark[] = [
  {
    name: PISCINA_SYNC,
    group: 'baseline',
    kind: 'baseline',
    shape: 'piscina 5, 2 worker threads: run(trivial) awaited one at a time',
    run: (ctx) => sync(getPiscina(), ctx),
  },
  {
    name: PISCINA_ASYNC,
    group: 'baseline',
    kind: 'baseline',
    shape: `piscina 5, 2 worker threads: ${BATCH} run(trivial) submitted, then all awaited`,
    run: (ctx) => async_(getPiscina(), ctx),
  },
  {
    name: PISCINA_MAP,
    group: 'baseline',
    kind: 'baseline',
    shape: `piscina 5, 2 worker threads: run(v) for ${BATCH} values, results read in order`,
    run: (ctx) => map(getPiscina(), ctx),
  },
  {
    name: TINYPOOL_SYNC,
    group: 'baseline',
    kind: 'baseline',
    shape: 'tinypool 2, 2 worker threads: run(trivial) awaited one at a time',
    run: (ctx) => sync(getTinypool(), ctx),
  },
  {
    name: TINYPOOL_ASYNC,
    group: 'baseline',
    kind: 'baseline',
    shape: `tinypool 2, 2 worker threads: ${BATCH} run(trivial) submitted, then all awaited`,
    run: (ctx) => async_(getTinypool(), ctx),
  },
];
