// The node's worker processes (Ray's worker_pool): starting them, handing out idle ones
// (the most recently used first: the warmest), stopping those idle too long, the cap on
// how many run at once and waiting for room under it, and the pause after workers that
// fail to start (worker-starts.ts). Workers are started for one runtime env each (its
// cwd, variables and packages: runtime-envs.ts), and handed out only for work of that env:
// two envs never share a process. It decides which worker; the local task manager and
// the actor manager decide what runs on it. Processes come from a WorkerSpawner, so the
// unit tests run it on fakes.

import type { WorkerStartError } from '../base/errors.js';
import { debug, warn } from '../base/warnings.js';
import { MAX_WORKERS } from '../protocol/channel.js';
import type { WorkerSlot } from './worker-slot.js';
import { StartGuard } from './worker-starts.js';

/** Starts worker processes (worker-process.ts; fakes in the unit tests). */
export interface WorkerSpawner<W extends WorkerSlot> {
  /** Starts worker number `index`, for the runtime env `env` ('' none; set up on this node already). */
  spawn(index: number, env: string): W;
  /** The command line workers run (node and its arguments), for WorkerStartError. */
  command(): readonly string[];
}

/** The limits of the worker pool: idle workers kept, idle timeout, process cap. */
export interface WorkerPoolOptions {
  /** CPUs of the node: this many idle workers (at least 1) are kept however long they idle. */
  numCpus: number;
  /** Idle workers above those are stopped after this long. */
  idleWorkerTimeoutMs: number;
  /** Worker processes at most, actors included. */
  maxWorkers: number;
  /** The clock (Date.now; the tests' own). */
  now?: () => number;
}

/** What the pool tells the node. */
export interface WorkerPoolHooks<W extends WorkerSlot> {
  /** A worker was started (it is in the pool already). */
  started(w: W): void;
  /** A worker's process exited (call forget() and startFailed() from here, in that order). */
  exited(w: W, code: number | null, signal: NodeJS.Signals | null): void;
  /** The pause after a failed start is over: work that waits for a worker may go on. */
  mayStartAgain(): void;
  /** Whether work waits for a worker (only then does a start pause keep the process alive). */
  hasWork(): boolean;
}

/** Ray's worker pool: starts workers, reuses idle ones, reaps those idle too long, keeps under the cap. */
export class WorkerPool<W extends WorkerSlot> {
  private readonly workers = new Map<number, W>();
  /** Starting workers a lease or an actor took: not handed out again. */
  private readonly claimed = new Set<W>();
  private nextIndex = 0;
  /** Failed worker starts in a row, and the pause before the next (worker-starts.ts). */
  private readonly starts: StartGuard;
  /** A hook call set for when the pause after a failed start is over. */
  private startRetry: NodeJS.Timeout | undefined;
  private readonly reaper: NodeJS.Timeout;
  /** Work waited because the node ran maxWorkers processes (said once). */
  private warnedAtCap = false;
  private readonly now: () => number;
  /** Worker processes at most. */
  readonly maxWorkers: number;

  constructor(
    private readonly spawner: WorkerSpawner<W>,
    private readonly opts: WorkerPoolOptions,
    private readonly hooks: WorkerPoolHooks<W>,
  ) {
    this.now = opts.now ?? Date.now;
    this.maxWorkers = opts.maxWorkers;
    this.starts = new StartGuard(this.now);
    this.reaper = setInterval(() => this.reapIdle(), Math.min(1000, opts.idleWorkerTimeoutMs)).unref();
  }

  /** Worker processes running (or starting, or stopping). */
  get size(): number {
    return this.workers.size;
  }

  /** Worker number `index`, while its process runs. */
  get(index: number): W | undefined {
    return this.workers.get(index);
  }

  /** Every worker of the node, whatever its state. */
  values(): IterableIterator<W> {
    return this.workers.values();
  }

  /**
   * Whether a worker may be started now: fewer than maxWorkers processes run, and starts
   * are not failing (after a failure: one at a time, after a pause). Otherwise the work
   * waits; hooks.mayStartAgain() says when the pause is over (a worker that exits or frees
   * up makes the node look again too).
   */
  mayStart(env = ''): boolean {
    if (this.workers.size >= this.maxWorkers) {
      this.makeRoom(env);
      return false;
    }
    if (this.starts.failuresInRow === 0) return true;
    let starting = 0;
    for (const w of this.workers.values()) if (!w.ready && !w.stopRequested) starting++;
    if (this.starts.mayStart(starting)) return true;
    const wait = this.starts.waitMs();
    if (wait > 0 && !this.startRetry) {
      this.startRetry = setTimeout(() => {
        this.startRetry = undefined;
        this.hooks.mayStartAgain();
      }, wait);
      // Keeps the process alive only for work that waits.
      if (!this.hooks.hasWork()) this.startRetry.unref();
    }
    return false;
  }

  /**
   * At the cap, work of one env waits while idle workers of others sit there: the one idle
   * longest is stopped (its exit makes the node dispatch again), as Ray's pool does.
   */
  private makeRoom(env: string): void {
    let oldest: W | undefined;
    for (const w of this.workers.values()) {
      if (w.state !== 'idle' || w.env === env || w.heldByOthers) continue;
      if (!oldest || w.idleSince < oldest.idleSince) oldest = w;
    }
    if (oldest) this.retire(oldest);
  }

  /** Whether the node runs maxWorkers processes. */
  atCap(): boolean {
    return this.workers.size >= this.maxWorkers;
  }

  /** Work waits because the node runs maxWorkers processes: said once, with what to do. */
  warnAtCap(what: string): void {
    if (this.warnedAtCap || this.workers.size < this.maxWorkers) return;
    this.warnedAtCap = true;
    warn(
      'SUNRAY_PROCESS_CAP',
      `${what} waits for a worker process: this node runs ${this.workers.size}, its most ` +
        `(maxWorkerProcesses ${this.maxWorkers}; each actor is a process of its own unless isolation: 'shared'). ` +
        'It starts when an actor exits or a worker frees up: kill actors you no longer need, use ' +
        "isolation: 'shared' for many small actors, or raise init({ maxWorkerProcesses }) " +
        `or \`sunray start --max-worker-processes\` (at most ${MAX_WORKERS}).`,
    );
  }

  /** Starts a worker for runtime env `env` (only when mayStart() said yes, or to prestart). */
  spawn(env = ''): W {
    const w = this.spawner.spawn(this.nextIndex++, env);
    w.env = env;
    debug('worker %d started (pid %d; %d processes)', w.index, w.pid, this.workers.size + 1);
    this.workers.set(w.index, w);
    this.hooks.started(w);
    w.onExit((code, signal) => this.hooks.exited(w, code, signal));
    return w;
  }

  /**
   * An idle worker for a new lease or actor: the most recently used ready one (the
   * warmest), else one still starting that no lease or actor took yet.
   */
  takeIdle(env = ''): W | undefined {
    let best: W | undefined;
    for (const w of this.workers.values()) {
      if (w.state === 'idle' && w.ready && w.env === env) {
        if (!best || w.idleSince > best.idleSince) best = w;
      }
    }
    if (best) return best;
    for (const w of this.workers.values()) {
      if (w.state === 'starting' && w.env === env && !this.claimed.has(w)) return w;
    }
    return undefined;
  }

  /** w (from takeIdle or spawn) runs a lease's tasks now. */
  lease(w: W): void {
    this.claimed.add(w);
    w.lease();
  }

  /** w (from spawn) hosts an actor for the rest of its life. */
  hostActor(w: W, actorHex: string): void {
    this.claimed.add(w);
    w.hostActor(actorHex);
  }

  /** A new worker (only when mayStart() said yes) that hosts shared actors. */
  spawnSharedHost(): W {
    const w = this.spawn();
    this.claimed.add(w);
    w.hostShared();
    return w;
  }

  /** An idle worker (as hostWarm) made a host of shared actors, or undefined when none is idle. */
  hostSharedWarm(): W | undefined {
    return this.takeWarm((w) => w.hostShared());
  }

  /**
   * Hosts an actor in the worker takeIdle() gives (its start paid or under way: Ray's actors
   * take their workers from the pool tasks use), or returns undefined when there is none.
   * Another is then started in the background while the pool has fewer unclaimed workers
   * than the node's CPUs (at least one), so that the next actor or task finds one warm too.
   */
  hostWarm(actorHex: string, env = ''): W | undefined {
    return this.takeWarm((w) => w.hostActor(actorHex), env);
  }

  /** The worker takeIdle(env) gives, claimed and given its role by `host`; a spare starts (keepWarm). */
  private takeWarm(host: (w: W) => void, env = ''): W | undefined {
    const w = this.takeIdle(env);
    if (!w) return undefined;
    this.claimed.add(w);
    host(w);
    // Spares are kept for work without a runtime env only.
    if (env === '') this.keepWarm();
    return w;
  }

  /** Starts a worker while fewer than one per CPU (at least one) are idle or starting unclaimed. */
  private keepWarm(): void {
    const target = Math.min(Math.max(1, Math.floor(this.opts.numCpus)), this.maxWorkers);
    let unclaimed = 0;
    for (const w of this.workers.values()) {
      if (w.env !== '') continue;
      if (w.state === 'idle' || (w.state === 'starting' && !this.claimed.has(w))) unclaimed++;
    }
    if (unclaimed < target && this.workers.size < this.maxWorkers && this.starts.waitMs() === 0) this.spawn();
  }

  /** A lease gave w back: idle, the warmest of the pool. */
  giveBack(w: W): void {
    w.release(this.now());
  }

  /** Msg.Ready from worker `index`: it takes work from now on, and starts no longer fail. */
  ready(index: number, heapLimit: number | undefined): W | undefined {
    const w = this.workers.get(index);
    if (!w) return undefined;
    w.markReady(heapLimit, this.now());
    this.starts.started();
    return w;
  }

  /**
   * Stops idle workers beyond one per CPU that idled longer than idleWorkerTimeoutMs (those
   * of a runtime env whatever their number: the per-CPU pool is of workers without one); a
   * worker that owns objects others still hold stays (stopping it would lose them).
   */
  reapIdle(): void {
    const now = this.now();
    let idle = 0;
    for (const w of this.workers.values()) if (w.state === 'idle' && w.env === '') idle++;
    const keep = Math.max(1, Math.floor(this.opts.numCpus));
    for (const w of this.workers.values()) {
      if (w.state !== 'idle' || w.heldByOthers || now - w.idleSince <= this.opts.idleWorkerTimeoutMs)
        continue;
      if (w.env === '') {
        if (idle <= keep) continue;
        idle--;
      }
      this.retire(w);
    }
  }

  private retire(w: W): void {
    w.retire();
    void w.stop();
  }

  /** w's process exited: it leaves the pool (its fds are closed). */
  forget(w: W): void {
    this.workers.delete(w.index);
    this.claimed.delete(w);
    w.closeFds();
  }

  /**
   * Whether w's exit was a failure to start (it never became ready and was not stopped);
   * then the next start waits, and after a few in a row the work that waits for a worker
   * should fail with the error returned (worker-starts.ts).
   */
  startFailed(
    w: W,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): { failed: boolean; error: WorkerStartError | undefined } {
    if (w.ready || w.stopRequested) return { failed: false, error: undefined };
    const error = this.starts.failed({
      pid: w.pid,
      code,
      signal,
      stderr: w.stderrTail(),
      command: this.spawner.command(),
      nodeOptions: process.env.NODE_OPTIONS,
    });
    return { failed: true, error };
  }

  /** Whether the workers keep this process's event loop alive (while work is outstanding). */
  setRef(busy: boolean): void {
    for (const w of this.workers.values()) w.setRef(busy);
  }

  /**
   * The process is exiting without shutdown(): what waits in the workers' stderr pipes is
   * passed on, then every worker is killed. A worker that has booted would die with its
   * parent anyway (PR_SET_PDEATHSIG); one still booting has not set that yet and would only
   * notice once its runtime is loaded, which takes seconds on a loaded machine.
   */
  processExiting(): void {
    for (const w of this.workers.values()) w.drainStderrSync();
    for (const w of this.workers.values()) w.kill();
  }

  /** Stops every worker (killed after graceMs) and forgets them. */
  async shutdown(graceMs: number): Promise<void> {
    clearInterval(this.reaper);
    clearTimeout(this.startRetry);
    await Promise.all([...this.workers.values()].map((w) => w.stop(graceMs)));
    for (const w of this.workers.values()) w.closeFds();
    this.workers.clear();
  }

  /** Stops the pool's timers (the unit tests' pools, which start no processes). */
  close(): void {
    clearInterval(this.reaper);
    clearTimeout(this.startRetry);
  }
}
