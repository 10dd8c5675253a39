// What a node manager is started with (init's options and `sunray start`'s, resolved).
import type { DriverJob } from '../protocol/job.js';
import type { LogRotation } from './worker-log-files.js';

/** What a node is started with: its resources, store, session and limits. */
export interface NodeManagerOptions {
  numCpus: number;
  numGpus: number;
  resources: Record<string, number>;
  objectStoreMemory: number;
  /** Bytes the store's warmer keeps ready ahead of use (ObjectStoreOptions.warmAhead; default 1 GiB). */
  objectStoreWarmAhead?: number;
  spillDir?: string;
  /** Most bytes the spill files may hold (objectSpillingLimit); 0 or absent: no limit. */
  spillLimit?: number;
  namespace: string;
  /** The job of the driver this node is embedded in (its workers report it); none for a daemon. */
  jobId?: string;
  /** The same driver's job as the head's job table lists it (listJobs); none for a daemon. */
  driverJob?: DriverJob;
  /** Print the lines of this driver's job's workers, from every node (init({ logToDriver })). */
  logToDriver: boolean;
  /** Fold lines many processes print alike (log-dedup.ts); default true. */
  logDedup?: boolean;
  /** Size bound and rotated copies of each worker's log files (worker-log-files.ts). */
  logRotation?: LogRotation;
  idleWorkerTimeoutMs: number;
  driverDir: string;
  /** Worker processes this node runs at most, actors included (default and most: MAX_WORKERS). */
  maxWorkerProcesses?: number;
  /** Its labels (protocol/node-labels.ts, checked): nodes() lists them. */
  labels?: Record<string, string>;
  /** Record task events (init({ taskEvents })): listTasks, summarizeTasks and the timeline read them. Default true. */
  taskEvents?: boolean;
  /** Tasks the head keeps events of, the oldest dropped past it (default TASK_EVENTS_LIMIT). */
  taskEventsLimit?: number;
}
