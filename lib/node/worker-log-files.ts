// Each worker's output kept on its node, as Ray's worker-*.out/.err files: one pair per
// worker process in the node's log directory (<session dir>/logs/node-<pid>-<node id>/,
// 0700, created here), rotated when a file passes maxBytes (worker-<pid>.out.1, .2...,
// backupCount of them). Files of exited workers are kept, the oldest deleted past
// MAX_EXITED_WORKERS; a node removes its directory when it shuts down, and one starting
// removes those of nodes no longer running past the newest KEEP_DEAD_NODE_DIRS. Files are
// opened O_EXCL|O_NOFOLLOW in a directory we made: nothing is written through a link.
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../base/errors.js';
import { ensureTrustedDir, privateSessionDir } from '../base/private-dir.js';
import { type LogChunk, type LogFileRow, NO_LOG_FILE } from '../protocol/log-lines.js';
import { processStarted } from '../session/session-dir.js';

/** Rotation of each file: its size bound, and how many rotated files are kept. */
export interface LogRotation {
  /** A file is rotated once it passes this many bytes (default 64 MiB). */
  maxBytes: number;
  /** Rotated files kept per stream (default 2). */
  backupCount: number;
}

/** Ray's defaults are 512 MB x 5; a node of many short-lived workers keeps less here. */
export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 64 << 20, backupCount: 2 };
/** Exited workers whose files are kept. */
export const MAX_EXITED_WORKERS = 200;
/** Log directories of nodes no longer running that a starting node leaves in place. */
export const KEEP_DEAD_NODE_DIRS = 10;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** A file that rotates past its size bound. */
class RotatingFile {
  private fd: number;
  private size = 0;

  constructor(
    readonly path: string,
    private readonly rotation: LogRotation,
  ) {
    this.fd = openSync(path, CREATE, 0o600);
  }

  write(data: Buffer): void {
    if (this.fd < 0) return;
    if (this.size > 0 && this.size + data.length > this.rotation.maxBytes) this.rotate();
    try {
      writeSync(this.fd, data);
      this.size += data.length;
    } catch {
      // a full disk loses lines of the file, never the driver's copy of them
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    const n = this.rotation.backupCount;
    rmSync(`${this.path}.${n}`, { force: true });
    for (let i = n - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch {
        // not there yet
      }
    }
    if (n > 0) renameSync(this.path, `${this.path}.1`);
    else rmSync(this.path, { force: true });
    this.fd = openSync(this.path, CREATE, 0o600);
    this.size = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  remove(): void {
    this.close();
    for (let i = 0; i <= this.rotation.backupCount; i++) {
      rmSync(i === 0 ? this.path : `${this.path}.${i}`, { force: true });
    }
  }
}

/** A worker's pair of files. */
export interface WorkerLogFile {
  write(err: boolean, data: Buffer): void;
  /** Its worker exited: the files are closed (and kept, within MAX_EXITED_WORKERS). */
  close(): void;
}

/** What a node keeps of its workers' output: WorkerLogFiles, or NO_LOG_FILES. */
export interface LogFiles {
  /** A new worker's files (none: no files are kept). */
  forWorker(pid: number): WorkerLogFile | undefined;
  list(): LogFileRow[];
  read(pid: number, stream: 'out' | 'err', offset: number, maxBytes: number): LogChunk;
  removeAll(): void;
}

/** A node that could not make its log directory keeps no files (its lines still reach drivers). */
export const NO_LOG_FILES: LogFiles = {
  forWorker: () => undefined,
  list: () => [],
  read: () => NO_LOG_FILE,
  removeAll: () => {},
};

/** The node's log directory and the files of its workers. */
export class WorkerLogFiles implements LogFiles {
  readonly dir: string;
  private readonly open = new Map<number, { out: RotatingFile; err: RotatingFile }>();
  private readonly exited: Array<{ pid: number; out: RotatingFile; err: RotatingFile }> = [];

  constructor(
    private readonly nodeId: string,
    private readonly rotation: LogRotation = DEFAULT_LOG_ROTATION,
  ) {
    const logs = join(privateSessionDir(), 'logs');
    mkdirSync(logs, { mode: 0o700, recursive: true });
    ensureTrustedDir(logs, {
      what: 'the sunray log directory',
      hint: 'remove it if you did not make it',
      private: true,
    });
    pruneDeadNodeDirs(logs);
    this.dir = join(logs, `node-${process.pid}-${nodeId}`);
    mkdirSync(this.dir, { mode: 0o700 });
  }

  /** Opens a new worker's files (worker-<pid>.out and .err). */
  forWorker(pid: number): WorkerLogFile {
    const files = {
      out: new RotatingFile(join(this.dir, `worker-${pid}.out`), this.rotation),
      err: new RotatingFile(join(this.dir, `worker-${pid}.err`), this.rotation),
    };
    this.open.set(pid, files);
    return {
      write: (err, data) => (err ? files.err : files.out).write(data),
      close: () => {
        if (this.open.get(pid) !== files) return;
        this.open.delete(pid);
        files.out.close();
        files.err.close();
        this.exited.push({ pid, ...files });
        while (this.exited.length > MAX_EXITED_WORKERS) {
          const old = this.exited.shift();
          old?.out.remove();
          old?.err.remove();
        }
      },
    };
  }

  /** Every worker's files, live ones first. */
  list(): LogFileRow[] {
    const rows: LogFileRow[] = [];
    const add = (pid: number, f: { out: RotatingFile; err: RotatingFile }, alive: boolean) => {
      for (const stream of ['out', 'err'] as const) {
        rows.push({ nodeId: this.nodeId, pid, stream, size: statOf(f[stream].path, 'size'), alive });
      }
    };
    for (const [pid, f] of this.open) add(pid, f, true);
    for (const e of [...this.exited].reverse()) add(e.pid, e, false);
    return rows;
  }

  /**
   * Bytes of a worker's file from offset (a negative offset: that many from the end), at
   * most maxBytes; with the file's size, so a follower asks from there next. A file that
   * is shorter than offset was rotated: the caller starts again from 0.
   */
  read(pid: number, stream: 'out' | 'err', offset: number, maxBytes: number): LogChunk {
    const files = this.open.get(pid) ?? this.exited.find((e) => e.pid === pid);
    if (!files) return NO_LOG_FILE;
    const path = files[stream].path;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return NO_LOG_FILE;
    }
    try {
      const size = fstatSync(fd).size;
      const from = offset < 0 ? Math.max(0, size + offset) : Math.min(offset, size);
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(maxBytes, size - from)));
      const n = buf.length > 0 ? readSync(fd, buf, 0, buf.length, from) : 0;
      return { text: buf.subarray(0, n).toString('utf8'), size: from + n };
    } finally {
      closeSync(fd);
    }
  }

  /** Closes every file and removes the directory (the node shuts down). */
  removeAll(): void {
    for (const f of this.open.values()) {
      f.out.close();
      f.err.close();
    }
    this.open.clear();
    this.exited.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A file's size or mtime (0 when it is gone). */
function statOf(path: string, what: 'size' | 'mtimeMs'): number {
  try {
    return statSync(path)[what];
  } catch {
    return 0;
  }
}

/** Removes log directories of nodes whose process is gone, past the newest KEEP_DEAD_NODE_DIRS. */
function pruneDeadNodeDirs(logs: string): void {
  const dead: Array<{ path: string; mtime: number }> = [];
  for (const name of readdirSync(logs)) {
    const m = /^node-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m || processStarted(Number(m[1])) !== undefined) continue;
    const path = join(logs, name);
    dead.push({ path, mtime: statOf(path, 'mtimeMs') });
  }
  dead.sort((a, b) => b.mtime - a.mtime);
  for (const d of dead.slice(KEEP_DEAD_NODE_DIRS)) rmSync(d.path, { recursive: true, force: true });
}

/** A logRotation option, checked and completed with the defaults (InvalidArgumentError if bad). */
export function checkLogRotation(
  given: { maxBytes?: number; backupCount?: number } | undefined,
  where: string,
): LogRotation {
  const r = { ...DEFAULT_LOG_ROTATION, ...given };
  if (!Number.isSafeInteger(r.maxBytes) || r.maxBytes < 4096) {
    throw new InvalidArgumentError(
      `${where}: logRotation.maxBytes is a whole number >= 4096, got ${r.maxBytes}`,
    );
  }
  if (!Number.isSafeInteger(r.backupCount) || r.backupCount < 0 || r.backupCount > 100) {
    throw new InvalidArgumentError(
      `${where}: logRotation.backupCount is a whole number from 0 to 100, got ${r.backupCount}`,
    );
  }
  return { maxBytes: r.maxBytes, backupCount: r.backupCount };
}
