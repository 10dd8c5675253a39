// Get latency of a sealed object straight on the store: a get is a view over the arena,
// so 1 GiB should cost what 1 KiB costs.

import { latencyUnder } from '../harness/goals.js';
import { sharedStore, storeModule } from '../harness/sunray.js';
import { latency } from '../harness/timing.js';
import type { BenchContext, Benchmark } from '../harness/types.js';
import { rayScript } from '../ray/counterparts.js';
import { STORE_API_CAPACITY } from './store.js';

/** What differs on the Ray side (--vs-ray, bench/ray/python/get_latency.py). */
const GET_NOTE =
  'Ray: ray.get of a NumPy array in its object store (its public API; a zero-copy view), timed by its timeit; sunray: the store API get';

async function getLatency(size: number, ctx: BenchContext) {
  const store = await sharedStore(STORE_API_CAPACITY);
  const { ObjectId } = await storeModule();
  const id = ObjectId.random();
  store.create(id, size); // contents don't matter to a get; left untouched (no page faults)
  store.seal(id);
  try {
    const m = await latency(async () => {
      const [h] = await store.get([id], { timeout: 1000 });
      if (typeof h?.release === 'function') h.release();
      else store.release(id);
    }, ctx);
    const h = store.tryGet(id);
    m.notes = [`view length ${h?.data?.length ?? '?'} B`];
    h?.release();
    return m;
  } finally {
    try {
      store.delete(id);
    } catch {
      store.release(id);
      store.delete(id);
    }
  }
}

export const latencyBenchmarks: Benchmark[] = [
  {
    name: 'get latency 1 KiB',
    group: 'latency',
    kind: 'sunray',
    shape: 'sunray/store: await store.get([id]) of a sealed 1 KiB object + release, one at a time',
    vsRay: rayScript('get_latency.py', 'ray.get latency 1 KiB', { convert: 'µs', note: GET_NOTE }),
    goal: latencyUnder(50),
    run: (ctx) => getLatency(1024, ctx),
  },
  {
    name: 'get latency 1 GiB',
    group: 'latency',
    kind: 'sunray',
    shape: 'sunray/store: await store.get([id]) of a sealed 1 GiB object + release; baseline = the 1 KiB row',
    vsRay: rayScript('get_latency.py', 'ray.get latency 1 GiB', { convert: 'µs', note: GET_NOTE }),
    baselines: [{ name: 'get latency 1 KiB' }],
    goal: latencyUnder(50, ', ≈ 1 KiB'),
    run: (ctx) => getLatency(1024 ** 3, ctx),
  },
];
