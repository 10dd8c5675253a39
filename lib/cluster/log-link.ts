// Worker lines between nodes: the lines this node's workers wrote for a job whose driver
// runs on another node (node/log-router.ts) go to that node, found by the job id its entry
// in the node table carries (or, for a driver that joined since the last table, by asking
// the head's job table), batched every FLUSH_MS (MAX_BATCH_LINES a frame) over the
// cluster's authenticated connections (LogLines on the wire). A driver that reads slower
// than its workers write loses the oldest lines past MAX_QUEUED_LINES per node, and is told
// how many. Lines that arrive are checked field by field before they are printed.
import type { JobStateRow } from '../protocol/job.js';
import type { LogLine } from '../protocol/log-lines.js';
import type { Message } from './messages.js';
import type { NodeTable } from './node-table.js';
import type { PeerLinks } from './peers.js';

/** How often queued lines are sent. */
export const FLUSH_MS = 100;
/** Lines in one LogLines frame at most. */
export const MAX_BATCH_LINES = 2000;
/** Lines queued for one job at most: past it the oldest are dropped (and counted). */
export const MAX_QUEUED_LINES = 20_000;
/** The least time between two questions to the head about where drivers are. */
export const ASK_MS = 250;
/** How long lines wait for this node to hear which node runs their job's driver. */
export const UNKNOWN_JOB_MS = 5000;
/** Characters of one line's text that travel (the worker's files keep all of it). */
const MAX_TEXT = 64 * 1024;

interface Queue {
  lines: LogLine[];
  dropped: number;
  /** When its first line was queued. */
  since: number;
}

/** Sends and takes worker lines between nodes (see the file comment). */
export class LogLink {
  private readonly queues = new Map<string, Queue>();
  private timer: NodeJS.Timeout | undefined;
  /** Drivers' nodes by job, as the head's job table last said (for jobs the table lacks). */
  private readonly asked = new Map<string, string>();
  private asking = false;
  private askedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly table: Pick<NodeTable, 'values' | 'selfId'>,
    private readonly peers: Pick<PeerLinks, 'peer'>,
    /** Prints lines another node sent (this node's driver's). */
    private readonly deliver: (lines: LogLine[], fromNode: string) => void,
    /** The head's job table (state-query.ts). */
    private readonly jobs: () => Promise<JobStateRow[]>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues lines for the node of jobId's driver. */
  send(jobId: string, lines: readonly LogLine[]): void {
    let q = this.queues.get(jobId);
    if (!q) this.queues.set(jobId, (q = { lines: [], dropped: 0, since: this.now() }));
    q.lines.push(...lines);
    if (q.lines.length > MAX_QUEUED_LINES) {
      const over = q.lines.length - MAX_QUEUED_LINES;
      q.lines.splice(0, over);
      q.dropped += over;
    }
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /**
   * Sends what is queued now. A job whose driver's node this node has not heard of yet (a
   * driver that joined since the last heartbeat's table) keeps its lines for up to
   * UNKNOWN_JOB_MS; then they are dropped (the job ended, or its driver is gone).
   */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const drivers = new Map<string, string>(this.asked);
    for (const n of this.table.values()) {
      if (n.alive && n.jobId !== '' && n.nodeId !== this.table.selfId) drivers.set(n.jobId, n.nodeId);
    }
    for (const [jobId, q] of this.queues) {
      const nodeId = drivers.get(jobId);
      if (nodeId === undefined) {
        if (this.now() - q.since > UNKNOWN_JOB_MS) this.queues.delete(jobId);
        else this.askHead();
        continue;
      }
      this.queues.delete(jobId);
      const batches: Message[] = [];
      for (let i = 0; i < q.lines.length; i += MAX_BATCH_LINES) {
        const lines = q.lines.slice(i, i + MAX_BATCH_LINES).map(clip);
        batches.push({ t: 'logLines', linesJson: JSON.stringify(lines), dropped: i === 0 ? q.dropped : 0 });
      }
      this.peers.peer(nodeId).then(
        (c) => {
          for (const m of batches) c.send(m);
        },
        () => {}, // that node is gone: its driver with it
      );
    }
    if (this.queues.size > 0) this.timer = setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Asks the head's job table where the drivers are (one question at a time, ASK_MS apart). */
  private askHead(): void {
    if (this.asking || this.now() - this.askedAt < ASK_MS) return;
    this.asking = true;
    this.askedAt = this.now();
    this.jobs()
      .then((rows) => {
        this.asked.clear();
        for (const j of rows) if (j.status === 'RUNNING') this.asked.set(j.jobId, j.driverNodeId);
        // Lines that waited for this answer go now (the others wait for the next flush).
        if ([...this.queues.keys()].some((job) => this.asked.has(job))) this.flush();
      })
      .catch(() => {})
      .finally(() => {
        this.asking = false;
      });
  }

  /** Lines a node sent for this node's driver. */
  onLines(m: Extract<Message, { t: 'logLines' }>, fromNode: string): void {
    const lines = readLines(m.linesJson);
    if (m.dropped > 0) {
      const text = `[${m.dropped} line(s) of this job's workers were dropped: its driver read slower than they wrote]`;
      lines.unshift({ pid: 0, err: true, jobId: '', name: 'sunray', text });
    }
    if (lines.length > 0) this.deliver(lines, fromNode);
  }

  /** Sends what is queued, and stops. */
  close(): void {
    this.flush();
  }
}

function clip(l: LogLine): LogLine {
  return l.text.length > MAX_TEXT ? { ...l, text: `${l.text.slice(0, MAX_TEXT)}...` } : l;
}

/** The lines of a LogLines frame, those that are not what a LogLine is left out. */
function readLines(json: string): LogLine[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const out: LogLine[] = [];
  for (const x of v.slice(0, MAX_BATCH_LINES) as unknown[]) {
    if (typeof x !== 'object' || x === null) continue;
    const { pid, err, jobId, name, text } = x as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof err !== 'boolean' || typeof jobId !== 'string') continue;
    if (typeof name !== 'string' || typeof text !== 'string' || name.length > 1024) continue;
    out.push({ pid, err, jobId, name, text: text.slice(0, MAX_TEXT) });
  }
  return out;
}
