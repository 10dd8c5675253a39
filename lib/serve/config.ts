// Deployment options: what `serve.deployment(cls, opts)` and `.options()` accept, their
// defaults (Ray Serve's, where Ray has one) and their checks. A bad option fails where it was
// written, with InvalidArgumentError naming it, not later in the controller.
import { type ActorOptions, InvalidArgumentError } from '../index.js';

/** How a deployment scales with load (Ray Serve's autoscaling_config). */
export interface AutoscalingConfig {
  /** Fewest replicas (default 1; 0 scales to zero when idle). */
  minReplicas?: number;
  /** Most replicas (default: max(minReplicas, 1)). */
  maxReplicas?: number;
  /** Replicas to start with (default minReplicas, at least 1 when minReplicas is 0). */
  initialReplicas?: number;
  /** Ongoing requests per replica the autoscaler aims at (default 2). */
  targetOngoingRequests?: number;
  /** How long the load must ask for more replicas before they are added (default 30000 ms). */
  upscaleDelayMs?: number;
  /** How long the load must ask for fewer replicas before some are removed (default 600000 ms). */
  downscaleDelayMs?: number;
  /** The load is averaged over this window (default 30000 ms). */
  lookBackPeriodMs?: number;
}

/** Options of a replica's actor: resources and placement (not name, lifetime or concurrency, which serve sets). */
export type ReplicaActorOptions = Pick<
  ActorOptions,
  'numCpus' | 'numGpus' | 'resources' | 'schedulingStrategy'
>;

/** The options of `serve.deployment(cls, opts)` and `.options(opts)`. */
export interface DeploymentOptions {
  /** The deployment's name, unique in its application (default: the class's name). */
  name?: string;
  /** Replicas to run (default 1), or 'auto' for autoscaling with the default config. */
  numReplicas?: number | 'auto';
  /** Requests one replica runs at once; more wait in the caller's queue (default 5, as Ray). */
  maxOngoingRequests?: number;
  /**
   * Requests a caller (a proxy, a handle) queues when every replica is busy; past it HTTP
   * gets 503 and handles BackPressureError at once (default -1: no limit, as Ray).
   */
  maxQueuedRequests?: number;
  /** Scale on load instead of a fixed numReplicas. */
  autoscalingConfig?: AutoscalingConfig;
  /** Resources and placement of each replica's actor. */
  actorOptions?: ReplicaActorOptions;
  /** Passed to the class's `reconfigure(userConfig)` at start and whenever it changes (no restart). */
  userConfig?: unknown;
  /** How often the controller checks each replica (the class's `checkHealth()` if any); default 10000 ms. */
  healthCheckPeriodMs?: number;
  /** A health check slower than this fails (default 30000 ms). */
  healthCheckTimeoutMs?: number;
  /** How long a stopping replica may take to finish its requests before it is killed (default 20000 ms). */
  gracefulShutdownTimeoutMs?: number;
  /**
   * The URL of the module that exports the class under its name (usually `import.meta.url`):
   * the replica imports it, so the class may use the module's imports. Without it the class is
   * shipped by source and must be self-contained, as for `sunray.remote`.
   */
  module?: string;
  /** A version of your own: replicas are replaced only when it changes (default: a hash of the code and arguments). */
  version?: string;
}

/** Options after defaults: what the controller works with. */
export interface ResolvedConfig {
  numReplicas: number;
  maxOngoingRequests: number;
  maxQueuedRequests: number;
  autoscaling: Required<AutoscalingConfig> | undefined;
  actorOptions: ReplicaActorOptions;
  userConfig: unknown;
  healthCheckPeriodMs: number;
  healthCheckTimeoutMs: number;
  gracefulShutdownTimeoutMs: number;
}

const KNOWN = new Set([
  'name',
  'numReplicas',
  'maxOngoingRequests',
  'maxQueuedRequests',
  'autoscalingConfig',
  'actorOptions',
  'userConfig',
  'healthCheckPeriodMs',
  'healthCheckTimeoutMs',
  'gracefulShutdownTimeoutMs',
  'module',
  'version',
]);
const KNOWN_AUTOSCALING = new Set([
  'minReplicas',
  'maxReplicas',
  'initialReplicas',
  'targetOngoingRequests',
  'upscaleDelayMs',
  'downscaleDelayMs',
  'lookBackPeriodMs',
]);
const KNOWN_ACTOR = new Set(['numCpus', 'numGpus', 'resources', 'schedulingStrategy']);

function bad(what: string, msg: string): never {
  throw new InvalidArgumentError(`serve.deployment(): ${what} ${msg}`);
}

function wholeAtLeast(v: unknown, min: number, what: string): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min))
    bad(what, `must be a whole number >= ${min}, got ${JSON.stringify(v)}`);
}

function unknownKeys(o: object, known: Set<string>, where: string): void {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) bad(`${where}${k}`, `is not an option (options: ${[...known].join(', ')})`);
  }
}

/** Throws InvalidArgumentError for an option that cannot be right. */
export function checkOptions(o: DeploymentOptions): void {
  if (o === null || typeof o !== 'object') bad('options', 'must be an object');
  unknownKeys(o, KNOWN, '');
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[\w.-]{1,100}$/.test(o.name)))
    bad('name', `must be 1-100 letters, digits, '_', '-' or '.', got ${JSON.stringify(o.name)}`);
  if (o.numReplicas !== 'auto') wholeAtLeast(o.numReplicas, 0, 'numReplicas');
  wholeAtLeast(o.maxOngoingRequests, 1, 'maxOngoingRequests');
  if (o.maxQueuedRequests !== undefined && o.maxQueuedRequests !== -1)
    wholeAtLeast(o.maxQueuedRequests, 0, 'maxQueuedRequests (or -1 for no limit)');
  for (const k of ['healthCheckPeriodMs', 'healthCheckTimeoutMs', 'gracefulShutdownTimeoutMs'] as const)
    wholeAtLeast(o[k], k === 'gracefulShutdownTimeoutMs' ? 0 : 1, k);
  if (o.module !== undefined && typeof o.module !== 'string') bad('module', 'must be a module URL string');
  if (o.version !== undefined && typeof o.version !== 'string') bad('version', 'must be a string');
  if (o.actorOptions !== undefined) {
    if (o.actorOptions === null || typeof o.actorOptions !== 'object')
      bad('actorOptions', 'must be an object');
    unknownKeys(o.actorOptions, KNOWN_ACTOR, 'actorOptions.');
  }
  const a = o.autoscalingConfig;
  if (a !== undefined) {
    if (a === null || typeof a !== 'object') bad('autoscalingConfig', 'must be an object');
    unknownKeys(a, KNOWN_AUTOSCALING, 'autoscalingConfig.');
    if (typeof o.numReplicas === 'number')
      bad('numReplicas', 'and autoscalingConfig exclude each other: give one (numReplicas: "auto" is fine)');
    wholeAtLeast(a.minReplicas, 0, 'autoscalingConfig.minReplicas');
    wholeAtLeast(a.maxReplicas, 1, 'autoscalingConfig.maxReplicas');
    wholeAtLeast(a.initialReplicas, 0, 'autoscalingConfig.initialReplicas');
    for (const k of ['upscaleDelayMs', 'downscaleDelayMs', 'lookBackPeriodMs'] as const)
      wholeAtLeast(a[k], 0, `autoscalingConfig.${k}`);
    if (
      a.targetOngoingRequests !== undefined &&
      (typeof a.targetOngoingRequests !== 'number' || !(a.targetOngoingRequests > 0))
    )
      bad('autoscalingConfig.targetOngoingRequests', `must be a number > 0, got ${a.targetOngoingRequests}`);
    const min = a.minReplicas ?? 1;
    if (a.maxReplicas !== undefined && a.maxReplicas < min)
      bad('autoscalingConfig.maxReplicas', `(${a.maxReplicas}) is below minReplicas (${min})`);
    if (a.initialReplicas !== undefined && a.maxReplicas !== undefined && a.initialReplicas > a.maxReplicas)
      bad(
        'autoscalingConfig.initialReplicas',
        `(${a.initialReplicas}) is above maxReplicas (${a.maxReplicas})`,
      );
  }
}

/** The options with every default filled in. */
export function resolveConfig(o: DeploymentOptions): ResolvedConfig {
  let autoscaling: Required<AutoscalingConfig> | undefined;
  if (o.autoscalingConfig || o.numReplicas === 'auto') {
    const a = o.autoscalingConfig ?? {};
    const minReplicas = a.minReplicas ?? 1;
    const maxReplicas = a.maxReplicas ?? Math.max(minReplicas, o.numReplicas === 'auto' ? 100 : 1);
    autoscaling = {
      minReplicas,
      maxReplicas,
      initialReplicas: a.initialReplicas ?? Math.max(minReplicas, 1),
      targetOngoingRequests: a.targetOngoingRequests ?? 2,
      upscaleDelayMs: a.upscaleDelayMs ?? 30_000,
      downscaleDelayMs: a.downscaleDelayMs ?? 600_000,
      lookBackPeriodMs: a.lookBackPeriodMs ?? 30_000,
    };
  }
  return {
    numReplicas: autoscaling ? autoscaling.initialReplicas : ((o.numReplicas as number | undefined) ?? 1),
    maxOngoingRequests: o.maxOngoingRequests ?? 5,
    maxQueuedRequests: o.maxQueuedRequests ?? -1,
    autoscaling,
    actorOptions: o.actorOptions ?? {},
    userConfig: o.userConfig,
    healthCheckPeriodMs: o.healthCheckPeriodMs ?? 10_000,
    healthCheckTimeoutMs: o.healthCheckTimeoutMs ?? 30_000,
    gracefulShutdownTimeoutMs: o.gracefulShutdownTimeoutMs ?? 20_000,
  };
}
