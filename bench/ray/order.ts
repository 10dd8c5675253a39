// The order rows run in with --vs-ray. Ray's ray_perf.main() runs its tests in one fixed
// order and cannot go back, so the rows measured by it take their places among themselves in
// that order; rows measured by a script of ours run together, grouped by script, and not
// before the last ray_perf row, so that only one Ray instance is up at a time. Other rows
// (baselines first of all) keep their places. The
// table keeps the registry's order; only the running order changes.

import type { Benchmark } from '../harness/types.js';
import { isCounterpart, RAY_PERF, RAY_PERF_TESTS } from './counterparts.js';

const perfIndex = (b: Benchmark): number => {
  const c = b.vsRay;
  if (!isCounterpart(c) || c.source !== RAY_PERF) return -1;
  return (RAY_PERF_TESTS as readonly string[]).indexOf(c.test);
};

/** The rows of `order`, rearranged as said above (a stable, deterministic reordering). */
export function vsRayOrder(order: readonly Benchmark[]): Benchmark[] {
  const perfSlots: number[] = [];
  const perfRows: Benchmark[] = [];
  const scriptRows: Benchmark[] = [];
  const out: (Benchmark | undefined)[] = [];
  order.forEach((b, i) => {
    const c = b.vsRay;
    if (isCounterpart(c) && c.source === RAY_PERF) {
      perfSlots.push(i);
      perfRows.push(b);
      out.push(undefined);
    } else if (isCounterpart(c)) {
      scriptRows.push(b);
      out.push(undefined);
    } else out.push(b);
  });
  // Stable: rows sharing a Ray test (e.g. a [store API] variant) keep their relative order.
  const sorted = perfRows
    .map((b, i) => ({ b, i, k: perfIndex(b) }))
    .sort((x, y) => x.k - y.k || x.i - y.i)
    .map((x) => x.b);
  perfSlots.forEach((slot, j) => {
    out[slot] = sorted[j];
  });
  // Scripts: each script's rows together, in order of first appearance, where the first of
  // them was, or right after the last ray_perf row if that is later.
  const firstScript = order.findIndex((b) => scriptRows.includes(b));
  const lastPerf = perfSlots.length ? perfSlots[perfSlots.length - 1]! : -1;
  const at = Math.max(lastPerf, firstScript - 1);
  const sources = [...new Set(scriptRows.map((b) => (b.vsRay as { source: string }).source))];
  const grouped = sources.flatMap((s) =>
    scriptRows.filter((b) => (b.vsRay as { source: string }).source === s),
  );
  const before = out.slice(0, at + 1).filter((b): b is Benchmark => b !== undefined);
  const after = out.slice(at + 1).filter((b): b is Benchmark => b !== undefined);
  return [...before, ...grouped, ...after];
}
