// Ray's task benchmarks: a trivial remote function, submitted one at a time, in batches, and
// from several clients (actors that submit tasks themselves).

import { BATCH, PISCINA_ASYNC, PISCINA_SYNC, TINYPOOL_ASYNC, TINYPOOL_SYNC } from '../baselines/pools.js';
import { atLeast, beatsRay, RAY_248, timesBaseline } from '../harness/goals.js';
import { rate } from '../harness/timing.js';
import type { Benchmark } from '../harness/types.js';
import { noRay, rayPerf } from '../ray/counterparts.js';
import { batch, sunrayDefs, track } from './defs.js';

export const taskBenchmarks: Benchmark[] = [
  {
    name: 'single client tasks and get batch',
    group: 'tasks',
    kind: 'sunray',
    shape: '1000 small_value tasks submitted, then one get of all; figure = batches/s',
    ray: RAY_248['single client tasks and get batch'],
    vsRay: rayPerf('single client tasks and get batch'),
    baselines: [
      { name: PISCINA_ASYNC, scale: 1 / BATCH },
      { name: TINYPOOL_ASYNC, scale: 1 / BATCH },
    ],
    async run(ctx) {
      const { api, smallValue } = await sunrayDefs();
      return rate(() => batch(api, 1000, () => smallValue.remote()), ctx, { unit: 'batches/s' });
    },
  },
  {
    name: 'single client get object containing 10k refs',
    group: 'tasks',
    kind: 'sunray',
    shape: 'one task returns a list of 10,000 refs (put(1) each); get of that object, repeated',
    ray: RAY_248['single client get object containing 10k refs'],
    vsRay: rayPerf('single client get object containing 10k refs'),
    goal: beatsRay(13.37),
    async run(ctx) {
      const { api, createObjectContainingRef } = await sunrayDefs();
      const ref = createObjectContainingRef.remote();
      await api.get(ref);
      return rate(() => api.get(ref), ctx, { unit: 'gets/s' });
    },
  },
  {
    name: 'single client wait 1k refs',
    group: 'tasks',
    kind: 'sunray',
    shape: '1000 small_value tasks, then 1000 x wait(notReady, numReturns 1); figure = rounds/s',
    ray: RAY_248['single client wait 1k refs'],
    vsRay: rayPerf('single client wait 1k refs'),
    async run(ctx) {
      const { api, smallValue } = await sunrayDefs();
      const fn = async () => {
        let notReady: unknown[] = Array.from({ length: 1000 }, () => smallValue.remote());
        for (let i = 0; i < 1000; i++) {
          [, notReady] = await api.wait(notReady, { numReturns: 1 });
        }
      };
      return rate(fn, ctx, { unit: 'rounds/s' });
    },
  },
  {
    name: 'single client tasks sync',
    group: 'tasks',
    kind: 'sunray',
    shape: 'await get(small_value.remote()), one task at a time',
    ray: RAY_248['single client tasks sync'],
    vsRay: rayPerf('single client tasks sync'),
    baselines: [{ name: PISCINA_SYNC }, { name: TINYPOOL_SYNC }],
    goal: atLeast(20_000),
    async run(ctx) {
      const { api, smallValue } = await sunrayDefs();
      return rate(() => api.get(smallValue.remote()), ctx, { unit: 'tasks/s' });
    },
  },
  {
    name: 'single client tasks async',
    group: 'tasks',
    kind: 'sunray',
    shape: '1000 small_value tasks submitted, then one get of all; figure = tasks/s',
    ray: RAY_248['single client tasks async'],
    vsRay: rayPerf('single client tasks async'),
    baselines: [{ name: PISCINA_ASYNC }, { name: TINYPOOL_ASYNC }],
    goal: timesBaseline(3, 'piscina'),
    async run(ctx) {
      const { api, smallValue } = await sunrayDefs();
      return rate(() => batch(api, 1000, () => smallValue.remote()), ctx, { units: 1000, unit: 'tasks/s' });
    },
  },
  {
    name: 'streaming generator items',
    group: 'tasks',
    kind: 'sunray',
    shape:
      'one generator task yields 10,000 small values; the driver takes each ref as it comes; figure = items/s',
    vsRay: noRay("ray_perf has no streaming generator row (Ray's num_returns='streaming')"),
    baselines: [{ name: 'single client tasks async' }],
    goal: timesBaseline(1, 'single client tasks async'),
    async run(ctx) {
      const { api, streamItems } = await sunrayDefs();
      const n = 10_000;
      const fn = async () => {
        let last: unknown;
        for await (const ref of streamItems.remote(n)) last = ref;
        if ((await api.get(last)) !== n - 1) throw new Error('the generator lost items');
      };
      return rate(fn, ctx, { units: n, unit: 'items/s' });
    },
  },
  {
    name: 'multi client tasks async',
    group: 'tasks',
    kind: 'sunray',
    shape: '4 actors, each submits 10,000 small_value tasks and gets them; figure = tasks/s',
    ray: RAY_248['multi client tasks async'],
    vsRay: rayPerf('multi client tasks async'),
    baselines: [{ name: PISCINA_ASYNC }, { name: TINYPOOL_ASYNC }],
    goal: timesBaseline(3, 'piscina'),
    timeoutMs: 180_000,
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const n = 10_000;
      const actors = Array.from({ length: 4 }, () => track(Actor.remote()));
      const fn = () => api.get(actors.map((a: any) => a.smallValueBatch.remote(n)));
      return rate(fn, ctx, { units: n * actors.length, unit: 'tasks/s' });
    },
  },
];
