// sunray/tune: the seed's example (a random forest grid search on iris, 108 configs x
// numSamples 10) against the same trials run one after another in this process, and 10,000
// trivial trials (Ray's bookkeeping-overhead release test is the anchor), each with the
// per-trial overhead: the slot time a trial costs beyond its own work.
//
// Ray Tune's side (--vs-ray): bench/ray/python/tune_rf.py runs the same trainables on Ray Tune
// 2.58 with reuse_actors=True (sunray/tune's default; Ray Tune's own default, a new worker per
// trial, costs about 3 s a trial here): the grid with num_samples=1 (108 trials) and 200
// trivial trials (10,000 would take about an hour), each per trial as sunray's rows count it.

import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../harness/cleanup.js';
import { timesBaseline } from '../harness/goals.js';
import { sunray } from '../harness/sunray.js';
import type { BenchContext, Benchmark, Goal, Measurement } from '../harness/types.js';
import { SkipError } from '../harness/types.js';
import { RAY_TUNE_PACKAGES, rayScript } from '../ray/counterparts.js';
import { STORE_BYTES } from './defs.js';

const specifier = (name: string) => name; // keeps tsc from resolving the module at compile time

/** The seed's grid: 3 x 4 x 3 x 3 = 108 configs. */
const GRID = {
  nEstimators: [10, 50, 100],
  maxDepth: [null, 10, 20, 30],
  minSamplesSplit: [2, 5, 10],
  minSamplesLeaf: [1, 2, 4],
};

export const RF_SERIAL = 'tune: random forest grid, one process';
export const RF_ROW = 'tune: random forest grid (108 configs x numSamples 10)';
const RF_OVERHEAD = 'tune: per-trial overhead, random forest grid';
const TRIVIAL_ROW = 'tune: 10,000 trivial trials';
const TRIVIAL_OVERHEAD = 'tune: per-trial overhead, 10,000 trivial trials';

/** numSamples: 10 as in the seed; 1 with --quick (the whole row must fit in a minute). */
const samples = (ctx: BenchContext) => (ctx.quick ? 1 : 10);

async function loadTune(): Promise<any> {
  await sunray({ objectStoreMemory: STORE_BYTES });
  try {
    return await import(specifier('sunray/tune'));
  } catch (e) {
    throw new SkipError(`sunray/tune not available: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function loadTrainRf(): Promise<(config: Record<string, unknown>) => Promise<{ accuracy: number }>> {
  try {
    return (await import('../../examples/tune-random-forest/train-rf.mjs' as string)).trainRf;
  } catch (e) {
    throw new SkipError(
      `examples/tune-random-forest cannot be loaded: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function configs(numSamples: number): Record<string, unknown>[] {
  // Grid order as BasicVariantGenerator makes it (first key fastest), numSamples times.
  const out: Record<string, unknown>[] = [];
  for (let s = 0; s < numSamples; s++)
    for (const minSamplesLeaf of GRID.minSamplesLeaf)
      for (const minSamplesSplit of GRID.minSamplesSplit)
        for (const maxDepth of GRID.maxDepth)
          for (const nEstimators of GRID.nEstimators)
            out.push({ nEstimators, maxDepth, minSamplesSplit, minSamplesLeaf });
  return out;
}

function once(
  value: number,
  unit: string,
  higherIsBetter: boolean,
  notes: string[],
  extra: Measurement['extra'],
): Measurement {
  return { median: value, min: value, max: value, runs: [value], unit, higherIsBetter, notes, extra };
}

/** Ray Tune on the same trainable: bench/ray/python/tune_rf.py (its docstring says how). */
const onRayTune = (test: string, opts: { convert?: 'per'; scale?: number; unit: string; note: string }) =>
  rayScript('tune_rf.py', test, { pip: RAY_TUNE_PACKAGES, ...opts });

const underSeconds = (s: number): Goal => ({ text: `< ${s} s`, met: (m) => m.median < s });

/** Runs an experiment and what it cost: trials, seconds, Σ trial time, slots, per-trial overhead. */
async function experiment(tune: any, trainable: unknown, opts: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'sunray-bench-tune-'));
  try {
    const api = await sunray();
    const slots = Math.floor(Number((api.clusterResources as () => Record<string, number>)().CPU ?? 1));
    const t0 = performance.now();
    const analysis = await tune.run(trainable, { ...opts, verbose: 0, storagePath: dir });
    const seconds = (performance.now() - t0) / 1000;
    const trials: any[] = analysis.trials;
    const errors = trials.filter((t) => t.status !== 'TERMINATED').length;
    if (errors > 0) throw new Error(`${errors} trials did not terminate`);
    const trainS = trials.reduce((a, t) => a + Number(t.lastResult?.time_total_s ?? 0), 0);
    const overheadMs = ((seconds * slots - trainS) / trials.length) * 1000;
    return { analysis, seconds, trials: trials.length, trainS, slots, overheadMs, stats: analysis.stats };
  } finally {
    // 10,000 trial directories take a while to delete: not on the row's clock.
    const removed = rm(dir, { recursive: true, force: true });
    onCleanup(`tune results ${dir}`, () => removed);
  }
}

function overheadRow(name: string, of: string, shape: string, vsRay: Benchmark['vsRay']): Benchmark {
  return {
    name,
    group: 'tune',
    kind: 'sunray',
    shape,
    vsRay,
    async run(ctx) {
      const m = ctx.resultOf(of);
      if (!m?.extra) throw new SkipError(`needs the row '${of}' in the same run`);
      const ms = Number(m.extra.overheadMs);
      return once(ms, 'ms/trial', false, [`from '${of}'`], {
        driverMsPerTrial: m.extra.driverMsPerTrial ?? 0,
        slots: m.extra.slots ?? 0,
      });
    },
  };
}

/** The grid's trials called one after another in this process: the grid row's baseline. */
async function serialGrid(ctx: BenchContext): Promise<Measurement> {
  const trainRf = await loadTrainRf();
  const all = configs(samples(ctx));
  await trainRf(all[0]!); // loads the modules: not a trial's work
  const t0 = performance.now();
  let best = 0;
  for (const c of all) best = Math.max(best, (await trainRf(c)).accuracy);
  const s = (performance.now() - t0) / 1000;
  return once(
    all.length / s,
    'trials/s',
    true,
    [`${all.length} trials in ${s.toFixed(1)} s, best accuracy ${best.toFixed(3)}`],
    { seconds: s, trials: all.length },
  );
}

export const tuneBaselines: Benchmark[] = [
  {
    name: RF_SERIAL,
    group: 'baseline',
    kind: 'baseline',
    shape:
      "the grid row's trials (trainRf of examples/tune-random-forest), called one after another in this process",
    heavy: true,
    timeoutMs: 900_000,
    run: serialGrid,
  },
];

export const tuneBenchmarks: Benchmark[] = [
  {
    name: RF_ROW,
    group: 'tune',
    kind: 'sunray',
    shape:
      "tune.run(trainRf, { config: the seed's grid, numSamples: 10, resourcesPerTrial: { cpu: 1 } }) on this machine's cores (--quick: numSamples 1), right after the one-process baseline's trials (its ratio's baseline)",
    baselines: [{ name: RF_SERIAL }],
    vsRay: onRayTune(RF_ROW, {
      unit: 'trials/s',
      note: "scikit-learn's RandomForestClassifier in Ray Tune 2.58 (reuse_actors=True), num_samples=1: 108 trials",
    }),
    goal: timesBaseline(1.7, 'one process'),
    heavy: true,
    timeoutMs: 900_000,
    async run(ctx) {
      const tune = await loadTune();
      const trainRf = await loadTrainRf();
      // The baseline again, just before: its own row runs at the start of the run, and a full
      // run reaches this row about 25 minutes later, on a shared machine whose speed drifts.
      const serial = await serialGrid(ctx);
      const space = Object.fromEntries(Object.entries(GRID).map(([k, v]) => [k, tune.gridSearch(v)]));
      const x = await experiment(tune, trainRf, {
        config: space,
        metric: 'accuracy',
        mode: 'max',
        resourcesPerTrial: { cpu: 1 },
        numSamples: samples(ctx),
      });
      return {
        ...once(
          x.trials / x.seconds,
          'trials/s',
          true,
          [
            `${x.trials} trials in ${x.seconds.toFixed(1)} s on ${x.slots} slots, best accuracy ${x.analysis.bestResult.accuracy.toFixed(3)}`,
            `per-trial overhead ${x.overheadMs.toFixed(2)} ms (slot time beyond the trial's own ${((x.trainS / x.trials) * 1000).toFixed(1)} ms)`,
            `one process just before: ${serial.median.toFixed(2)} trials/s`,
          ],
          {
            seconds: x.seconds,
            trials: x.trials,
            slots: x.slots,
            overheadMs: x.overheadMs,
            driverMsPerTrial: x.stats.driverMs / x.trials,
            actorsStarted: x.stats.actorsStarted,
          },
        ),
        paired: { [RF_SERIAL]: serial },
      };
    },
  },
  overheadRow(
    RF_OVERHEAD,
    RF_ROW,
    "(wall time x slots - the trials' own time) / trials, from the grid row",
    onRayTune(RF_OVERHEAD, {
      convert: 'per',
      unit: 'ms/trial',
      scale: 1000,
      note: "the same formula on Ray Tune's grid experiment (time_total_s as the trials' own time)",
    }),
  ),
  {
    name: TRIVIAL_ROW,
    group: 'tune',
    kind: 'sunray',
    shape:
      'tune.run of a trainable returning { x } for 10,000 random configs (one result each), 1 CPU per trial',
    vsRay: onRayTune(TRIVIAL_ROW, {
      convert: 'per',
      unit: 's',
      scale: 10_000,
      note: '200 trials on Ray Tune (reuse_actors=True): its trials/s, as seconds for 10,000',
    }),
    goal: underSeconds(60),
    heavy: true,
    timeoutMs: 300_000,
    async run() {
      const tune = await loadTune();
      const x = await experiment(tune, (c: { i: number }) => ({ x: c.i }), {
        config: { i: tune.randint(0, 1_000_000) },
        numSamples: 10_000,
      });
      return once(
        x.seconds,
        's',
        false,
        [
          `${x.trials} trials, ${(x.trials / x.seconds).toFixed(0)} trials/s on ${x.slots} slots`,
          `driver ${(x.stats.driverMs / x.trials).toFixed(3)} ms/trial of bookkeeping (files, searcher, scheduler)`,
        ],
        {
          trials: x.trials,
          slots: x.slots,
          overheadMs: x.overheadMs,
          driverMsPerTrial: x.stats.driverMs / x.trials,
          actorsStarted: x.stats.actorsStarted,
        },
      );
    },
  },
  overheadRow(
    TRIVIAL_OVERHEAD,
    TRIVIAL_ROW,
    'wall time x slots / trials, from the 10,000 trivial trials row',
    onRayTune(TRIVIAL_OVERHEAD, {
      convert: 'per',
      unit: 'ms/trial',
      scale: 1000,
      note: "the same formula on Ray Tune's 200 trivial trials",
    }),
  ),
];
