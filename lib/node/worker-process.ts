// One worker: a `node` child process that maps the node's store and talks to
// the node manager over two shared-memory rings (its inbox, and the shared
// completion ring). File descriptors are inherited through spawn's stdio
// array, so nothing is named in /dev/shm and nothing outlives the processes.
// Its stdout and stderr are pipes its node reads (worker-output.ts).
// A unix socket (the control socket) carries the fds of other workers' rings
// later, when the node manager opens a direct channel between a caller and an
// actor (direct/). What the scheduler knows of the worker (its state, its tasks)
// is WorkerSlot's (worker-slot.ts); this class adds the process behind it.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
import { JOB_CONFIG_ENV } from '../protocol/job-driver-config.js';
import type { WorkerConfig } from '../protocol/worker-config.js';
import { Msg } from '../protocol/worker-messages.js';
import type { ObjectStore } from '../store/index.js';
import type { PreparedEnv } from './runtime-envs.js';
import type { LogFiles } from './worker-log-files.js';
import { type LineSink, WorkerOutput } from './worker-output.js';
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
  /** Its stdout and stderr, read into lines (and the end of stderr: why it failed to start, or ran out of memory). */
  private readonly output: WorkerOutput;
  /** Settles once the process has exited and its output was read to the end (or STDERR_WAIT_MS after). */
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
      /** Its node's log files and router of lines (to the job's driver). */
      logs: { files: LogFiles; fromWorker: LineSink };
      /** The runtime env it is started for (set up on this node): its cwd, variables and packages. */
      runtimeEnv?: PreparedEnv | undefined;
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
      taskEvents: opts.taskEvents,
      ...(opts.runtimeEnv ? runtimeEnvConfig(opts.runtimeEnv) : {}),
      fds: { store: 3, completion: 4, completionBell: 5, inbox: 6, inboxBell: 7, control: 8 },
    };
    this.proc = spawn(process.execPath, workerArgv(), {
      // Its output comes through here, to its log files and its job's driver; the end of
      // stderr tells why a worker failed to start or died (V8's out-of-memory report).
      stdio: [
        'ignore',
        'pipe',
        'pipe',
        shared.store,
        shared.completion,
        shared.completionBell,
        this.inboxFd,
        this.inboxBellFd,
        childControlFd,
      ],
      env: workerEnv(opts.runtimeEnv ? { ...opts.env, ...opts.runtimeEnv.envVars } : opts.env, config),
      cwd: opts.runtimeEnv?.cwd ?? opts.driverDir,
    });
    closeSync(childControlFd); // the child has its own copy now
    const pid = this.proc.pid ?? -1;
    this.output = new WorkerOutput(
      this.proc,
      pid,
      opts.logs.fromWorker,
      pid > 0 ? opts.logs.files.forWorker(pid) : undefined,
    );
    let outputDone = false;
    void this.output.closed.then(() => {
      outputDone = true;
    });
    this.gone = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.hasExited = true;
        if (outputDone) {
          resolve({ code, signal });
          return;
        }
        // A child of the worker may hold the pipes open: wait a little, not for ever.
        const timer = setTimeout(() => resolve({ code, signal }), STDERR_WAIT_MS);
        void this.output.closed.then(() => {
          clearTimeout(timer);
          resolve({ code, signal });
        });
      });
    });
  }

  /** The last STDERR_TAIL bytes (about) it wrote to stderr, in whole lines. */
  stderrTail(): string {
    return this.output.stderrTail();
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
   * Passes on what waits in its pipes now, synchronously: for a driver that exits
   * (process.exit) before its loop read the last lines its workers wrote.
   */
  drainStderrSync(): void {
    this.output.drainSync();
  }

  /** Whether the process (and its pipes) keeps this process's event loop alive. */
  setRef(ref: boolean): void {
    if (ref) this.proc.ref();
    else this.proc.unref();
    this.output.setRef(ref);
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

/** What a worker of a runtime env is told of it (protocol/worker-config.ts). */
function runtimeEnvConfig(
  env: PreparedEnv,
): Pick<WorkerConfig, 'runtimeEnv' | 'envHome' | 'envSource' | 'envPackages'> {
  return {
    runtimeEnv: env.text,
    ...(env.home !== undefined ? { envHome: env.home } : {}),
    ...(env.packages !== undefined ? { envPackages: env.packages } : {}),
    ...(env.source !== undefined && env.cwd !== undefined ? { envSource: env.source } : {}),
  };
}

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
  delete env[JOB_CONFIG_ENV]; // a submitted job's driver config is its driver's alone
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
