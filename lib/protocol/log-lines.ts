// A line of worker output on its way to the driver that owns it. A worker's stdout and stderr
// are pipes to its node; what the worker's JavaScript writes starts each line with a tag
// (TAG_START job TAG_NAME task-name TAG_TEXT) saying whose call wrote it, which the node
// reads off (worker-output.ts) before the line goes to files and to the job's driver. Lines
// written below JavaScript (a native addon, a child process) come untagged and are the
// worker's. The driver prints `(name pid=N, node=xxxxxxxx) text`, as Ray does.

/** Starts a tagged line; control characters a program does not print. */
export const TAG_START = '\u0001';
/** Between the job id and the task name. */
export const TAG_NAME = '\u0002';
/** Between the task name and the text. */
export const TAG_TEXT = '\u0003';

/** One line a worker wrote. */
export interface LogLine {
  /** The worker's process id. */
  pid: number;
  /** Written to stderr (else stdout). */
  err: boolean;
  /** The job whose call wrote it ('' when none was running, or below JavaScript). */
  jobId: string;
  /** The task or actor that wrote it ('worker' when none was running). */
  name: string;
  /** The line, without its newline. */
  text: string;
}

/** The tag a worker puts before a line its JavaScript writes. */
export function lineTag(jobId: string, name: string): string {
  return `${TAG_START}${jobId}${TAG_NAME}${name.replace(/\p{Cc}/gu, ' ')}${TAG_TEXT}`;
}

/** A line read from a worker's pipe: its tag read off, or the worker's own when untagged. */
export function readLine(line: string, pid: number, err: boolean): LogLine {
  if (line.startsWith(TAG_START)) {
    const n = line.indexOf(TAG_NAME);
    const t = n < 0 ? -1 : line.indexOf(TAG_TEXT, n);
    if (t > 0) {
      return { pid, err, jobId: line.slice(1, n), name: line.slice(n + 1, t), text: line.slice(t + 1) };
    }
  }
  return { pid, err, jobId: '', name: 'worker', text: line };
}

/** What a driver prints before a line: its task, process and (from another node) node. */
export function linePrefix(l: Pick<LogLine, 'name' | 'pid'>, node?: string): string {
  return node ? `(${l.name} pid=${l.pid}, node=${node.slice(0, 8)}) ` : `(${l.name} pid=${l.pid}) `;
}

/** One worker's log file on its node, as listLogs() and `sunray logs` list it. */
export interface LogFileRow {
  /** The node it is on. */
  nodeId: string;
  /** The worker that wrote it. */
  pid: number;
  /** 'out' (its stdout) or 'err' (its stderr). */
  stream: 'out' | 'err';
  /** Its bytes now (the current file; rotated ones not counted). */
  size: number;
  /** Whether its worker still runs. */
  alive: boolean;
}

/** A read of a worker's log file, on the node it is on. */
export interface LogRead {
  nodeId: string;
  pid: number;
  stream: 'out' | 'err';
  /** From this byte (negative: this many bytes before the end). */
  offset: number;
  /** At most this many bytes. */
  maxBytes: number;
}

/** What a LogRead gives: the text, and the offset after it (-1: no such file there). */
export interface LogChunk {
  text: string;
  size: number;
}

/** The answer of a read of a file that is not there (no such worker, or no such node). */
export const NO_LOG_FILE: LogChunk = Object.freeze({ text: '', size: -1 });

/** A LogRead from a peer's JSON, checked (undefined when malformed). */
export function readLogRead(json: string | undefined): LogRead | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json ?? '');
  } catch {
    return undefined;
  }
  const r = v as Partial<LogRead> | null;
  if (typeof r !== 'object' || r === null || typeof r.nodeId !== 'string') return undefined;
  if (!Number.isSafeInteger(r.pid) || (r.stream !== 'out' && r.stream !== 'err')) return undefined;
  if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.maxBytes) || (r.maxBytes ?? 0) < 0) {
    return undefined;
  }
  return r as LogRead;
}

/** Bytes one read of a log file gives at most (a larger file is read in steps). */
export const LOG_READ_BYTES = 1 << 20;

/** The last n lines of a read from the end of a file (its first line is partial when the read began mid-file). */
export function chunkTail(chunk: LogChunk, n: number): string {
  return lastLines(chunk.text, n, chunk.size > Buffer.byteLength(chunk.text));
}

/** The last n lines of text; `cut`: text starts mid-file, so its first (partial) line goes. */
export function lastLines(text: string, n: number, cut: boolean): string {
  let body = text;
  if (cut) body = body.slice(body.indexOf('\n') + 1);
  if (!Number.isFinite(n)) return body;
  const lines = body.split('\n');
  const ends = body.endsWith('\n');
  if (ends) lines.pop();
  const kept = lines.slice(Math.max(0, lines.length - n));
  return kept.length === 0 ? '' : `${kept.join('\n')}${ends ? '\n' : ''}`;
}
