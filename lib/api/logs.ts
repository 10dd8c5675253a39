// Worker logs from a program (Ray's ray.util.state list_logs and get_log): every worker's
// stdout and stderr are kept in files on its node (node/worker-log-files.ts); listLogs()
// lists them over the cluster and getLog() reads one, found by actor, task, or node and
// pid, from whichever node it is on. `sunray logs` is the same from the command line.
import { InvalidArgumentError, LogNotFoundError } from '../base/errors.js';
import { chunkTail, LOG_READ_BYTES, type LogFileRow } from '../protocol/log-lines.js';
import { currentRuntimeOrStart } from './runtime.js';
import { getTask, listActors } from './state.js';

export type { LogFileRow } from '../protocol/log-lines.js';

/** Which worker's log getLog() reads, and how much of it. */
export interface GetLogOptions {
  /** The actor's process (for a shared actor: its host's, which other actors share). */
  actorId?: string;
  /** The worker that ran the task (its last attempt). */
  taskId?: string;
  /** With pid: a worker of that node. */
  nodeId?: string;
  /** With nodeId: the worker's process id. */
  pid?: number;
  /** Its stderr (default: its stdout). */
  err?: boolean;
  /** The last this many lines (default 1000; Infinity: the whole file, up to 64 MiB). */
  tail?: number;
}

/** The most getLog() reads of one file. */
const MAX_LOG_BYTES = 64 << 20;

/** listLogs()'s answer: the files, and the nodes that did not answer. */
export type LogFileList = LogFileRow[] & {
  /** Nodes that did not answer in time (their files are missing). */
  unreachableNodes: string[];
};

/** The worker log files of every node (live workers' first), or of one node (`nodeId`). */
export async function listLogs(opts: { nodeId?: string } = {}): Promise<LogFileList> {
  const answer = await currentRuntimeOrStart().backend.request('logFiles');
  const rows = (answer.rows as LogFileRow[]).filter(
    (r) => opts.nodeId === undefined || r.nodeId === opts.nodeId,
  );
  return Object.assign(rows, { unreachableNodes: answer.unreachable });
}

/**
 * A worker's log, from the node it is on: the last `tail` lines (default 1000) of its stdout,
 * or its stderr with `err`. Throws LogNotFoundError when there is no such file (no such actor
 * or task, a task that has not run yet, a node that is gone), InvalidArgumentError for options
 * that name no worker.
 */
export async function getLog(opts: GetLogOptions): Promise<string> {
  const tail = opts.tail ?? 1000;
  if (!(tail === Number.POSITIVE_INFINITY || (Number.isSafeInteger(tail) && tail >= 0))) {
    throw new InvalidArgumentError(`getLog: tail is a whole number of lines >= 0 or Infinity, got ${tail}`);
  }
  const { nodeId, pid } = await logTarget(opts);
  const stream = opts.err ? 'err' : 'out';
  const backend = currentRuntimeOrStart().backend;
  const read = (offset: number, maxBytes: number) =>
    backend.request('readLog', { nodeId, pid, stream, offset, maxBytes });
  if (Number.isFinite(tail)) {
    // The last lines are in the file's last LOG_READ_BYTES (4 KiB a line would be 256 lines).
    const chunk = await read(-LOG_READ_BYTES, LOG_READ_BYTES);
    if (chunk.size < 0) throw notFound(nodeId, pid);
    return chunkTail(chunk, tail);
  }
  let text = '';
  let offset = 0;
  for (;;) {
    const chunk = await read(offset, LOG_READ_BYTES);
    if (chunk.size < 0) throw notFound(nodeId, pid);
    text += chunk.text;
    if (chunk.size === offset || text.length >= MAX_LOG_BYTES) return text;
    offset = chunk.size;
  }
}

/** The node and process whose files the options name. */
async function logTarget(o: GetLogOptions): Promise<{ nodeId: string; pid: number }> {
  const ways = [o.actorId, o.taskId, o.nodeId ?? o.pid].filter((x) => x !== undefined).length;
  if (ways !== 1) throw new InvalidArgumentError('getLog: give one of actorId, taskId, or nodeId with pid');
  if (o.actorId !== undefined) {
    const [a] = await listActors({ filters: [['actorId', '=', o.actorId]], detail: true });
    if (!a) throw new LogNotFoundError(`no actor ${o.actorId}`);
    if (a.pid === null || a.pid === undefined || !a.nodeId) {
      throw new LogNotFoundError(`actor ${o.actorId} has no process (${a.state})`);
    }
    return { nodeId: a.nodeId, pid: a.pid };
  }
  if (o.taskId !== undefined) {
    const t = await getTask(o.taskId);
    if (!t) throw new LogNotFoundError(`no task ${o.taskId} is recorded`);
    if (!t.workerPid || !t.nodeId)
      throw new LogNotFoundError(`task ${o.taskId} has not run yet (${t.state})`);
    return { nodeId: t.nodeId, pid: t.workerPid };
  }
  if (typeof o.nodeId !== 'string' || !Number.isSafeInteger(o.pid)) {
    throw new InvalidArgumentError('getLog: nodeId is a node id (hex) and pid a process id');
  }
  return { nodeId: o.nodeId, pid: o.pid as number };
}

function notFound(nodeId: string, pid: number): LogNotFoundError {
  return new LogNotFoundError(`node ${nodeId.slice(0, 8)} keeps no log of worker ${pid}`);
}
