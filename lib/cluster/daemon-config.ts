// What a node daemon (daemon.ts) is started with, and the line it prints when ready.
// The configuration holds the cluster token: it goes to the daemon as JSON on a pipe
// to its stdin (writeDaemonConfig), never in argv or the environment.
import type { Writable } from 'node:stream';

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
  /** Where the store makes its private spill directory (default: the session directory). */
  objectSpillingDir?: string;
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

/** The most configuration bytes a daemon reads from its stdin. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Sends the configuration down the daemon's stdin pipe and closes it. */
export function writeDaemonConfig(stdin: Writable, cfg: DaemonConfig): void {
  stdin.on('error', () => {}); // a daemon that died at once: its exit says so
  stdin.end(JSON.stringify(cfg));
}
