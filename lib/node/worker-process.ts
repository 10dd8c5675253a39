// One worker: a `node` child process that maps the node's store and talks to
// the node manager over two shared-memory rings (its inbox, and the shared
// completion ring). File descriptors are inherited through spawn's stdio
// array, so nothing is named in /dev/shm and nothing outlives the processes.
// A unix socket (the control socket) carries the fds of other workers' rings
// later, when the node manager opens a direct channel between a caller and an
// actor (direct/). What the scheduler knows of the worker (its state, its tasks)
// is WorkerSlot's (worker-slot.ts); this class adds the process behind it.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { native } from '../base/addon.js';
import type { Writer } from '../base/codec.js';
import {
  ChannelWriter,
  createEventFd,
  createRingSegment,
  INBOX_PARTICIPANTS,
  openDoorbell,
  openRing,
} from '../protocol/channel.js';
import type { WorkerConfig } from '../protocol/worker-config.js';
import { Msg } from '../protocol/worker-messages.js';
import type { ObjectStore } from '../store/index.js';
import { WorkerSlot } from './worker-slot.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The script a worker process runs (entry/worker.js). */
export const WORKER_MAIN = join(here, '..', 'entry', 'worker.js');

/** The node's fds every worker inherits: the store, the completion ring and its doorbell. */
export interface SharedFds {
  store: number;
  completion: number;
  completionBell: number;
}

/** A worker as the node runs it: its process, its inbox ring and its control socket. */
export class WorkerProcess extends WorkerSlot {
  /** The worker's process. */
  readonly proc: ChildProcess;
  /** Writes frames into the worker's inbox ring. */
  readonly writer: ChannelWriter;
  /** The end of what it wrote to stderr (STDERR_TAIL bytes): why it failed to start, or ran out of memory. */
  private stderrChunks: Buffer[] = [];
  private stderrBytes = 0;
  private readonly logToDriver: boolean;
  /** Settles once the process has exited and its stderr was read to the end (or STDERR_WAIT_MS after). */
  private readonly gone: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly inboxFd: number;
  private readonly inboxBellFd: number;
  /** This side of the control socket: fds sent here arrive in the worker (direct/). */
  readonly controlFd: number;

  constructor(
    index: number,
    ownerId: string,
    shared: SharedFds,
    store: ObjectStore,
    opts: {
      nodeId: string;
      driverDir: string;
      namespace: string;
      jobId?: string;
      logToDriver: boolean;
      taskEvents: boolean;
      env?: Record<string, string>;
    },
  ) {
    super(index, ownerId);
    this.inboxFd = createRingSegment(INBOX_PARTICIPANTS);
    this.inboxBellFd = createEventFd();
    const ring = openRing(this.inboxFd, true, INBOX_PARTICIPANTS);
    const bell = openDoorbell(ring, this.inboxBellFd);
    this.writer = new ChannelWriter(ring, bell, store);
    const [controlFd, childControlFd] = native.createSocketPair() as [number, number];
    this.controlFd = controlFd;
    const config: WorkerConfig = {
      index,
      nodeId: opts.nodeId,
      ownerId,
      parentPid: process.pid,
      driverDir: opts.driverDir,
      namespace: opts.namespace,
      ...(opts.jobId !== undefined ? { jobId: opts.jobId } : {}),
      logToDriver: opts.logToDriver,
      taskEvents: opts.taskEvents,
      fds: { store: 3, completion: 4, completionBell: 5, inbox: 6, inboxBell: 7, control: 8 },
    };
    const out = opts.logToDriver ? 'inherit' : 'ignore';
    this.proc = spawn(process.execPath, workerArgv(), {
      // stderr comes through here: its end tells why a worker failed to start or died (V8's
      // out-of-memory report), and it is passed on to ours when logging to the driver.
      stdio: [
        'ignore',
        out,
        'pipe',
        shared.store,
        shared.completion,
        shared.completionBell,
        this.inboxFd,
        this.inboxBellFd,
        childControlFd,
      ],
      env: workerEnv(opts.env, config),
      cwd: opts.driverDir,
    });
    closeSync(childControlFd); // the child has its own copy now
    this.logToDriver = opts.logToDriver;
    // Piped above: null only when the spawn itself failed, and then there is nothing to read.
    const stderr = this.proc.stderr;
    let stderrDone = stderr === null;
    const stderrClosed = new Promise<void>((resolve) => {
      if (!stderr) return resolve();
      stderr.on('data', (chunk: Buffer) => {
        this.keepStderr(chunk);
        if (opts.logToDriver) process.stderr.write(chunk);
      });
      stderr.on('error', () => {});
      stderr.once('close', () => {
        stderrDone = true;
        resolve();
      });
    });
    this.gone = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.hasExited = true;
        if (stderrDone) {
          resolve({ code, signal });
          return;
        }
        // A child of the worker may hold the pipe open: wait a little, not for ever.
        const timer = setTimeout(() => resolve({ code, signal }), STDERR_WAIT_MS);
        void stderrClosed.then(() => {
          clearTimeout(timer);
          resolve({ code, signal });
        });
      });
    });
  }

  private keepStderr(chunk: Buffer): void {
    this.stderrChunks.push(chunk);
    this.stderrBytes += chunk.length;
    // Drop the oldest chunks while what is left still covers the tail.
    while (this.stderrChunks.length > 1) {
      const first = this.stderrChunks[0];
      if (!first || this.stderrBytes - first.length < STDERR_TAIL) break;
      this.stderrChunks.shift();
      this.stderrBytes -= first.length;
    }
  }

  /** The last STDERR_TAIL bytes it wrote to stderr (whole lines where it can). */
  stderrTail(): string {
    const all = Buffer.concat(this.stderrChunks);
    let text = all.subarray(Math.max(0, all.length - STDERR_TAIL)).toString('utf8');
    if (all.length > STDERR_TAIL) text = text.slice(text.indexOf('\n') + 1);
    return text;
  }

  /** Its V8 heap ran out (V8 reports it on stderr before it aborts). */
  outOfMemory(): boolean {
    return /JavaScript heap out of memory|Reached heap limit/.test(this.stderrTail());
  }

  /**
   * Calls fn once the process has exited and what it wrote to stderr has been read (or
   * after STDERR_WAIT_MS: a child of the worker may hold the pipe open).
   */
  onExit(fn: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    void this.gone.then(({ code, signal }) => fn(code, signal));
  }

  /**
   * Passes on what waits in its stderr pipe now, synchronously: for a driver that exits
   * (process.exit) before its loop read the last lines its workers wrote.
   */
  drainStderrSync(): void {
    const fd = (this.proc.stderr as unknown as { _handle?: { fd?: number } } | null)?._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf); // non-blocking (libuv's end of a child's pipe): EAGAIN when empty
      } catch {
        return;
      }
      if (n <= 0) return;
      if (this.logToDriver) {
        try {
          writeSync(2, buf.subarray(0, n));
        } catch {
          return;
        }
      }
    }
  }

  /** Whether the process (and its stderr pipe) keeps this process's event loop alive. */
  setRef(ref: boolean): void {
    const pipe = this.proc.stderr as (Readable & { ref?(): void; unref?(): void }) | null;
    // A pipe closed already (the process is exiting) has no handle to ref: Node would instead
    // wait for a 'connect' that never comes, one more listener each time.
    const stderr = pipe?.destroyed ? null : pipe;
    if (ref) {
      this.proc.ref();
      stderr?.ref?.();
    } else {
      this.proc.unref();
      stderr?.unref?.();
    }
  }

  /** The fds another process needs to write into this worker's inbox: ring, then eventfd. */
  inboxFds(): [number, number] {
    return [this.inboxFd, this.inboxBellFd];
  }

  /** Frees what a dead process that wrote into this inbox left claimed in it. */
  recoverInbox(pid: number): void {
    this.writer.recover(pid);
  }

  /** The process id (-1 if the spawn failed). */
  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Sends one frame to the worker's inbox. */
  send(frame: Buffer): void {
    this.writer.send(frame);
  }

  /** Sends a frame written in place (see ChannelWriter.sendWith). */
  sendWith(fill: (w: Writer) => void): void {
    this.writer.sendWith(fill);
  }

  /**
   * Asks the worker to exit; kills it if it has not within graceMs (never, if Infinity).
   * whenIdle: an actor first finishes the calls it has (some may have come straight from callers).
   */
  stop(graceMs = 2000, whenIdle = false): Promise<void> {
    this.stopWasRequested = true;
    if (this.exited) return this.gone.then(() => {});
    this.writer.send(Buffer.from([whenIdle ? Msg.ExitWhenIdle : Msg.Exit]));
    this.writer.flush();
    // Keep the loop alive until the exit is seen: an unref'd child that is
    // SIGKILLed after the grace period would otherwise leave shutdown() pending
    // with nothing to wait on (node exits with code 13 at a top-level await).
    // (Not for an actor finishing its calls: that may take as long as they do.)
    // (Its stderr too: its last lines are read before shutdown() resolves.)
    if (!whenIdle) this.setRef(true);
    return new Promise((resolve) => {
      const t = Number.isFinite(graceMs)
        ? setTimeout(() => {
            this.proc.kill('SIGKILL');
          }, graceMs)
        : undefined;
      void this.gone.then(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Kills the process now (SIGKILL), as a requested stop (not a failed start). */
  kill(): void {
    this.stopWasRequested = true;
    if (!this.exited) this.proc.kill('SIGKILL');
  }

  /** Closes this side's copies of the worker's fds (the child keeps its own). */
  closeFds(): void {
    this.writer.close();
    for (const fd of [this.inboxFd, this.inboxBellFd, this.controlFd]) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

/** Bytes of a worker's stderr kept for errors about it (WorkerStartError, out of memory). */
export const STDERR_TAIL = 4096;
/** How long an exit waits for the rest of the worker's stderr. */
const STDERR_WAIT_MS = 200;

/** The command line of a worker, after the node binary. */
export function workerArgv(): string[] {
  return [...workerExecArgv(process.execArgv), '--disable-warning=ExperimentalWarning', WORKER_MAIN];
}

/** The old-space limit (MiB) workers are started with, from NODE_OPTIONS or the flags they inherit. */
export function maxOldSpaceFlag(): string | undefined {
  const all = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...workerExecArgv(process.execArgv)];
  let found: string | undefined;
  for (const [i, arg] of all.entries()) {
    const m = /^--max[-_]old[-_]space[-_]size(?:=(.*))?$/.exec(arg);
    if (m) found = m[1] ?? all[i + 1]; // the command line's comes after NODE_OPTIONS', and wins
  }
  return found;
}

/**
 * Node flags that belong to the driver's entry point, not to a worker (whose entry is
 * worker-main.js): true if the flag takes a value, which may come as the next argument.
 * `node -e`/`-p` code would run again in each worker; --input-type is refused for a file
 * entry (ERR_INPUT_TYPE_NOT_ALLOWED); --test, --watch, --check, -i run something else
 * instead; debugger ports would clash.
 */
const ENTRY_ONLY = new Map<string, boolean>([
  ['-e', true],
  ['--eval', true],
  ['-p', true],
  ['--print', true],
  ['-pe', true],
  ['--input-type', true],
  ['-i', false],
  ['--interactive', false],
  ['-c', false],
  ['--check', false],
  ['--test', false],
  ['--watch', false],
  ['--run', true],
  ['--entry-url', false],
  ['--build-snapshot', false],
  ['--snapshot-blob', true],
  ['--experimental-sea-config', true],
  ['--debug-port', true],
  ['--inspect-port', true],
  ['--inspect-publish-uid', true],
]);
/** Families of entry-only flags (the test runner's, --watch-*, the inspector's). */
const ENTRY_ONLY_PREFIXES = ['--test-', '--experimental-test-', '--watch-', '--build-snapshot-', '--inspect'];
/** Those of the families that take a value. */
const PREFIXED_WITH_VALUE = new Set([
  '--test-name-pattern',
  '--test-skip-pattern',
  '--test-reporter',
  '--test-reporter-destination',
  '--test-concurrency',
  '--test-timeout',
  '--test-shard',
  '--test-global-setup',
  '--test-isolation',
  '--experimental-test-isolation',
  '--test-coverage-include',
  '--test-coverage-exclude',
  '--test-coverage-branches',
  '--test-coverage-functions',
  '--test-coverage-lines',
  '--watch-path',
  '--watch-kill-signal',
  '--build-snapshot-config',
]);

/**
 * A worker's environment: the driver's, less the cluster token a user may have put there
 * (workers never need it, and a secret should live in as few processes as it can).
 */
export function workerEnv(
  extra: Record<string, string> | undefined,
  config: WorkerConfig,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, SUNRAY_WORKER_CONFIG: JSON.stringify(config) };
  delete env.SUNRAY_CLUSTER_TOKEN;
  return env;
}

/**
 * The driver's node options, for its workers: loaders and flags (tsx through --import,
 * --require, --expose-gc, --max-old-space-size) carry over; flags of the driver's entry
 * point (ENTRY_ONLY) do not.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  let skipValue = false;
  for (const a of execArgv) {
    if (skipValue) {
      skipValue = false; // the value of an entry-only flag just dropped
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const takesValue =
      ENTRY_ONLY.get(name) ??
      (ENTRY_ONLY_PREFIXES.some((p) => name.startsWith(p)) ? PREFIXED_WITH_VALUE.has(name) : undefined);
    if (takesValue === undefined) {
      out.push(a);
      continue;
    }
    if (takesValue && name === a) skipValue = true; // and its value, given as the next argument
  }
  return out;
}
