// What a node daemon (daemon.ts) is started with, and the line it prints when ready.

export interface DaemonConfig {
  head: boolean;
  headAddress?: string;
  token: string;
  bind?: string;
  port?: number;
  numCpus?: number;
  numGpus?: number;
  resources?: Record<string, number>;
  objectStoreMemory?: number;
  heartbeatTimeoutMs?: number;
  /** Worker processes at most, actors included (`--max-worker-processes`; default and most 120). */
  maxWorkerProcesses?: number;
  /** Record in the session directory (the CLI's daemons; not the testing Cluster's). */
  session?: boolean;
  /** Touch the whole arena at start, so the first large objects do not pay for fresh pages. */
  prefaultStore?: boolean;
  /** Exit when the process that started us is gone (the testing Cluster's nodes). */
  exitWithParent?: boolean;
  log?: string;
}

export const READY_PREFIX = 'SUNRAY_NODE_READY ';
