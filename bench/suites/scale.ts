// --scale: Ray's single-node envelope (release/benchmarks/README.md), each case timed once
// with the peak RSS of the driver and of the node's worker processes.

import { envelope } from '../harness/goals.js';
import { PeakRss } from '../harness/rss.js';
import { testing } from '../harness/sunray.js';
import type { Benchmark, Measurement } from '../harness/types.js';
import { sunrayDefs } from './defs.js';

async function timed(fn: () => Promise<void>): Promise<Measurement> {
  const t = await testing();
  const rss = new PeakRss(typeof t?.workerPids === 'function' ? () => t.workerPids() : undefined).start(100);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    // sampled below
  }
  const s = (performance.now() - t0) / 1000;
  const peak = rss.stop();
  return {
    median: s,
    min: s,
    max: s,
    runs: [s],
    unit: 's',
    higherIsBetter: false,
    extra: {
      driverPeakRssMiB: peak.driverMiB,
      driverRssAtStartMiB: rss.driverStartMiB,
      workerPeakRssMaxMiB: peak.workersMaxMiB,
      workerPeakRssSumMiB: peak.workersSumMiB,
      workersSampled: peak.workers,
    },
    notes: [
      `peak RSS: driver ${peak.driverMiB} MiB (${rss.driverStartMiB} at start)` +
        (rss.workersFound
          ? `, workers max ${peak.workersMaxMiB} MiB (sum ${peak.workersSumMiB} MiB over ${peak.workers})`
          : ' (worker pids not found: driver only)'),
    ],
  };
}

const CHUNK = 100_000;

export const scaleBenchmarks: Benchmark[] = [
  {
    name: '1,000,000 queued trivial tasks',
    group: 'scale',
    kind: 'scale',
    shape: '1M small_value tasks submitted back to back (all queued), then all got in chunks of 100k',
    goal: envelope('Ray: 1,000,000+ queued on one node'),
    timeoutMs: 900_000,
    async run() {
      const { api, smallValue } = await sunrayDefs();
      return timed(async () => {
        const refs = new Array<any>(1_000_000);
        for (let i = 0; i < refs.length; i++) refs[i] = smallValue.remote();
        for (let i = 0; i < refs.length; i += CHUNK) await api.get(refs.slice(i, i + CHUNK));
      });
    },
  },
  {
    name: 'task with 10,000 ObjectRef arguments',
    group: 'scale',
    kind: 'scale',
    shape: '10,000 put(i) refs passed as top-level arguments of one task that sums them',
    goal: envelope('Ray: 10,000+ object arguments'),
    timeoutMs: 300_000,
    async run() {
      const { api } = await sunrayDefs();
      const sum = api.remote((...xs: number[]) => xs.reduce((a, b) => a + b, 0));
      return timed(async () => {
        const refs = Array.from({ length: 10_000 }, (_, i) => api.put(i));
        const got = await api.get(sum.remote(...refs));
        if (got !== (9999 * 10000) / 2) throw new Error(`wrong sum ${got}`);
      });
    },
  },
  {
    name: 'task with 3,000 returns',
    group: 'scale',
    kind: 'scale',
    shape: 'one task with numReturns 3000; all 3000 refs got',
    goal: envelope('Ray: 3,000+ returns from one task'),
    timeoutMs: 300_000,
    async run() {
      const { api } = await sunrayDefs();
      const many = api.remote(() => Array.from({ length: 3000 }, (_, i) => i), { numReturns: 3000 });
      return timed(async () => {
        const refs = many.remote();
        if (!Array.isArray(refs) || refs.length !== 3000)
          throw new Error('numReturns: 3000 did not give 3000 refs');
        const vals = await api.get(refs);
        if (vals[2999] !== 2999) throw new Error('wrong values');
      });
    },
  },
  {
    name: 'one get of 10,000 objects',
    group: 'scale',
    kind: 'scale',
    shape: '10,000 objects of 128 KiB (over the inline limit: in the store) put, then one get of all 10,000',
    goal: envelope('Ray: 10,000+ plasma objects in one get'),
    timeoutMs: 300_000,
    async run() {
      const { api } = await sunrayDefs();
      const payload = Buffer.alloc(128 * 1024, 1);
      const refs = Array.from({ length: 10_000 }, () => api.put(payload));
      try {
        return await timed(async () => {
          const vals = await api.get(refs);
          if (vals.length !== 10_000) throw new Error('short get');
        });
      } finally {
        for (const r of refs) r.release?.();
      }
    },
  },
  {
    name: '100,000 objects in the store',
    group: 'scale',
    kind: 'scale',
    shape: '100,000 small objects put and held, then all got back (chunks of 10k)',
    goal: envelope('sunray: 100,000 live objects'),
    timeoutMs: 300_000,
    async run() {
      const { api } = await sunrayDefs();
      const refs: any[] = [];
      try {
        return await timed(async () => {
          for (let i = 0; i < 100_000; i++) refs.push(api.put(i));
          for (let i = 0; i < refs.length; i += 10_000) await api.get(refs.slice(i, i + 10_000));
        });
      } finally {
        for (const r of refs) r.release?.();
      }
    },
  },
];
