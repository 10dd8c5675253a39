// Starting sunray in a driver: an embedded node manager (store, scheduler,
// worker pool) in this process, and the driver's own CoreWorker as the owner
// of what the program creates.

import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { basename } from 'node:path';
import { InvalidArgumentError } from '../base/errors.js';
import { warn } from '../base/warnings.js';
import { checkMaxWorkerProcesses } from '../protocol/channel.js';
import { jobOf } from '../protocol/job.js';
import { jobDriverConfig } from '../protocol/job-driver-config.js';
import { checkLabels } from '../protocol/node-labels.js';
import { resolveRuntimeEnv } from '../protocol/resolve-runtime-env.js';
import { validateDemand } from '../protocol/resources.js';
import { effectiveEnvText, type RuntimeEnv } from '../protocol/runtime-env.js';
import type { FunctionDef, TaskSpec } from '../protocol/spec.js';
import type { TaskRecord } from '../protocol/task-events.js';
import type { UserMetricUpdate } from '../protocol/user-metrics.js';
import { SessionSocket } from '../session/session-socket.js';
import { chooseCapacity } from '../store/capacity.js';
import { checkSpillLimit } from '../store/spill-dir.js';
import type { Backend, NodeRequests } from '../worker/backend.js';
import { type Runtime, sessionEnded, setRuntime } from '../worker/context.js';
import { CoreWorker, setRecordCallSites } from '../worker/core-worker.js';
import { envPublisher } from './env-publisher.js';
import { NodeManager } from './node-manager.js';
import { checkLogRotation } from './worker-log-files.js';

/** Options of init(): the node the driver starts (or the cluster it joins) and its limits. */
export interface InitOptions {
  /** CPUs this node offers (default: the machine's logical cores). */
  numCpus?: number;
  /** GPUs this node offers (default 0); tasks asking for GPUs get device ids. */
  numGpus?: number;
  /** Custom resources, e.g. { disk: 2 }. */
  resources?: Record<string, number>;
  /** Bytes of shared memory for the object store (default: 30% of RAM, capped by free /dev/shm). */
  objectStoreMemory?: number;
  /**
   * Bytes of the store kept backed by written pages ahead of use, by a background thread at
   * idle priority, so big puts do not pay for first touches (default 1 GiB, at most the
   * store; 0: off). init() waits for them until 0.7 s after it was called. See docs/store.md.
   */
  objectStoreWarmAhead?: number;
  /**
   * Directory in which the store makes its private spill directory (mode 0700, removed at shutdown)
   * for objects spilled from a full store. It must belong to you and not be writable by group or
   * others (UnsafeDirectoryError otherwise). Default: the sunray session directory
   * ($SUNRAY_SESSION_DIR or <tmp>/sunray-<uid>).
   */
  objectSpillingDir?: string;
  /**
   * Most bytes the spill files may hold at once (default: no limit but the spill directory's
   * disk). A spill that would pass it is not made; when memory and spill space are both full,
   * ObjectStoreFullError says so, with the numbers.
   */
  objectSpillingLimit?: number;
  /**
   * A cluster to join: 'HOST:PORT' of its head, or 'auto' for the cluster started on this machine
   * with `sunray start`. The driver's embedded node then joins as one more node, with 0 CPUs unless
   * numCpus says otherwise, so tasks run on the cluster's nodes. Omitted or 'local': a local node only.
   */
  address?: string;
  /** The cluster token (printed by `sunray start --head`; default: $SUNRAY_CLUSTER_TOKEN or this machine's session). */
  token?: string;
  /** Milliseconds without heartbeat before a node is declared dead (the head's setting counts). */
  heartbeatTimeout?: number;
  /**
   * With `address`: where the driver's node listens for other nodes (they pull the objects the
   * driver puts from it). Default: this machine's address on the route to the head (127.0.0.1
   * for a head on this machine), so nodes of the cluster can reach it; '0.0.0.0' for every
   * interface (then `nodeIpAddress` or the route to the head is advertised, never 0.0.0.0).
   */
  bind?: string;
  /**
   * With `address`: the IP other nodes reach the driver's node at (Ray's `node_ip_address`),
   * when it differs from the bind address (a NAT, a wildcard bind). Default: detected.
   */
  nodeIpAddress?: string;
  /**
   * With `address`, for a cluster that runs TLS (`sunray start --tls-cert ...`): the path of
   * this driver's certificate (PEM), signed by the cluster's CA. With tlsKey and tlsCa (all
   * three or none); default: the local head's files when `address` is the head started on
   * this machine.
   */
  tlsCert?: string;
  /** With tlsCert: the path of its private key (PEM; a file only you can read). */
  tlsKey?: string;
  /** With tlsCert: the path of the cluster's CA certificate (PEM): nodes must present one it signed. */
  tlsCa?: string;
  /** Namespace for named actors (default 'default'). */
  namespace?: string;
  /**
   * Labels of this driver's node, listed by nodes() (Ray's node labels): `{ zone: 'eu-1' }`.
   * Keys are `[prefix/]name` (`sunray.io/` is sunray's own), values up to 63 characters.
   */
  labels?: Record<string, string>;
  /**
   * Print the output of this program's tasks and actors, from every node of the cluster, on
   * this process's stdout/stderr as `(task pid=N, node=...) line` (default true). Off, it is
   * still kept in each worker's log files (`sunray logs`).
   */
  logToDriver?: boolean;
  /**
   * Fold lines that many processes print alike into one, with `[repeated Nx across cluster]`
   * (Ray's log deduplication; default true).
   */
  logDedup?: boolean;
  /** How each worker's log files on its node are bounded. */
  logRotation?: {
    /** A file is rotated once it passes this many bytes (default 64 MiB, at least 4096). */
    maxBytes?: number;
    /** Rotated files kept per stream: worker-PID.out.1 ... (default 2). */
    backupCount?: number;
  };
  /** Idle workers above the per-CPU pool are stopped after this long (default 60 s). */
  idleWorkerTimeout?: number;
  /** Record the call site of every object for memorySummary() (costs a stack trace each). */
  recordCallSites?: boolean;
  /**
   * Bytes of lineage (specs of finished tasks whose results are in the store, and their
   * arguments) the driver keeps to rebuild lost results (default 64 MiB; oldest dropped first).
   */
  lineageMemory?: number;
  /** Answer `sunray memory` on a per-user Unix socket (default true). */
  sessionSocket?: boolean;
  /**
   * Worker processes this node runs at most, actors included (default and most: 120, what one
   * node's completion ring has room for). Past it, new actors wait until an actor exits (an idle
   * task worker is stopped to make room), and tasks wait for a worker to free up.
   */
  maxWorkerProcesses?: number;
  /**
   * Record each task's state changes (default true): listTasks(), summarizeTasks(), getTask()
   * and timeline() read them. Off, those see no tasks; the hot path saves a few percent.
   */
  taskEvents?: boolean;
  /**
   * Tasks whose events the cluster keeps (default 100,000, as Ray's); past it the oldest are
   * dropped and counted (listTasks' `droppedTasks`). Set on the node that is the head.
   */
  taskEventsLimit?: number;
  /**
   * Serve this node's Prometheus metrics on http://127.0.0.1:PORT/metrics (0: any free port;
   * metricsAddress() says which). Tasks, actors and workers by state, the store, transfers,
   * scheduling latency, task durations, the machine, and programs' own (sunray/metrics).
   */
  metricsPort?: number;
  /** The address /metrics listens on (default 127.0.0.1; '0.0.0.0' for every interface). */
  metricsHost?: string;
  /**
   * Serve the dashboard (Ray's dashboard: nodes, actors, tasks, objects, the timeline) on
   * http://127.0.0.1:8265/, or on another free port when 8265 is taken (as Ray does);
   * `{ port, host }` to choose (a given port that is taken fails init()). It asks for a
   * token at login: dashboardToken() (the cluster's when this driver joined one).
   */
  dashboard?: boolean | DashboardOptions;
  /**
   * The runtime env of this program's tasks and actors (Ray's job runtime_env):
   * `{ envVars, workingDir, npmDependencies }`; a task's or actor's own (`.options({ runtimeEnv })`)
   * is merged over it. The driver itself runs as it was started. See docs/cluster.md.
   */
  runtimeEnv?: RuntimeEnv;
}

/** Where init({ dashboard }) serves the dashboard. */
export interface DashboardOptions {
  /** The port (default 8265, or any free one when it is taken; 0: any free port). */
  port?: number;
  /** The address to listen on (default 127.0.0.1; '0.0.0.0' for every interface). */
  host?: string;
}

/**
 * The object store's size when none is given: 30% of the memory this process may use, no
 * more than the memory available and /dev/shm's free space, at least 64 MiB (see
 * chooseCapacity). When /dev/shm is what limits it, a SUNRAY_STORE_SHM warning says so.
 */
export function defaultObjectStoreMemory(): number {
  const c = chooseCapacity();
  if (c.limitedBy === 'shm')
    warn(
      'SUNRAY_STORE_SHM',
      `the object store is ${mib(c.bytes)} MiB, not 30% of memory (${mib(c.wanted)} MiB), because /dev/shm has only ` +
        `${mib(c.shmFree ?? 0)} MiB free; enlarge /dev/shm (docker run --shm-size) or give objectStoreMemory`,
    );
  return c.bytes;
}

function mib(bytes: number): number {
  return Math.floor(bytes / (1024 * 1024));
}

class DriverBackend implements Backend {
  readonly isDriver = true;
  readonly workerId = 'driver';
  constructor(private readonly manager: NodeManager) {}

  get nodeId(): string {
    return this.manager.nodeId;
  }

  submit(spec: TaskSpec, def: FunctionDef): void {
    this.manager.submit(spec, def, this.manager.driverOwner);
  }

  refOp(op: Buffer): void {
    this.manager.routeRefOps(this.manager.driverOwner, op);
  }

  userMetrics(updates: UserMetricUpdate[]): void {
    this.manager.metrics.applyUser(updates);
  }

  taskEvents(events: TaskRecord[]): void {
    this.manager.taskEvents.fromProcess(events);
  }

  blocked(): void {}
  unblocked(): void {}

  request<K extends keyof NodeRequests>(
    kind: K,
    ...args: Parameters<NodeRequests[K]>
  ): Promise<ReturnType<NodeRequests[K]>> {
    try {
      return Promise.resolve(this.manager.handleRequest(kind, args));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  requestSync<K extends keyof NodeRequests>(
    kind: K,
    ...args: Parameters<NodeRequests[K]>
  ): ReturnType<NodeRequests[K]> {
    return this.manager.handleRequest(kind, args);
  }
}

/** Starts the driver's runtime: a node manager in this process and the driver's CoreWorker on it. */
export function startDriver(opts: InitOptions = {}): Runtime {
  const inCluster = opts.address !== undefined && opts.address !== 'local';
  const numCpus = opts.numCpus ?? (inCluster ? 0 : cpus().length);
  const numGpus = opts.numGpus ?? 0;
  validateDemand({ CPU: numCpus, GPU: numGpus, ...(opts.resources ?? {}) }, 'init()');
  if (opts.resources && ('CPU' in opts.resources || 'GPU' in opts.resources)) {
    throw new InvalidArgumentError('init(): give CPUs and GPUs as numCpus and numGpus, not inside resources');
  }
  // Its tasks' runtime env (a job's, from the job server, under init's own), checked and packed
  // before anything starts.
  const defaultEnv = effectiveEnvText(resolveRuntimeEnv(opts.runtimeEnv, 'init()'), jobEnvText());
  setRecordCallSites(opts.recordCallSites ?? false);
  // A job id per driver program, 4 bytes as Ray's JobID: getRuntimeContext().jobId.
  const jobId = randomBytes(4).toString('hex');
  // The driver of a job submitted to the job server: its submission id is listed with its job.
  const submitted = jobDriverConfig()?.submissionId;
  const manager = new NodeManager({
    jobId,
    driverJob: {
      jobId,
      namespace: opts.namespace ?? 'default',
      entrypoint: entrypoint(),
      pid: process.pid,
      startTime: Date.now(),
      ...(submitted !== undefined ? { submissionId: submitted } : {}),
    },
    numCpus,
    numGpus,
    resources: opts.resources ?? {},
    objectStoreMemory: opts.objectStoreMemory ?? defaultObjectStoreMemory(),
    ...(opts.objectStoreWarmAhead !== undefined ? { objectStoreWarmAhead: opts.objectStoreWarmAhead } : {}),
    ...(opts.objectSpillingDir ? { spillDir: opts.objectSpillingDir } : {}),
    ...(opts.objectSpillingLimit !== undefined
      ? { spillLimit: checkSpillLimit(opts.objectSpillingLimit, 'init(): objectSpillingLimit') }
      : {}),
    namespace: opts.namespace ?? 'default',
    logToDriver: opts.logToDriver ?? true,
    logDedup: opts.logDedup ?? true,
    logRotation: checkLogRotation(opts.logRotation, 'init()'),
    idleWorkerTimeoutMs: opts.idleWorkerTimeout ?? 60_000,
    driverDir: process.cwd(),
    maxWorkerProcesses: checkMaxWorkerProcesses(opts.maxWorkerProcesses),
    labels: checkLabels(opts.labels, 'init()'),
    taskEvents: opts.taskEvents ?? true,
    ...(opts.taskEventsLimit !== undefined ? { taskEventsLimit: opts.taskEventsLimit } : {}),
  });
  const backend = new DriverBackend(manager);
  if (opts.lineageMemory !== undefined && !(Number.isFinite(opts.lineageMemory) && opts.lineageMemory >= 0)) {
    throw new InvalidArgumentError(
      `init(): lineageMemory is a number of bytes >= 0, got ${String(opts.lineageMemory)}`,
    );
  }
  const core = new CoreWorker(backend, manager.store, manager.newOwnerId(), opts.lineageMemory);
  // Every call the driver makes carries its job, and every call those make in turn.
  core.defaultJob = jobOf(jobId, opts.namespace ?? 'default');
  core.taskEvents.enabled = opts.taskEvents ?? true;
  core.defaultEnv = defaultEnv;
  core.envGate = envPublisher(manager); // calls in an env wait for its working directory's upload
  manager.driver = core;
  manager.prestart();
  const session = opts.sessionSocket === false ? undefined : openSession(manager);
  const runtime: Runtime = {
    core,
    backend,
    namespace: opts.namespace ?? 'default',
    jobId,
    async shutdown() {
      // From now on its refs fail at once (lib/index.ts checkReadable).
      sessionEnded(manager.nodePrefix);
      session?.close();
      core.close();
      if (embedded === manager) embedded = undefined;
      await manager.shutdown();
    },
  };
  embedded = manager;
  setRuntime(runtime);
  return runtime;
}

/** The node manager this driver process embeds, while sunray runs here (none in workers). */
let embedded: NodeManager | undefined;

/** The embedded node manager of this driver process, if sunray runs here (for joining a cluster, tests). */
export function embeddedNode(): NodeManager | undefined {
  return embedded;
}

/** The `sunray memory` endpoint; a failure to open it must not stop init(). */
function openSession(manager: NodeManager): SessionSocket | undefined {
  try {
    return new SessionSocket({ memory: () => manager.memoryReport() });
  } catch (err) {
    warn(
      'SUNRAY_NO_MEMORY_ENDPOINT',
      `\`sunray memory\` will not see this process: ${(err as Error).message}`,
    );
    return undefined;
  }
}

/** How this driver was started, as listJobs shows it: `node script.js args` (the executable's base name). */
function entrypoint(): string {
  const [exe = 'node', ...args] = process.argv;
  return [basename(exe), ...args].join(' ').slice(0, 4096);
}

/** The runtime env of the job the job server started this driver for ('' for other drivers). */
function jobEnvText(): string {
  return jobDriverConfig()?.runtimeEnv ?? '';
}

/**
 * init()'s options in the driver of a submitted job (protocol/job-driver-config.ts): the
 * cluster, token and namespace the job server gave, where the program gave none.
 */
export function withJobDefaults(opts: InitOptions): InitOptions {
  const job = jobDriverConfig();
  if (!job) return opts;
  return {
    ...opts,
    address: opts.address ?? job.address,
    token: opts.token ?? job.token,
    namespace: opts.namespace ?? job.namespace,
  };
}
