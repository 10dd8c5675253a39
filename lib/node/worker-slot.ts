// A worker as the node's scheduler sees it: its state (starting, idle, leased, hosting an
// actor, retired), the tasks sent to it and not done, whether it waits in get() and whether
// others hold objects it owns, and the frames the node sends it. Every change of that state
// goes through a method here; the process behind it (worker-process.ts) and the fakes of
// the unit tests (test/node/fakes.ts) supply how frames are sent and how it is stopped.
import { Writer } from '../base/codec.js';
import { type FunctionDef, type TaskSpec, writeDef, writeSpec } from '../protocol/spec.js';
import { Msg } from '../protocol/worker-messages.js';

/**
 * starting: spawned, not ready yet; idle: ready, in the pool; leased: runs the tasks of one
 * lease (local-task-manager.ts); actor: hosts one actor (or shared actors) for life; dead:
 * retired (stopping).
 */
export type WorkerState = 'starting' | 'idle' | 'leased' | 'actor' | 'dead';

/** A GPU-less task's device ids (the common case: no array made). */
export const NO_GPUS: readonly number[] = [];

/** A worker as the scheduler sees it: its state, lease, actor and tasks; every change is a method. */
export abstract class WorkerSlot {
  private _state: WorkerState = 'starting';
  private _ready = false;
  private _idleSince = 0;
  private _blockedDepth = 0;
  private _heldByOthers = false;
  private _actorHex: string | undefined;
  private _sharedHost = false;
  private _guests = 0;
  private _heapLimit: number | undefined;
  /** Tasks sent and not yet done, by task key (ids.ts taskKeyOf). */
  private readonly running = new Set<string>();
  /** Functions this worker has been sent (Msg.Define), by fnId. */
  private readonly defined = new Set<string>();
  /** Actors this worker calls directly (it writes into their inboxes). */
  private readonly callees = new Set<WorkerSlot>();
  /** Workers that call the actor hosted here directly (they write into this inbox). */
  private readonly callersHere = new Set<WorkerSlot>();
  /** Set by stop() and kill(): an exit before Ready is then no failure to start. */
  protected stopWasRequested = false;
  /** Set once the process has exited. */
  protected hasExited = false;
  /** The runtime env it was started for (protocol/runtime-env.ts text; '' none): it runs only that env's work. */
  env = '';

  /** index: its number on this node (frames name it); ownerId: the owner id (hex) of what it creates. */
  constructor(
    readonly index: number,
    readonly ownerId: string,
  ) {}

  get state(): WorkerState {
    return this._state;
  }
  /** It said Ready: its loop runs and it reads its inbox. */
  get ready(): boolean {
    return this._ready;
  }
  /** When it last became idle (Date.now()): the reaper stops the longest idle first. */
  get idleSince(): number {
    return this._idleSince;
  }
  /** Nested get()/wait() calls it is blocked in (Msg.Blocked/Unblocked). */
  get blockedDepth(): number {
    return this._blockedDepth;
  }
  /** It owns objects that other processes or objects hold (Msg.HeldByOthers): not reaped when idle. */
  get heldByOthers(): boolean {
    return this._heldByOthers;
  }
  /** The actor it hosts (hex id), once it was given one. */
  get actorHex(): string | undefined {
    return this._actorHex;
  }
  /** It hosts shared actors (isolation: 'shared'), any number of them over its life. */
  get sharedHost(): boolean {
    return this._sharedHost;
  }
  /** The shared actors it holds now. */
  get guests(): number {
    return this._guests;
  }
  /** Its V8 heap limit in bytes, as it said when ready (an out-of-memory death names it). */
  get heapLimit(): number | undefined {
    return this._heapLimit;
  }
  /** Tasks sent to it and not done yet (task keys). */
  get inflight(): ReadonlySet<string> {
    return this.running;
  }
  /** Actors this worker calls directly. */
  get channelsTo(): ReadonlySet<WorkerSlot> {
    return this.callees;
  }
  /** Workers that call the actor hosted here directly. */
  get callers(): ReadonlySet<WorkerSlot> {
    return this.callersHere;
  }
  /** The node asked it to exit, or killed it. */
  get stopRequested(): boolean {
    return this.stopWasRequested;
  }
  /** Its process has exited. */
  get exited(): boolean {
    return this.hasExited;
  }

  // ------------------------------------------------------------ state

  /** Msg.Ready: a starting worker becomes idle (one claimed by a lease meanwhile stays leased). */
  markReady(heapLimit: number | undefined, now: number): void {
    this._ready = true;
    if (heapLimit !== undefined) this._heapLimit = heapLimit;
    if (this._state === 'starting') {
      this._state = 'idle';
      this._idleSince = now;
    }
  }

  /** Taken by a lease: it runs that lease's tasks until the lease is given back. */
  lease(): void {
    this._state = 'leased';
  }

  /** Its lease was given back: idle again, the warmest of the pool. */
  release(now: number): void {
    this._state = 'idle';
    this._idleSince = now;
  }

  /** Given an actor to host, for the rest of its life. */
  hostActor(actorHex: string): void {
    this._state = 'actor';
    this._actorHex = actorHex;
  }

  /** Made a host of shared actors, for the rest of its life. */
  hostShared(): void {
    this._state = 'actor';
    this._sharedHost = true;
  }

  /** A shared actor was placed in it. */
  guestJoined(): void {
    this._guests++;
  }

  /** A shared actor left it (dropped while it runs on). */
  guestLeft(): void {
    this._guests--;
  }

  /** Taken out of the pool to be stopped (reaped, or to make room): never handed work again. */
  retire(): void {
    this._state = 'dead';
  }

  /** A task was sent to it. */
  taskSent(taskKey: string): void {
    this.running.add(taskKey);
  }

  /** A task it ran is done. */
  taskDone(taskKey: string): void {
    this.running.delete(taskKey);
  }

  /** It exited: the tasks it had, which the node retries or fails. */
  takeInflight(): string[] {
    const keys = [...this.running];
    this.running.clear();
    return keys;
  }

  /** Msg.Blocked (true) or Unblocked: returns how many get()/wait() calls it is now blocked in. */
  blocked(blocked: boolean): number {
    this._blockedDepth += blocked ? 1 : -1;
    return this._blockedDepth;
  }

  /** Msg.HeldByOthers. */
  setHeldByOthers(held: boolean): void {
    this._heldByOthers = held;
  }

  /** A direct channel from `caller` to the actor hosted here was opened (channel-broker.ts). */
  addCaller(caller: WorkerSlot): void {
    this.callersHere.add(caller);
    caller.callees.add(this);
  }

  /** This worker exited: the channels to and from it are forgotten on both ends; returns both sides. */
  dropChannels(): { callers: WorkerSlot[]; callees: WorkerSlot[] } {
    const callers = [...this.callersHere];
    const callees = [...this.callees];
    for (const c of callers) c.callees.delete(this);
    for (const x of callees) x.callersHere.delete(this);
    this.callersHere.clear();
    this.callees.clear();
    return { callers, callees };
  }

  // ------------------------------------------------------------ frames

  /** Sends a function definition the first time this worker needs it. */
  ensureDefined(def: FunctionDef): void {
    if (this.defined.has(def.fnId)) return;
    this.defined.add(def.fnId);
    const w = new Writer(256).u8(Msg.Define);
    writeDef(w, def);
    this.send(Buffer.from(w.finish()));
  }

  /**
   * Msg.Execute: runs a task, an actor's constructor or a routed actor call. ownerIndex is
   * the owner's worker index on this node, or -1 (workers read it only for direct calls).
   */
  execute(spec: TaskSpec, ownerIndex: number, gpuIds: readonly number[]): void {
    this.sendWith((f) => {
      f.u8(Msg.Execute);
      writeSpec(f, spec);
      f.i32(ownerIndex).str(gpuIds.length === 0 ? '' : gpuIds.join(','));
    });
  }

  /** Msg.DropActor: a shared actor it hosts ends there (its neighbours run on). */
  dropActor(actorId: Buffer): void {
    this.sendWith((f) => f.u8(Msg.DropActor).raw(actorId));
  }

  /** Sends a whole frame to its inbox. */
  abstract send(frame: Buffer): void;
  /** Sends a frame written in place (see ChannelWriter.sendWith). */
  abstract sendWith(fill: (w: Writer) => void): void;
  /** Its process id (-1 before it has one). */
  abstract get pid(): number;
  /**
   * Asks it to exit; kills it if it has not within graceMs (never, if Infinity). whenIdle:
   * an actor first finishes the calls it has.
   */
  abstract stop(graceMs?: number, whenIdle?: boolean): Promise<void>;
  /** Kills it now. */
  abstract kill(): void;
  /** Whether it keeps this process's event loop alive. */
  abstract setRef(ref: boolean): void;
  /** Calls fn once, when it has exited. */
  abstract onExit(fn: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Closes this side's copies of its fds. */
  abstract closeFds(): void;
  /** The end of what it wrote to stderr. */
  abstract stderrTail(): string;
  /** Passes on what waits in its stderr now, synchronously (the driver is exiting). */
  abstract drainStderrSync(): void;
  /** Frees what a dead process that wrote into its inbox left claimed there. */
  abstract recoverInbox(pid: number): void;
}
