// Timing loops, shaped like Ray's ray_microbenchmark_helpers.timeit: a warm-up, then
// several timed runs; each run calls fn in steps until it has lasted at least runMs.

import { summarize } from './stats.js';
import type { Measurement, TimingConfig } from './types.js';

type Fn = () => unknown;

function isPromise(x: unknown): x is Promise<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/** Calls fn count times; awaits only when fn returns a promise (sync calls stay sync). */
async function callN(fn: Fn, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const r = fn();
    if (isPromise(r)) await r;
  }
}

interface LoopResult {
  perRun: { calls: number; seconds: number }[];
  calls: number;
}

/** Slow calls (seconds each): fewer runs, within the budget, never fewer than minRuns. */
function runsWithinBudget(perCallMs: number, cfg: TimingConfig): number {
  if (!Number.isFinite(perCallMs) || Math.max(perCallMs, cfg.runMs) * cfg.runs <= cfg.budgetMs)
    return cfg.runs;
  return Math.max(cfg.minRuns, Math.floor(cfg.budgetMs / Math.max(perCallMs, cfg.runMs)));
}

async function loop(fn: Fn, cfg: TimingConfig): Promise<LoopResult> {
  // Warm-up: at least one call, until warmupMs has passed.
  let t0 = performance.now();
  let warm = 0;
  let perCallMs = Number.POSITIVE_INFINITY;
  if (cfg.warmupMs > 0) {
    do {
      await callN(fn, 1);
      warm++;
    } while (performance.now() - t0 < cfg.warmupMs);
    perCallMs = (performance.now() - t0) / warm;
  }
  // Steps of ~1/10 of a run, so the clock is read rarely for fast calls.
  const step = Number.isFinite(perCallMs)
    ? Math.max(1, Math.floor(cfg.runMs / 10 / Math.max(perCallMs, 1e-6)))
    : 1;
  const runs = runsWithinBudget(perCallMs, cfg);
  const perRun: LoopResult['perRun'] = [];
  let calls = 0;
  for (let r = 0; r < runs; r++) {
    t0 = performance.now();
    let count = 0;
    do {
      await callN(fn, step);
      count += step;
    } while (performance.now() - t0 < cfg.runMs);
    perRun.push({ calls: count, seconds: (performance.now() - t0) / 1000 });
    calls += count;
  }
  return { perRun, calls };
}

/** Throughput: `units` operations per call of fn; figure = operations per second (times `scale`). */
export async function rate(
  fn: Fn,
  cfg: TimingConfig,
  opts: { units?: number; unit?: string; scale?: number } = {},
): Promise<Measurement> {
  const units = opts.units ?? 1;
  const scale = opts.scale ?? 1;
  const res = await loop(fn, cfg);
  const runs = res.perRun.map((r) => (units * r.calls * scale) / r.seconds);
  return { ...summarize(runs, opts.unit ?? 'ops/s', true), operations: res.calls * units };
}

/**
 * Throughput of a slow operation whose inputs must be made fresh each time, with a peer (the
 * baseline it is judged against) timed just before each call of it, so both see the same
 * moments of a shared, noisy machine. prepare() runs off the clock and returns the
 * operation, which runs on it; each run times calls one by one until they add up to runMs;
 * warm-up, run count and budget as in rate(). The peer's figures come back in
 * `paired[peer.name]`, in the same unit.
 */
export async function ratePaired(
  prepare: () => Fn,
  peer: { name: string; run: Fn },
  cfg: TimingConfig,
  opts: { units?: number; unit?: string } = {},
): Promise<Measurement> {
  const units = opts.units ?? 1;
  const timed = async (fn: Fn): Promise<number> => {
    const t0 = performance.now();
    const r = fn();
    if (isPromise(r)) await r;
    return performance.now() - t0;
  };
  const pair = async (): Promise<[number, number]> => {
    const peerMs = await timed(peer.run);
    const op = prepare();
    return [peerMs, await timed(op)];
  };
  let spent = 0;
  let warm = 0;
  const w0 = performance.now();
  if (cfg.warmupMs > 0) {
    do {
      spent += (await pair())[1];
      warm++;
    } while (performance.now() - w0 < cfg.warmupMs);
  }
  const runs = runsWithinBudget(warm > 0 ? spent / warm : cfg.runMs, cfg);
  const rates: number[] = [];
  const peerRates: number[] = [];
  let calls = 0;
  for (let r = 0; r < runs; r++) {
    let ms = 0;
    let peerMs = 0;
    let count = 0;
    do {
      const [p, o] = await pair();
      peerMs += p;
      ms += o;
      count++;
    } while (ms < cfg.runMs);
    rates.push((units * count * 1000) / ms);
    peerRates.push((units * count * 1000) / peerMs);
    calls += count;
  }
  const unit = opts.unit ?? 'ops/s';
  return {
    ...summarize(rates, unit, true),
    operations: calls * units,
    paired: { [peer.name]: { ...summarize(peerRates, unit, true), operations: calls * units } },
  };
}

/** Latency: microseconds per operation (`units` operations per call of fn). */
export async function latency(
  fn: Fn,
  cfg: TimingConfig,
  opts: { units?: number } = {},
): Promise<Measurement> {
  const units = opts.units ?? 1;
  const res = await loop(fn, cfg);
  const runs = res.perRun.map((r) => (r.seconds * 1e6) / (r.calls * units));
  return { ...summarize(runs, 'µs', false), operations: res.calls * units };
}

/** Runs fn once per run (after one warm-up call unless warmup is false) and reports its wall time. */
export async function once(
  fn: () => Promise<unknown> | unknown,
  runs: number,
  opts: { warmup?: boolean; unit?: 's' } = {},
): Promise<Measurement> {
  if (opts.warmup !== false) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return { ...summarize(times, 's', false), operations: runs };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects after ms; the timer does not keep the process alive. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${(ms / 1000).toFixed(0)} s: ${what}`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
