// A worker's stdout and stderr as its node reads them: pipes cut into lines, each line's tag
// read off (protocol/log-lines.ts), written to the worker's log files (worker-log-files.ts)
// and handed to the node's router of lines (to the job's driver, on this node or another).
// The end of stderr is kept for errors about the worker (a failed start, V8 out of memory).
import type { ChildProcess } from 'node:child_process';
import { readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { type LogLine, readLine } from '../protocol/log-lines.js';
import type { WorkerLogFile } from './worker-log-files.js';

/** Takes the lines a worker wrote, a pipe's chunk at a time. */
export type LineSink = (lines: LogLine[]) => void;

/** Bytes of a worker's stderr kept for errors about it (WorkerStartError, out of memory). */
export const STDERR_TAIL = 4096;
/** A line longer than this is cut: what a worker writes without newlines still moves on. */
const MAX_LINE = 64 * 1024;

/** One of the two pipes. */
class Stream {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** The task that wrote the file's last line: a `:task_name:` line marks a change, as Ray's files do. */
  private lastName = '';

  constructor(
    readonly pipe: Readable | null,
    private readonly err: boolean,
    private readonly out: WorkerOutput,
  ) {}

  take(chunk: Buffer): void {
    this.lines(this.decoder.write(chunk), false);
  }

  end(): void {
    this.lines(this.decoder.end(), true);
  }

  private lines(text: string, atEnd: boolean): void {
    const all = this.partial + text;
    const parts = all.split('\n');
    this.partial = atEnd ? '' : (parts.pop() ?? '');
    if (this.partial.length > MAX_LINE) {
      parts.push(this.partial);
      this.partial = '';
    }
    if (atEnd && parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    if (parts.length === 0) return;
    const lines = parts.map((p) => readLine(p, this.out.pid, this.err));
    let file = '';
    for (const l of lines) {
      if (l.name !== this.lastName && l.jobId !== '') {
        file += `:task_name:${l.name}\n`;
        this.lastName = l.name;
      }
      file += `${l.text}\n`;
    }
    this.out.file?.write(this.err, Buffer.from(file));
    if (this.err) this.out.keepTail(lines);
    this.out.sink(lines);
  }
}

/** Reads a worker's two pipes (see the file comment). */
export class WorkerOutput {
  private readonly streams: Stream[];
  private tail: string[] = [];
  private tailBytes = 0;
  /** Settles once both pipes have closed (read to their end). */
  readonly closed: Promise<void>;

  constructor(
    proc: ChildProcess,
    readonly pid: number,
    readonly sink: LineSink,
    readonly file: WorkerLogFile | undefined,
  ) {
    this.streams = [new Stream(proc.stdout, false, this), new Stream(proc.stderr, true, this)];
    this.closed = Promise.all(
      this.streams.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.pipe) return resolve();
            s.pipe.on('data', (chunk: Buffer) => s.take(chunk));
            s.pipe.on('error', () => {});
            s.pipe.once('close', () => {
              s.end();
              resolve();
            });
          }),
      ),
    ).then(() => this.file?.close());
  }

  /** Keeps the last STDERR_TAIL bytes of stderr's lines. */
  keepTail(lines: readonly LogLine[]): void {
    for (const l of lines) {
      this.tail.push(l.text);
      this.tailBytes += l.text.length + 1;
    }
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0]?.length ?? 0) - 1 >= STDERR_TAIL) {
      this.tailBytes -= (this.tail.shift()?.length ?? 0) + 1;
    }
  }

  /** The last STDERR_TAIL bytes (about) it wrote to stderr, in whole lines. */
  stderrTail(): string {
    return this.tail.length === 0 ? '' : `${this.tail.join('\n')}\n`;
  }

  /**
   * Reads what waits in its pipes now, synchronously: for a driver that exits (process.exit)
   * before its loop read the last lines its workers wrote.
   */
  drainSync(): void {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (const s of this.streams) {
      const fd = (s.pipe as unknown as { _handle?: { fd?: number } } | null)?._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) continue;
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, buf); // non-blocking (libuv's end of a child's pipe): EAGAIN when empty
        } catch {
          break;
        }
        if (n <= 0) break;
        s.take(Buffer.from(buf.subarray(0, n)));
      }
      s.end();
    }
  }

  /** Whether the pipes keep this process's event loop alive. */
  setRef(ref: boolean): void {
    for (const s of this.streams) {
      const pipe = s.pipe as (Readable & { ref?(): void; unref?(): void }) | null;
      // A pipe closed already (the process is exiting) has no handle to ref: Node would instead
      // wait for a 'connect' that never comes, one more listener each time.
      if (!pipe || pipe.destroyed) continue;
      if (ref) pipe.ref?.();
      else pipe.unref?.();
    }
  }
}
