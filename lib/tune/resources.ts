// The resources a trial's actor holds (Ray's resources_per_trial / with_resources), and how many
// trials fit in the cluster at once: the slots the controller fills.
import * as sunray from '../index.js';
import type { TrialResources } from './actor-pool.js';
import { isPlainObject } from './search-space.js';

/** Resources each trial's actor holds (Ray's resources_per_trial): cpu (default 1), gpu, and custom ones by name. */
export type ResourcesPerTrial = {
  /** CPUs (default 1). */
  cpu?: number;
  /** GPUs (default 0). */
  gpu?: number;
} & Record<string, number | undefined>;

const RESOURCES = Symbol.for('sunray.tune.resources');

/** Sets the resources of a trainable's trials (Ray's tune.with_resources); returns the trainable. */
export function withResources<T extends Function>(trainable: T, resources: ResourcesPerTrial): T {
  parseResources(resources);
  Object.defineProperty(trainable, RESOURCES, { value: resources, configurable: true });
  return trainable;
}

/** The resources of resourcesPerTrial (cpu 1 unless said), checked. */
export function parseResources(r: ResourcesPerTrial | undefined): TrialResources {
  const out: TrialResources = { cpu: 1, gpu: 0, custom: {} };
  if (r === undefined) return out;
  if (!isPlainObject(r))
    throw new sunray.InvalidArgumentError('resourcesPerTrial must be an object like { cpu: 1, gpu: 0 }');
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new sunray.InvalidArgumentError(`resourcesPerTrial.${k} must be a number >= 0, got ${String(v)}`);
    }
    if (k === 'cpu' || k === 'CPU') out.cpu = v;
    else if (k === 'gpu' || k === 'GPU') out.gpu = v;
    else out.custom[k] = v;
  }
  return out;
}

/** The resources a trainable was given with withResources, if any. */
export function resourcesOf(trainable: unknown): ResourcesPerTrial | undefined {
  return (trainable as Record<symbol, ResourcesPerTrial | undefined>)[RESOURCES];
}

/** How many trials can run at once: what fits in the cluster's resources, within maxConcurrentTrials. */
export function slots(res: TrialResources, maxConcurrentTrials: number | undefined): number {
  const total = sunray.clusterResources();
  const demand: Record<string, number> = { ...res.custom };
  if (res.cpu > 0) demand.CPU = res.cpu;
  if (res.gpu > 0) demand.GPU = res.gpu;
  let fit = Infinity;
  for (const [k, v] of Object.entries(demand)) {
    if (v <= 0) continue;
    fit = Math.min(fit, Math.floor((total[k] ?? 0) / v + 1e-9));
  }
  if (fit === 0) {
    throw new sunray.InvalidArgumentError(
      `a trial asks for ${JSON.stringify(demand)} but the whole cluster has ${JSON.stringify(total)}: no trial could ever start. ` +
        'Ask for less (resourcesPerTrial), or start sunray with more (init({ numCpus, resources }))',
    );
  }
  if (fit === Infinity) fit = Math.max(1, Math.floor(total.CPU ?? 1));
  return Math.max(1, Math.min(fit, maxConcurrentTrials ?? Infinity));
}
