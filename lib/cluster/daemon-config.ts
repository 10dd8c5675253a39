// What a node daemon (daemon.ts) is started with, and the line it prints when ready.
// The configuration holds the cluster token: it goes to the daemon as JSON on a pipe
// to its stdin (writeDaemonConfig), never in argv or the environment.
import type { Writable } from 'node:stream';
import type { TlsFiles } from './tls.js';

/** A node daemon's configuration (the CLI's `sunray start` flags, or the testing Cluster's). */
export interface DaemonConfig {
  /** Whether this node is the head (keeps the Directory). */
  head: boolean;
  /** host:port of the head, for a node that is not the head. */
  headAddress?: string;
  /** The cluster token (see auth.ts). */
  token: string;
  /** Address to listen on (default: see node-address.ts; 127.0.0.1 for a head). */
  bind?: string;
  /** The head only: its directory is saved there and restored from it (head-state.ts). */
  headStateFile?: string;
  /** TLS files (paths) for every cluster connection and the dashboard (`--tls-cert/--tls-key/--tls-ca`). */
  tls?: TlsFiles;
  /** The IP other nodes reach this node at (`--node-ip-address`; default: detected). */
  nodeIpAddress?: string;
  /** Port to listen on (0 or absent: any free port). */
  port?: number;
  /** CPUs this node offers (default: the machine's). */
  numCpus?: number;
  /** GPUs this node offers. */
  numGpus?: number;
  /** Custom resources this node offers. */
  resources?: Record<string, number>;
  /** Its labels (`--labels`), checked. */
  labels?: Record<string, string>;
  /** Bytes of the node's object store. */
  objectStoreMemory?: number;
  /** Bytes its warmer keeps ready ahead of use (`--object-store-warm-ahead`). */
  objectStoreWarmAhead?: number;
  /** Where the store makes its private spill directory (default: the session directory). */
  objectSpillingDir?: string;
  /** Most bytes the spill files may hold (`--object-spilling-limit`; default: no limit). */
  objectSpillingLimit?: number;
  heartbeatTimeoutMs?: number;
  /** Worker processes at most, actors included (`--max-worker-processes`; default and most 120). */
  maxWorkerProcesses?: number;
  /** Serve /metrics on this port of the bind address (`--metrics-port`; 0: any free one). */
  metricsPort?: number;
  /** Serve the dashboard on this port (`--dashboard-port`; 0: any free one); guarded by the token. */
  dashboardPort?: number;
  /** The address the dashboard listens on (`--dashboard-host`; default 127.0.0.1). */
  dashboardHost?: string;
  /** Task records the node keeps (`--task-events-limit`; the head's is the cluster's table). */
  taskEventsLimit?: number;
  /** Record in the session directory (the CLI's daemons; not the testing Cluster's). */
  session?: boolean;
  /** Touch the whole arena at start, so the first large objects do not pay for fresh pages. */
  prefaultStore?: boolean;
  /** Exit when the process that started us is gone (the testing Cluster's nodes). */
  exitWithParent?: boolean;
  /** The head runs the autoscaler with this cluster config (`sunray up`; lib/autoscaler/config.ts checks it). */
  autoscaler?: unknown;
  /** The file the daemon's output goes to (its starter opens it), named in its ready line and the session. */
  log?: string;
}

/** Starts the line a daemon prints on stdout once it is up; JSON follows (pid, node id, address, head, log). */
export const READY_PREFIX = 'SUNRAY_NODE_READY ';

/** The most configuration bytes a daemon reads from its stdin. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Sends the configuration down the daemon's stdin pipe and closes it. */
export function writeDaemonConfig(stdin: Writable, cfg: DaemonConfig): void {
  stdin.on('error', () => {}); // a daemon that died at once: its exit says so
  stdin.end(JSON.stringify(cfg));
}
