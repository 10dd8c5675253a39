// What the autoscaler shares with the rest of sunray through the head's KV: the standing
// resource request (sunray.autoscaler.requestResources), the status it publishes each
// round for `sunray status`, the labels its nodes carry, and the demand shape keys nodes
// report ("CPU=1,special=1", "actor CPU=1") read back into resources.

/** The head's KV namespace of the autoscaler. */
export const AUTOSCALER_KV_NAMESPACE = 'sunray.autoscaler';
/** The key of the standing request (JSON: Resources[]); the latest replaces earlier ones. */
export const REQUEST_KEY = 'request';
/** The key of the status the autoscaler publishes each round (JSON: AutoscalerStatus). */
export const STATUS_KEY = 'status';

/** The head's label when it runs an autoscaler (its value: the cluster's name): the cluster may grow. */
export const AUTOSCALER_LABEL = 'sunray.io/autoscaler';
/** The label naming a launched node's node type (set by the autoscaler's providers). */
export const NODE_TYPE_LABEL = 'sunray.io/node-type';
/** The label naming a launched node's instance (the provider's name for it). */
export const INSTANCE_LABEL = 'sunray.io/instance';

/** Why demand was not met this round. */
export type UnmetReason = 'no node type fits' | 'over maxWorkers' | 'upscaling speed';

/** One demand shape the autoscaler could not meet, with how many and why. */
export interface UnmetDemand {
  /** The shape as a resource object ({ CPU: 4, special: 1 }). */
  shape: Record<string, number>;
  count: number;
  reason: UnmetReason;
}

/** One node the autoscaler launched, as its status lists it. */
export interface InstanceStatus {
  /** The provider's id of the instance. */
  id: string;
  nodeType: string;
  /** launching: created, not joined yet; running: joined and busy; idle: joined, idle; terminating. */
  state: 'launching' | 'running' | 'idle' | 'terminating';
  /** Its node id once it joined. */
  nodeId?: string;
  /** How long it has been idle, in ms (idle ones). */
  idleMs?: number;
}

/** What the autoscaler publishes each round (`sunray status`). */
export interface AutoscalerStatus {
  /** When this round ran (ms since the epoch). */
  at: number;
  provider: string;
  idleTimeoutMs: number;
  /** Per node type: its bounds. */
  nodeTypes: Record<string, { minWorkers: number; maxWorkers: number; resources: Record<string, number> }>;
  instances: InstanceStatus[];
  unmet: UnmetDemand[];
  /** The standing request of requestResources, as bundles. */
  requested: Record<string, number>[];
  /** The last failures of the provider (newest last), for the user to read. */
  errors: string[];
}

/**
 * A demand shape key as nodes report it (protocol/resources.ts's classKey, "actor "
 * before an actor's) read back into resources; undefined for a key that is not one.
 */
export function shapeOfKey(key: string): Record<string, number> | undefined {
  const body = key.startsWith('actor ') ? key.slice(6) : key;
  const out: Record<string, number> = {};
  if (body === '' || body === '{}') return out;
  for (const part of body.split(',')) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) return undefined;
    const v = Number(part.slice(eq + 1));
    if (!Number.isFinite(v) || v < 0) return undefined;
    out[part.slice(0, eq)] = v;
  }
  return out;
}
