// The partitioning decisions of the all-to-all operators, as pure functions (unit-tested):
// which rows of which input blocks make each output block of repartition and zip, and the key
// boundaries that cut sampled keys into ranges of about equal size for sort and groupby.

import { at } from '../checked.js';

/** Rows [start, end) of input block `block`. */
export interface Slice {
  block: number;
  start: number;
  end: number;
}

/**
 * The slices of the inputs (row counts `rows`) that make each of n outputs: equal outputs
 * (their sizes differ by at most one row), or the sizes `counts` when given.
 */
export function planSlices(rows: readonly number[], n: number, counts?: readonly number[]): Slice[][] {
  const total = rows.reduce((a, b) => a + b, 0);
  const sizes =
    counts ??
    Array.from({ length: n }, (_, i) => Math.floor(((i + 1) * total) / n) - Math.floor((i * total) / n));
  const out: Slice[][] = [];
  let block = 0;
  let offset = 0; // rows of `block` already given out
  for (const size of sizes) {
    const slices: Slice[] = [];
    let need = size;
    while (need > 0 && block < rows.length) {
      const left = at(rows, block) - offset;
      if (left <= 0) {
        block++;
        offset = 0;
        continue;
      }
      const take = Math.min(left, need);
      slices.push({ block, start: offset, end: offset + take });
      offset += take;
      need -= take;
      if (offset >= at(rows, block)) {
        block++;
        offset = 0;
      }
    }
    out.push(slices);
  }
  return out;
}

/** P - 1 boundaries over the samples (in `compare` order): range i holds keys below boundary i. */
export function planPartitions<K>(samples: readonly K[], P: number, compare: (a: K, b: K) => number): K[] {
  if (P <= 1 || samples.length === 0) return [];
  const sorted = [...samples].sort(compare);
  const out: K[] = [];
  for (let k = 1; k < P; k++)
    out.push(at(sorted, Math.min(sorted.length - 1, Math.floor((k * sorted.length) / P))));
  return out;
}
