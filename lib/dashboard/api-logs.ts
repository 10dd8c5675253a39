// The dashboard's logs API: GET /api/logs lists every worker's log files (node, pid, stream,
// size, alive) and GET /api/logs/file reads one worker's stdout or stderr, on the node it is
// on: its last lines, or what follows an offset (the Logs view follows a worker with it).
// Every query parameter is checked before anything is asked: a bad one answers 400 saying
// which and why; a file that is not there answers 404.
import { chunkTail, LOG_READ_BYTES, type LogRead } from '../protocol/log-lines.js';
import type { ApiAnswer, DashboardSource } from './api.js';

/** Lines a read gives when neither tail nor offset is asked (as getLog and `sunray logs`). */
export const DEFAULT_LOG_TAIL = 1000;
/** The most lines a read by tail gives (what a browser shows comfortably). */
export const MAX_LOG_TAIL = 10_000;

/** A whole node id: 16 bytes in hex. */
const NODE_ID = /^[0-9a-f]{32}$/;
/** The start of a node id (the list's filter, as `sunray logs --node` takes). */
const NODE_PREFIX = /^[0-9a-f]{1,32}$/;
const DIGITS = /^[0-9]{1,16}$/;
/** Process ids are below 2^22 on Linux; anything up to 2^31 is let through to find nothing. */
const MAX_PID = 2 ** 31 - 1;

/** What a read answers. */
export interface LogFileAnswer {
  nodeId: string;
  pid: number;
  stream: 'out' | 'err';
  /** The text read (a tail: whole lines only). */
  text: string;
  /**
   * Where the next read starts, to follow the file: its size after this read. Smaller than
   * the offset asked: the file was rotated (read again from 0).
   */
  offset: number;
}

/** Answers /api/logs and /api/logs/file (path without /api/). */
export async function logsAnswer(
  src: DashboardSource,
  path: string,
  query: URLSearchParams,
): Promise<ApiAnswer> {
  if (path === 'logs') {
    const node = query.get('node');
    if (node !== null && !NODE_PREFIX.test(node))
      return bad(`node is a node id in hex (or its start), got ${show(node)}`);
    const a = await src.logFiles();
    const rows = node ? a.rows.filter((r) => r.nodeId.startsWith(node)) : a.rows;
    return { status: 200, body: { rows, unreachable: a.unreachable } };
  }
  const req = readRequest(query);
  if (typeof req === 'string') return bad(req);
  const { read, tail } = req;
  let chunk: Awaited<ReturnType<DashboardSource['readLog']>>;
  try {
    chunk = await src.readLog(read);
  } catch (err) {
    // The node that has the file did not answer.
    return { status: 502, body: { error: (err as Error).message } };
  }
  if (chunk.size < 0) {
    return {
      status: 404,
      body: { error: `node ${read.nodeId.slice(0, 8)} keeps no ${read.stream} log of worker ${read.pid}` },
    };
  }
  const text = tail === undefined ? chunk.text : chunkTail(chunk, tail);
  const body: LogFileAnswer = {
    nodeId: read.nodeId,
    pid: read.pid,
    stream: read.stream,
    text,
    offset: chunk.size,
  };
  return { status: 200, body };
}

/** The read a query asks for (with the lines to keep of a tail), or what is wrong with it. */
function readRequest(query: URLSearchParams): { read: LogRead; tail: number | undefined } | string {
  const nodeId = query.get('node');
  if (nodeId === null || !NODE_ID.test(nodeId))
    return `node is a node id (32 hex digits), got ${show(nodeId)}`;
  const pidText = query.get('pid');
  const pid = whole(pidText);
  if (pid === undefined || pid < 1 || pid > MAX_PID) return `pid is a process id, got ${show(pidText)}`;
  const stream = query.get('stream') ?? 'out';
  if (stream !== 'out' && stream !== 'err') return `stream is out or err, got ${show(stream)}`;
  const tailText = query.get('tail');
  const offsetText = query.get('offset');
  if (tailText !== null && offsetText !== null) return 'give tail or offset, not both';
  const base = { nodeId, pid, stream } as const;
  if (offsetText !== null) {
    const offset = whole(offsetText);
    if (offset === undefined) return `offset is a byte offset >= 0, got ${show(offsetText)}`;
    return { read: { ...base, offset, maxBytes: LOG_READ_BYTES }, tail: undefined };
  }
  const tail = tailText === null ? DEFAULT_LOG_TAIL : whole(tailText);
  if (tail === undefined || tail > MAX_LOG_TAIL) {
    return `tail is a number of lines from 0 to ${MAX_LOG_TAIL}, got ${show(tailText)}`;
  }
  // The last lines are in the file's last LOG_READ_BYTES (as getLog reads them).
  return { read: { ...base, offset: -LOG_READ_BYTES, maxBytes: LOG_READ_BYTES }, tail };
}

/** A whole number >= 0 written in digits, else undefined. */
function whole(text: string | null): number | undefined {
  if (text === null || !DIGITS.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A parameter as an error message quotes it (at most 40 characters). */
function show(v: string | null): string {
  return v === null ? 'nothing' : JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
}

function bad(error: string): ApiAnswer {
  return { status: 400, body: { error } };
}
