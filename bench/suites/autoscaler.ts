// The autoscaler's latency (#21): from a task only a new node type can run to its result,
// the node launched by the autoscaler (local provider, 1 s rounds), beside the same task
// with the node started by hand (`sunray start` joining) at the submission. Each run a
// fresh head and driver of its own (bench/arms/autoscaler-arm.mjs), the two alternately;
// figure = the autoscaler's median, vsStart = the median of the paired ratios.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { summarize } from '../harness/stats.js';
import type { BenchContext, Benchmark, Measurement } from '../harness/types.js';
import { noRay } from '../ray/counterparts.js';

const run = promisify(execFile);
const ARM = join(import.meta.dirname, '..', 'arms', 'autoscaler-arm.mjs');
/** The baseline, measured interleaved with the row (no row of its own). */
const BY_HAND = 'sunray start: a node joining plus the task';

async function arm(mode: 'autoscaler' | 'start'): Promise<number> {
  const { stdout } = await run(process.execPath, [ARM, mode], {
    cwd: join(import.meta.dirname, '..', '..'),
    timeout: 120_000,
  });
  return (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { ms: number }).ms;
}

async function demandToTask(ctx: BenchContext): Promise<Measurement> {
  const pairs = ctx.quick ? 3 : Math.max(5, ctx.runs);
  const scaled: number[] = [];
  const byHand: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // Which arm goes first alternates: neither always gets the warmer machine.
    const first = i % 2 === 0;
    const a = await arm(first ? 'autoscaler' : 'start');
    const b = await arm(first ? 'start' : 'autoscaler');
    const [auto, start] = first ? [a, b] : [b, a];
    scaled.push(auto);
    byHand.push(start);
    ratios.push(auto / start);
  }
  const m = summarize(scaled, 'ms', false);
  const r = summarize(ratios, 'x', false).median;
  const startMs = summarize(byHand, 'ms', false).median;
  return {
    ...m,
    paired: { [BY_HAND]: summarize(byHand, 'ms', false) },
    extra: { vsStart: Number(r.toFixed(2)), startMs: Math.round(startMs) },
    notes: [
      `a plain \`sunray start\` joining plus the task, same run: ${Math.round(startMs)} ms (paired ratio ${r.toFixed(2)}×)`,
    ],
  };
}

export const autoscalerBenchmarks: Benchmark[] = [
  {
    name: 'autoscaler: demand to a task on a new node',
    group: 'cluster',
    kind: 'sunray',
    shape:
      'head alone; a task needing { special: 1 } submitted; ms to its result, the node launched by the autoscaler ' +
      '(local provider, 1 s rounds); vsStart: paired ratio to a `sunray start` of that node at the submission',
    vsRay: noRay(
      "Ray's autoscaler latency is not in its microbenchmarks (and its local provider is not comparable)",
    ),
    baselines: [{ name: BY_HAND }],
    heavy: true,
    timeoutMs: 900_000,
    run: demandToTask,
  },
];
