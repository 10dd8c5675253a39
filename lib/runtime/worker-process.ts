// One worker: a `node` child process that maps the node's store and talks to
// the node manager over two shared-memory rings (its inbox, and the shared
// completion ring). File descriptors are inherited through spawn's stdio
// array, so nothing is named in /dev/shm and nothing outlives the processes.
// A unix socket (the control socket) carries the fds of other workers' rings
// later, when the node manager opens a direct channel between a caller and an
// actor (direct/).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writer } from '../core/codec.js';
import { native } from '../native.js';
import type { ObjectStore } from '../store/index.js';
import {
  ChannelWriter,
  createEventFd,
  createRingSegment,
  INBOX_PARTICIPANTS,
  openDoorbell,
  openRing,
} from './channel.js';
import { type FunctionDef, Msg, writeDef } from './protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
export const WORKER_MAIN = join(here, 'worker-main.js');

/** What a worker reads from SUNRAY_WORKER_CONFIG at start. */
export interface WorkerConfig {
  index: number;
  nodeId: string;
  ownerId: string; // hex: the worker's own ownership id
  /** The node manager's pid: the worker exits when its parent is no longer this process. */
  parentPid: number;
  driverDir: string;
  namespace: string;
  logToDriver: boolean;
  // fds, as inherited: store arena, completion ring + its eventfd, inbox ring + its eventfd,
  // and the control socket on which other workers' ring fds arrive
  fds: {
    store: number;
    completion: number;
    completionBell: number;
    inbox: number;
    inboxBell: number;
    control: number;
  };
}

export interface SharedFds {
  store: number;
  completion: number;
  completionBell: number;
}

export type WorkerState = 'starting' | 'idle' | 'leased' | 'actor' | 'dead';

export class WorkerProcess {
  readonly proc: ChildProcess;
  readonly writer: ChannelWriter;
  state: WorkerState = 'starting';
  ready = false;
  idleSince = 0;
  readonly defined = new Set<string>();
  /** Tasks sent and not yet done, by task id hex. */
  readonly inflight = new Set<string>();
  blockedDepth = 0;
  exited = false;
  /** It owns objects that other processes or objects hold (Msg.HeldByOthers): not reaped when idle. */
  heldByOthers = false;
  /** The actor it hosts (hex id), once it was given one. */
  actorHex: string | undefined;
  /** Actors this worker calls directly (it writes into their inboxes). */
  readonly channelsTo = new Set<WorkerProcess>();
  /** Workers that call the actor hosted here directly (they write into this inbox). */
  readonly callers = new Set<WorkerProcess>();
  private readonly inboxFd: number;
  private readonly inboxBellFd: number;
  /** This side of the control socket: fds sent here arrive in the worker (direct/). */
  readonly controlFd: number;

  constructor(
    readonly index: number,
    readonly ownerId: string,
    shared: SharedFds,
    store: ObjectStore,
    opts: {
      nodeId: string;
      driverDir: string;
      namespace: string;
      logToDriver: boolean;
      env?: Record<string, string>;
    },
  ) {
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
      logToDriver: opts.logToDriver,
      fds: { store: 3, completion: 4, completionBell: 5, inbox: 6, inboxBell: 7, control: 8 },
    };
    const out = opts.logToDriver ? 'inherit' : 'ignore';
    this.proc = spawn(
      process.execPath,
      [...workerExecArgv(process.execArgv), '--disable-warning=ExperimentalWarning', WORKER_MAIN],
      {
        stdio: [
          'ignore',
          out,
          out,
          shared.store,
          shared.completion,
          shared.completionBell,
          this.inboxFd,
          this.inboxBellFd,
          childControlFd,
        ],
        env: { ...process.env, ...opts.env, SUNRAY_WORKER_CONFIG: JSON.stringify(config) },
        cwd: opts.driverDir,
      },
    );
    closeSync(childControlFd); // the child has its own copy now
    this.proc.once('exit', () => {
      this.exited = true;
    });
  }

  /** The fds another process needs to write into this worker's inbox: ring, then eventfd. */
  inboxFds(): [number, number] {
    return [this.inboxFd, this.inboxBellFd];
  }

  /** Frees what a dead process that wrote into this inbox left claimed in it. */
  recoverInbox(pid: number): void {
    this.writer.recover(pid);
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Sends a function definition the first time this worker needs it. */
  ensureDefined(def: FunctionDef): void {
    if (this.defined.has(def.fnId)) return;
    this.defined.add(def.fnId);
    const w = new Writer(256).u8(Msg.Define);
    writeDef(w, def);
    this.writer.send(Buffer.from(w.finish()));
  }

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
    if (this.exited) return Promise.resolve();
    this.writer.send(Buffer.from([whenIdle ? Msg.ExitWhenIdle : Msg.Exit]));
    this.writer.flush();
    // Keep the loop alive until the exit is seen: an unref'd child that is
    // SIGKILLed after the grace period would otherwise leave shutdown() pending
    // with nothing to wait on (node exits with code 13 at a top-level await).
    // (Not for an actor finishing its calls: that may take as long as they do.)
    if (!whenIdle) this.proc.ref();
    return new Promise((resolve) => {
      const t = Number.isFinite(graceMs)
        ? setTimeout(() => {
            this.proc.kill('SIGKILL');
          }, graceMs)
        : undefined;
      this.proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      if (this.exited) {
        clearTimeout(t);
        resolve();
      }
    });
  }

  kill(): void {
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

/**
 * The driver's node options, for its workers: loaders and flags (tsx, --expose-gc)
 * carry over; debugger ports would clash; and the code of `node -e`/`-p` must not,
 * or each worker would run the driver's script again (and start workers itself).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++; // and its code
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=') || a.startsWith('--inspect')) continue;
    out.push(a);
  }
  return out;
}
