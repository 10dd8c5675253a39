// What recording task events costs (#20: every row at or above 0.9x with events on): the
// hot-path loops of the task and actor rows, each run by a driver with task events on and
// by one with them off, alternately (a noisy machine: pairs taken at the same moments),
// figure = the median with events on, vsEventsOff = the median of the paired ratios.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { summarize } from '../harness/stats.js';
import type { BenchContext, Benchmark, Measurement } from '../harness/types.js';
import { noRay } from '../ray/counterparts.js';

const run = promisify(execFile);
const ARM = join(import.meta.dirname, '..', 'arms', 'task-events-arm.mjs');
/** The bound: with events on, at least this share of the figure with them off. */
const MIN_VS_OFF = 0.9;

async function arm(row: string, on: boolean, ms: number): Promise<number> {
  const { stdout } = await run(process.execPath, [ARM, row, on ? 'on' : 'off', String(ms)], {
    cwd: join(import.meta.dirname, '..', '..'),
    timeout: 60_000,
  });
  return (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { rate: number }).rate;
}

async function paired(row: string, unit: string, ctx: BenchContext): Promise<Measurement> {
  const pairs = ctx.quick ? 3 : Math.max(7, ctx.runs);
  const ms = ctx.quick ? 800 : 2000;
  const on: number[] = [];
  const off: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // Which arm goes first alternates too: neither always gets the warmer machine.
    const first = i % 2 === 0;
    const a = await arm(row, first, ms);
    const b = await arm(row, !first, ms);
    const [withEvents, without] = first ? [a, b] : [b, a];
    on.push(withEvents);
    off.push(without);
    ratios.push(withEvents / without);
  }
  const m = summarize(on, unit, true);
  const r = summarize(ratios, 'x', true).median;
  const offMedian = summarize(off, unit, true).median;
  return {
    ...m,
    extra: { vsEventsOff: Number(r.toFixed(3)), eventsOff: Math.round(offMedian) },
    notes: [`events off in the same run: ${Math.round(offMedian)} ${unit} (paired ratio ${r.toFixed(2)}×)`],
  };
}

function row(loop: string, unit: string, shape: string): Benchmark {
  return {
    name: `task events: ${loop}`,
    group: 'tasks',
    kind: 'sunray',
    shape: `${shape}; each run a driver of its own, events on and off alternately (vsEventsOff: paired ratio)`,
    vsRay: noRay("Ray's task events cannot be switched off per driver in its microbenchmarks"),
    goal: {
      text: `≥ ${MIN_VS_OFF}× events off (same run)`,
      met: (m) => Number(m.extra?.vsEventsOff) >= MIN_VS_OFF,
    },
    run: (ctx) => paired(loop, unit, ctx),
  };
}

export const taskEventBenchmarks: Benchmark[] = [
  row('tasks sync', 'tasks/s', 'await get(small_value.remote()), one at a time'),
  row('tasks async', 'tasks/s', '1000 small_value tasks, then one get of all'),
  row('actor calls sync', 'calls/s', 'await get(a.smallValue.remote()), one at a time'),
  row('actor calls async', 'calls/s', '1000 a.smallValue calls from the driver, then one get of all'),
  row('direct actor calls async', 'calls/s', 'a task makes 1000 a.smallValue calls over a direct channel'),
];
