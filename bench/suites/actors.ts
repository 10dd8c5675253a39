// Ray's actor benchmarks: one caller to one actor, one to many, many to many, sync and async
// actors. "n" is cores/2 as in ray_perf.py (1 on a 2-core machine, at least 1).

import { cpus } from 'node:os';
import { BATCH, PISCINA_ASYNC, PISCINA_MAP, PISCINA_SYNC } from '../baselines/pools.js';
import { callsUnderUs, RAY_248, timesRay } from '../harness/goals.js';
import { rate } from '../harness/timing.js';
import { type Benchmark, SkipError } from '../harness/types.js';
import { noRay, rayPerf } from '../ray/counterparts.js';
import { batch, sunrayDefs, track } from './defs.js';

const nCpu = Math.max(1, Math.floor(cpus().length / 2));

export const actorBenchmarks: Benchmark[] = [
  {
    name: '1:1 actor calls sync',
    group: 'actors',
    kind: 'sunray',
    shape: 'await get(a.smallValue.remote()), one call at a time',
    ray: RAY_248['1:1 actor calls sync'],
    vsRay: rayPerf('1:1 actor calls sync'),
    baselines: [{ name: PISCINA_SYNC }],
    goal: callsUnderUs(50),
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const a = track(Actor.remote());
      return rate(() => api.get(a.smallValue.remote()), ctx, { unit: 'calls/s' });
    },
  },
  {
    name: '1:1 actor calls async',
    group: 'actors',
    kind: 'sunray',
    shape: '1000 a.smallValue calls submitted, then one get of all',
    ray: RAY_248['1:1 actor calls async'],
    vsRay: rayPerf('1:1 actor calls async'),
    baselines: [{ name: PISCINA_ASYNC }],
    goal: timesRay(5, RAY_248['1:1 actor calls async']!),
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const a = track(Actor.remote());
      return rate(() => batch(api, 1000, () => a.smallValue.remote()), ctx, { units: 1000, unit: 'calls/s' });
    },
  },
  {
    name: '1:1 actor calls concurrent',
    group: 'actors',
    kind: 'sunray',
    shape: 'actor with maxConcurrency 16; 1000 calls submitted, then one get',
    ray: RAY_248['1:1 actor calls concurrent'],
    vsRay: rayPerf('1:1 actor calls concurrent'),
    baselines: [{ name: PISCINA_ASYNC }],
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const a = track(Actor.options({ maxConcurrency: 16 }).remote());
      return rate(() => batch(api, 1000, () => a.smallValue.remote()), ctx, { units: 1000, unit: 'calls/s' });
    },
  },
  {
    name: '1:n actor calls async',
    group: 'actors',
    kind: 'sunray',
    shape: `one Client actor calls ${nCpu} actor(s) 5000 times each, then gets all`,
    ray: RAY_248['1:n actor calls async'],
    vsRay: rayPerf('1:n actor calls async'),
    baselines: [{ name: PISCINA_ASYNC }],
    async run(ctx) {
      const { api, Actor, Client } = await sunrayDefs();
      const n = 5000;
      const actors = Array.from({ length: nCpu }, () => track(Actor.remote()));
      const client = track(Client.remote(actors));
      return rate(() => api.get(client.smallValueBatch.remote(n)), ctx, {
        units: n * actors.length,
        unit: 'calls/s',
      });
    },
  },
  {
    name: 'n:n actor calls async',
    group: 'actors',
    kind: 'sunray',
    shape: `4 tasks, each makes 5000 calls spread over ${nCpu} actor(s), then gets them`,
    ray: RAY_248['n:n actor calls async'],
    vsRay: rayPerf('n:n actor calls async'),
    baselines: [{ name: PISCINA_ASYNC }],
    goal: timesRay(5, RAY_248['n:n actor calls async']!),
    timeoutMs: 180_000,
    async run(ctx) {
      const { api, Actor, work } = await sunrayDefs();
      const n = 5000;
      const m = 4;
      const actors = Array.from({ length: nCpu }, () => track(Actor.remote()));
      const fn = () => api.get(Array.from({ length: m }, () => work.remote(actors, n)));
      return rate(fn, ctx, { units: m * n, unit: 'calls/s' });
    },
  },
  {
    name: 'n:n actor calls with arg async',
    group: 'actors',
    kind: 'sunray',
    shape: `${nCpu} Client actor(s), one per actor; each makes 1000 calls with a put(0) ref argument`,
    ray: RAY_248['n:n actor calls with arg async'],
    vsRay: rayPerf('n:n actor calls with arg async'),
    baselines: [{ name: PISCINA_ASYNC }],
    async run(ctx) {
      const { api, Actor, Client } = await sunrayDefs();
      const n = 1000;
      const actors = Array.from({ length: nCpu }, () => track(Actor.remote()));
      const clients = actors.map((a) => track(Client.remote(a)));
      const fn = () => api.get(clients.map((c: any) => c.smallValueBatchArg.remote(n)));
      return rate(fn, ctx, { units: n * clients.length, unit: 'calls/s' });
    },
  },
  {
    name: '1:1 async-actor calls sync',
    group: 'actors',
    kind: 'sunray',
    shape: 'async method: await get(a.smallValue.remote()), one call at a time',
    ray: RAY_248['1:1 async-actor calls sync'],
    vsRay: rayPerf('1:1 async-actor calls sync'),
    baselines: [{ name: PISCINA_SYNC }],
    goal: callsUnderUs(50),
    async run(ctx) {
      const { api, AsyncActor } = await sunrayDefs();
      const a = track(AsyncActor.remote());
      return rate(() => api.get(a.smallValue.remote()), ctx, { unit: 'calls/s' });
    },
  },
  {
    name: '1:1 async-actor calls async',
    group: 'actors',
    kind: 'sunray',
    shape: 'async method: 1000 calls submitted, then one get of all',
    ray: RAY_248['1:1 async-actor calls async'],
    vsRay: rayPerf('1:1 async-actor calls async'),
    baselines: [{ name: PISCINA_ASYNC }],
    goal: timesRay(5, RAY_248['1:1 actor calls async']!),
    async run(ctx) {
      const { api, AsyncActor } = await sunrayDefs();
      const a = track(AsyncActor.remote());
      return rate(() => batch(api, 1000, () => a.smallValue.remote()), ctx, { units: 1000, unit: 'calls/s' });
    },
  },
  {
    name: 'actor launch',
    group: 'actors',
    kind: 'sunray',
    shape:
      'A.remote() (numCpus 0), one call awaited, then kill, one actor at a time: bounded by process starts ' +
      '(each killed actor takes its process with it); figure = actors/s',
    vsRay: noRay('ray_perf has no actor creation row'),
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const launch = async () => {
        const a = Actor.options({ numCpus: 0 }).remote();
        await api.get(a.smallValue.remote());
        (api.kill as (h: unknown) => void)(a);
      };
      return rate(launch, ctx, { unit: 'actors/s' });
    },
  },
  {
    name: 'ActorPool map',
    group: 'actors',
    kind: 'sunray',
    shape: `ActorPool of 2 actors: map((a, v) => a.smallValueArg.remote(v)) over ${BATCH} values, read in order`,
    vsRay: noRay("ray_perf has no ActorPool row; Ray's ActorPool is the same Python loop over actor calls"),
    baselines: [{ name: PISCINA_MAP }],
    async run(ctx) {
      const { api, Actor } = await sunrayDefs();
      const Pool = api.ActorPool as (new (actors: unknown[]) => any) | undefined;
      if (typeof Pool !== 'function') throw new SkipError('sunray.ActorPool is not exported');
      const pool = new Pool([track(Actor.remote()), track(Actor.remote())]);
      const values = Array.from({ length: BATCH }, (_, i) => i);
      const fn = (a: any, v: number) => a.smallValueArg.remote(v);
      const once = async () => {
        for await (const _ of pool.map(fn, values));
      };
      return rate(once, ctx, { units: BATCH, unit: 'items/s' });
    },
  },
];
