// A node's worker logs: each worker's files (worker-log-files.ts), and where the lines of
// this node's workers go: to the driver of the job whose call wrote them. This node's own driver (an embedded node) prints its job's lines, and those of
// workers between calls, through its LogPrinter (unless init({ logToDriver: false })); a
// line of another job goes over the cluster to the node of that job's driver
// (cluster/log-link.ts), which prints it with this node's id. A line no driver takes (its
// job has ended, or a `sunray start` node's worker between calls) stays in the worker's log
// files only.
import { warn } from '../base/warnings.js';
import type { LogLine } from '../protocol/log-lines.js';
import type { ClusterHooks } from './cluster-hooks.js';
import { LogPrinter } from './log-printer.js';
import type { NodeManagerOptions } from './node-options.js';
import { type LogFiles, type LogRotation, NO_LOG_FILES, WorkerLogFiles } from './worker-log-files.js';

/** Routes worker lines (see the file comment). */
export class LogRouter {
  /** This node's driver's printer (an embedded node that logs to its driver). */
  readonly printer: LogPrinter | undefined;
  /** The node's log directory and its workers' files. */
  readonly files: LogFiles;
  /** The job of the driver this node is embedded in (none for a daemon). */
  private readonly ownJob: string | undefined;

  constructor(
    nodeId: string,
    opts: Pick<NodeManagerOptions, 'driverJob' | 'logToDriver' | 'logDedup' | 'logRotation'>,
    private readonly cluster: () => ClusterHooks | undefined,
  ) {
    this.ownJob = opts.driverJob?.jobId;
    const print = this.ownJob !== undefined && opts.logToDriver;
    this.printer = print ? new LogPrinter(opts.logDedup !== false) : undefined;
    this.files = openLogFiles(nodeId, opts.logRotation);
  }

  /** A chunk of one of this node's workers' lines. */
  readonly fromWorker = (lines: LogLine[]): void => {
    let own: LogLine[] | undefined;
    let others: Map<string, LogLine[]> | undefined;
    for (const l of lines) {
      if (this.ownJob !== undefined && (l.jobId === this.ownJob || l.jobId === '')) (own ??= []).push(l);
      else if (l.jobId !== '') {
        others ??= new Map();
        const list = others.get(l.jobId);
        if (list) list.push(l);
        else others.set(l.jobId, [l]);
      }
    }
    if (own) this.printer?.print(own);
    if (others) {
      const cluster = this.cluster();
      if (cluster) for (const [job, list] of others) cluster.sendLogs(job, list);
    }
  };

  /** Lines another node's workers wrote for this node's driver. */
  fromNode(lines: LogLine[], nodeId: string): void {
    this.printer?.print(lines.map((l) => ({ ...l, node: nodeId })));
  }

  /** Prints what dedup still holds back, and removes the node's log files (it shuts down). */
  close(): void {
    this.printer?.close();
    this.files.removeAll();
  }
}

/**
 * The node's log directory, or none when it cannot be made (an unsafe session directory, a
 * full disk): the node still runs and its workers' lines still reach their drivers.
 */
function openLogFiles(nodeId: string, rotation: LogRotation | undefined): LogFiles {
  try {
    return new WorkerLogFiles(nodeId, rotation);
  } catch (err) {
    warn('SUNRAY_LOG_FILES', `workers' output is not kept in files on this node: ${(err as Error).message}`);
    return NO_LOG_FILES;
  }
}
