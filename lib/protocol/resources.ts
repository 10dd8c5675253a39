// Local scheduling, Ray style: tasks wait in a queue per resource shape
// ("scheduling class"); a worker is leased for a class with that class's
// resources held, and runs its tasks back to back. Tasks are pipelined to a
// leased worker (several in flight) only when no more leases can be made, so
// short tasks batch for throughput while long ones still spread out.
import { InvalidArgumentError } from '../base/errors.js';

export const PIPELINE_DEPTH = 64;

/** Fixed-point demand as the native ResourcePool takes it (plain numbers; the pool converts). */
export type Demand = Record<string, number>;

// One demand object serves every task of a function (and every spec read with
// that demand text), so its key is computed once per object.
const keys = new WeakMap<Demand, string>();

export function classKey(demand: Demand): string {
  let key = keys.get(demand);
  if (key === undefined) {
    key = Object.keys(demand)
      .filter((k) => demand[k] !== 0)
      .sort()
      .map((k) => `${k}=${demand[k]}`)
      .join(',');
    keys.set(demand, key);
  }
  return key;
}

export function validateDemand(demand: Demand, what: string): void {
  for (const [k, v] of Object.entries(demand)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new InvalidArgumentError(
        `${what}: resource '${k}' must be a finite number >= 0, got ${String(v)}`,
      );
    }
    if (Math.round(v * 10000) !== v * 10000 && Math.abs(Math.round(v * 10000) - v * 10000) > 1e-6) {
      throw new InvalidArgumentError(`${what}: resource '${k}' = ${v} has more precision than 1/10000`);
    }
    if (v > 1 && !Number.isInteger(v)) {
      throw new InvalidArgumentError(
        `${what}: resource '${k}' = ${v}: amounts above 1 must be whole numbers (as in Ray)`,
      );
    }
  }
}
