// Stop criteria (Ray's `stop`): a dict of result fields and thresholds (a trial stops once
// any field reaches its value), a function of (trialId, result), or a Stopper object that can
// also end the whole experiment.
import { InvalidArgumentError } from '../index.js';
import type { TrialResult } from './result.js';

/** A stop criterion object (Ray's tune.Stopper). */
export abstract class Stopper {
  /** Whether the trial should stop after this result. */
  abstract shouldStop(trialId: string, result: TrialResult): boolean;
  /** Whether the whole experiment should stop now (checked after each result). */
  stopAll(): boolean {
    return false;
  }
}

/** When trials stop: thresholds by result field, a function, or a Stopper. */
export type StopCriteria =
  | Readonly<Record<string, number>>
  | ((trialId: string, result: TrialResult) => boolean)
  | Stopper;

/** The stop criteria as one object. */
export function toStopper(stop: StopCriteria | undefined): Stopper | undefined {
  if (stop === undefined || stop === null) return undefined;
  if (stop instanceof Stopper) return stop;
  if (typeof stop === 'function') {
    const fn = stop;
    return new (class extends Stopper {
      shouldStop(id: string, r: TrialResult): boolean {
        return fn(id, r) === true;
      }
    })();
  }
  if (typeof stop !== 'object')
    throw new InvalidArgumentError('stop must be an object of thresholds, a function or a Stopper');
  const entries = Object.entries(stop);
  for (const [k, v] of entries) {
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new InvalidArgumentError(
        `stop['${k}'] must be a number (the trial stops once its result reaches it), got ${String(v)}`,
      );
    }
  }
  return new (class extends Stopper {
    shouldStop(_id: string, r: TrialResult): boolean {
      const rec = r as Record<string, unknown>;
      return entries.some(([k, v]) => typeof rec[k] === 'number' && (rec[k] as number) >= v);
    }
  })();
}
