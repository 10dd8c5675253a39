// The node manager (Ray's "raylet"), embedded in the driver: it holds the
// node's object store, its resources, its worker pool and its actors, and
// schedules tasks onto workers. Workers reach it through one shared
// completion ring; it reaches each worker through that worker's inbox ring.

import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import {
  type NativeGrant as Grant,
  type NativeDoorbell,
  type NativeResourcePool as NativePool,
  type NativeRing,
  native,
} from '../base/addon.js';
import { Reader, Writer } from '../base/codec.js';
import { Deque } from '../base/deque.js';
import {
  ActorDiedError,
  InvalidArgumentError,
  type RemoteErrorInfo,
  SunrayError,
  TaskCancelledError,
  type WorkerStartError,
} from '../base/errors.js';
import { IdGenerator, OBJECT_ID_SIZE, ownerHexOf, taskKeyOf } from '../base/ids.js';
import { deserialize, serialize } from '../base/serialization.js';
import {
  ChannelReader,
  COMPLETION_PARTICIPANTS,
  checkMaxWorkerProcesses,
  createEventFd,
  createRingSegment,
  MAX_WORKERS,
  openDoorbell,
  openRing,
} from '../protocol/channel.js';
import { errorRecord } from '../protocol/error-record.js';
import { keepPayload } from '../protocol/interned-payloads.js';
import { namespacedKey } from '../protocol/namespaced-key.js';
import { REF_OP_SIZE, RefOp } from '../protocol/ref-ops.js';
import { classKey, type Demand, PIPELINE_DEPTH } from '../protocol/resources.js';
import {
  type FunctionDef,
  NO_DEF,
  readDef,
  SpecView,
  specKey,
  TaskKind,
  type TaskSpec,
  withSpec,
  writeSpec,
} from '../protocol/spec.js';
import {
  type DoneMessage,
  DoneStatus,
  Msg,
  ReturnKind,
  readDone,
  readResult,
  returnOf,
  writeResult,
} from '../protocol/worker-messages.js';
import { ObjectId, ObjectStore } from '../store/index.js';
import type { ActorCreateReply, NodeRequests } from '../worker/backend.js';
import { type ActorExit, ChannelBroker } from './channel-broker.js';
import { type ClusterHooks, type FetchOutcome, REMOTE_OWNER } from './cluster-hooks.js';
import { describeDeath, taskCrashError } from './worker-deaths.js';
import { WorkerProcess, workerArgv } from './worker-process.js';
import { StartGuard } from './worker-starts.js';

export const DRIVER = -1;
/** Bytes of the node id at the start of every owner id of this node's processes. */
export const OWNER_NODE_PREFIX = 6;

const RESOLVED = Promise.resolve();

/** A task on this node, from submission to its end (a million may be queued: kept small). */
interface TaskEntry {
  spec: TaskSpec;
  /** Its task id as a 24-character latin1 string (ids.ts taskKeyOf): its key in `tasks` and workers' `inflight`. */
  hex: string;
  owner: number;
  retriesLeft: number;
  worker: WorkerProcess | undefined;
  lease: Lease | undefined;
  /** The actor an actor call was sent to (set when sent: worker is then that actor's process). */
  actor: ActorRec | undefined;
  cancelled: boolean;
}

interface Lease {
  key: string;
  demand: Demand;
  worker: WorkerProcess;
  grant: Grant | null;
  inflight: number;
  suspended: boolean;
}

interface ClassQueue {
  demand: Demand;
  tasks: Deque<TaskEntry>;
  leases: Lease[];
  warnedInfeasible: boolean;
  /** releaseEpoch when a lease last failed to get resources: no retry until something is released. */
  exhaustedAt: number;
  checkedFeasible: boolean;
}

type ActorState = 'pending' | 'alive' | 'restarting' | 'dead';

interface ActorRec {
  id: Buffer;
  hex: string;
  def: FunctionDef;
  createSpec: TaskSpec;
  owner: number;
  worker: WorkerProcess | undefined;
  state: ActorState;
  restartsLeft: number;
  restarts: number;
  name: string | undefined;
  namespace: string;
  detached: boolean;
  holdDemand: Demand;
  placeDemand: Demand;
  grant: Grant | null;
  pending: Deque<TaskEntry>;
  /**
   * Calls sent to its process and not done. Counted, not listed (two map operations a call
   * saved): the rare death of an actor finds them in the node's task table (takeRunningCalls).
   */
  running: number;
  cause: RemoteErrorInfo | undefined;
  deathMessage: string;
  methods: string[];
  className: string;
  maxTaskRetries: number;
  terminateWhenIdle: boolean;
}

export interface NodeManagerOptions {
  numCpus: number;
  numGpus: number;
  resources: Record<string, number>;
  objectStoreMemory: number;
  spillDir?: string;
  namespace: string;
  logToDriver: boolean;
  idleWorkerTimeoutMs: number;
  driverDir: string;
  /** Worker processes this node runs at most, actors included (default and most: MAX_WORKERS). */
  maxWorkerProcesses?: number;
}

/** Counts of a node's workers and work (sunray/testing's nodeStats()). */
export interface NodeStats {
  workers: number;
  idle: number;
  queued: number;
  /** Tasks and routed actor calls; direct actor calls are known only to their callers. */
  running: number;
  actors: number;
  /** Actors waiting to be placed: for a worker process (see maxWorkerProcesses) or for resources. */
  pendingActors: number;
  /** Open channels from calling workers straight to actors on this node. */
  directChannels: number;
}

/** Delivers results of tasks the driver owns (the driver's CoreWorker). */
export interface DriverSink {
  readonly ownerHex: string;
  onTaskReturn(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void;
  settleFailed(objectId: Buffer, err: Error): void;
  /** Ownership ops for objects the driver owns (ownership/ref-ops.ts). */
  onRefOps(ops: Buffer): void;
  /** A process that owned objects exited: refs it owned can no longer be read. */
  onOwnerDied(ownerHex: string): void;
  /** The driver's own rows for `sunray memory`. */
  memorySummary(): unknown[];
}

export class NodeManager {
  readonly nodeId = randomBytes(16).toString('hex');
  /** The start of every owner id of this node's processes (hex): see newOwnerId. */
  readonly nodePrefix = this.nodeId.slice(0, OWNER_NODE_PREFIX * 2);
  readonly store: ObjectStore;
  readonly pool: NativePool;
  private readonly completionFd: number;
  private readonly completionBellFd: number;
  private readonly completionRing: NativeRing;
  private readonly completionBell: NativeDoorbell;
  private readonly reader: ChannelReader;
  private readonly workers = new Map<number, WorkerProcess>();
  /** Live workers by their ownership id (object ids embed it): where ownership ops go. */
  private readonly owners = new Map<string, WorkerProcess>();
  /** Owner ids of workers that exited: refs they owned can no longer be read. */
  private readonly deadOwners = new Set<string>();
  private nextWorkerIndex = 0;
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly classes = new Map<string, ClassQueue>();
  private readonly actors = new Map<string, ActorRec>();
  private readonly actorAliases = new Map<string, string>();
  private readonly namedActors = new Map<string, string>();
  /** Actors whose name the cluster refused: their calls fail with the reason. */
  private readonly refusedActors = new Map<string, Error>();
  private readonly pendingActors = new Deque<ActorRec>();
  private readonly defs = new Map<string, FunctionDef>();
  /** Direct channels between calling workers and actors (direct/). */
  private readonly broker = new ChannelBroker();
  private dispatchScheduled = false;
  /** Counts releases to the resource pool (see ClassQueue.exhaustedAt). */
  private releaseEpoch = 0;
  private releaseScheduled = false;
  private reaper: NodeJS.Timeout;
  private closed = false;
  /** Worker processes at most (NodeManagerOptions.maxWorkerProcesses). */
  readonly maxWorkers: number;
  /** Failed worker starts in a row, and the pause before the next (worker-starts.ts). */
  private readonly starts = new StartGuard();
  /** A dispatch set for when the pause after a failed start is over. */
  private startRetry: NodeJS.Timeout | undefined;
  /** Work waited because the node ran maxWorkers processes (said once). */
  private warnedAtCap = false;
  driver: DriverSink | undefined;
  /** Set when this node is part of a cluster (lib/cluster attaches it). */
  cluster: ClusterHooks | undefined;

  constructor(readonly opts: NodeManagerOptions) {
    this.maxWorkers = checkMaxWorkerProcesses(opts.maxWorkerProcesses);
    this.store = ObjectStore.create({
      capacity: opts.objectStoreMemory,
      ...(opts.spillDir ? { spillDir: opts.spillDir } : {}),
    });
    const totals: Record<string, number> = { CPU: opts.numCpus, ...opts.resources };
    if (opts.numGpus > 0) totals.GPU = opts.numGpus;
    this.pool = new native.ResourcePool(totals) as NativePool;
    this.completionFd = createRingSegment(COMPLETION_PARTICIPANTS);
    this.completionBellFd = createEventFd();
    this.completionRing = openRing(this.completionFd, true, COMPLETION_PARTICIPANTS);
    this.completionBell = openDoorbell(this.completionRing, this.completionBellFd);
    this.reader = new ChannelReader(this.completionRing, this.completionBell, this.store, (r, t) =>
      this.onFrame(r, t),
    );
    this.reader.start();
    this.reader.setRef(false);
    this.reaper = setInterval(() => this.reapIdle(), Math.min(1000, opts.idleWorkerTimeoutMs)).unref();
    process.on('exit', this.drainOnExit);
  }

  /** Workers' stderr comes through pipes: what is in them still reaches ours when the process exits. */
  private readonly drainOnExit = () => {
    for (const w of this.workers.values()) w.drainStderrSync();
  };

  /** Starts one worker per CPU in the background so the first tasks find them warm. */
  prestart(): void {
    const n = Math.min(Math.max(1, Math.floor(this.opts.numCpus)), this.maxWorkers);
    for (let i = 0; i < n; i++) this.spawnWorker();
  }

  // ------------------------------------------------------------ workers

  /**
   * Whether a worker may be started now: fewer than maxWorkers processes run, and starts
   * are not failing (after a failure: one at a time, after a pause). Otherwise the work
   * waits; it is looked at again when a worker exits or frees up, or the pause ends.
   */
  private mayStartWorker(): boolean {
    if (this.workers.size >= this.maxWorkers) return false;
    if (this.starts.failuresInRow === 0) return true;
    let starting = 0;
    for (const w of this.workers.values()) if (!w.ready && !w.stopRequested) starting++;
    if (this.starts.mayStart(starting)) return true;
    const wait = this.starts.waitMs();
    if (wait > 0 && !this.startRetry) {
      this.startRetry = setTimeout(() => {
        this.startRetry = undefined;
        this.scheduleDispatch();
      }, wait);
      // Keeps the process alive only for work that waits.
      if (this.tasks.size === 0) this.startRetry.unref();
    }
    return false;
  }

  /** Work waits because the node runs maxWorkers processes: said once, with what to do. */
  private warnAtCap(what: string): void {
    if (this.warnedAtCap || this.workers.size < this.maxWorkers) return;
    this.warnedAtCap = true;
    console.warn(
      `sunray: ${what} waits for a worker process: this node runs ${this.workers.size}, its most ` +
        `(maxWorkerProcesses ${this.maxWorkers}; each actor is a process of its own). It starts when an ` +
        'actor exits or a worker frees up: kill actors you no longer need, or raise init({ maxWorkerProcesses }) ' +
        `or \`sunray start --max-worker-processes\` (at most ${MAX_WORKERS}).`,
    );
  }

  /** Only when mayStartWorker() said yes. */
  private spawnWorker(): WorkerProcess {
    const index = this.nextWorkerIndex++;
    const w = new WorkerProcess(
      index,
      this.newOwnerId().toString('hex'),
      { store: this.store.fd, completion: this.completionFd, completionBell: this.completionBellFd },
      this.store,
      {
        nodeId: this.nodeId,
        driverDir: this.opts.driverDir,
        namespace: this.opts.namespace,
        logToDriver: this.opts.logToDriver,
      },
    );
    this.workers.set(index, w);
    this.owners.set(w.ownerId, w);
    this.updateRef();
    w.onExit((code, signal) => this.onWorkerExit(w, code, signal));
    return w;
  }

  /** The driver stays alive while work is outstanding, and may exit when idle. */
  private updateRef(): void {
    const busy = this.tasks.size > 0 || [...this.actors.values()].some((a) => a.state !== 'dead');
    for (const w of this.workers.values()) w.setRef(busy);
    this.reader.setRef(busy);
  }

  private takeIdleWorker(): WorkerProcess | undefined {
    let best: WorkerProcess | undefined;
    for (const w of this.workers.values()) {
      if (w.state === 'idle' && w.ready) {
        if (!best || w.idleSince > best.idleSince) best = w; // most recently used: warmest
      }
    }
    if (best) return best;
    for (const w of this.workers.values()) if (w.state === 'starting' && !this.isClaimed(w)) return w;
    return undefined;
  }

  private claimed = new Set<WorkerProcess>();
  private isClaimed(w: WorkerProcess): boolean {
    return this.claimed.has(w);
  }

  private reapIdle(): void {
    const now = Date.now();
    let idle = 0;
    for (const w of this.workers.values()) if (w.state === 'idle') idle++;
    const keep = Math.max(1, Math.floor(this.opts.numCpus));
    for (const w of this.workers.values()) {
      if (idle <= keep) break;
      // A worker that owns objects others still hold stays: stopping it would lose them.
      if (w.state === 'idle' && !w.heldByOthers && now - w.idleSince > this.opts.idleWorkerTimeoutMs) {
        idle--;
        w.state = 'dead';
        void w.stop();
      }
    }
  }

  /** Repairs the completion ring after a worker died mid-push; retries while messages wait for room. */
  private recoverRing(pid: number, attempt: number): void {
    if (this.closed) return;
    try {
      const stats = this.completionRing.recover(pid);
      if (stats.completed + stats.requeued > 0) this.completionBell.notify();
      if (stats.pending > 0 && attempt < 100)
        setTimeout(() => this.recoverRing(pid, attempt + 1), 10).unref();
    } catch (err) {
      console.error(
        `sunray: could not repair the completion ring after worker ${pid} died: ${(err as Error).message}`,
      );
    }
  }

  private onWorkerExit(w: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // What it sent before it died comes first (its Ready above all: a worker that was ready
    // did not fail to start, whatever it did next).
    if (!w.ready && !this.closed) this.reader.pump();
    this.workers.delete(w.index);
    this.owners.delete(w.ownerId);
    this.claimed.delete(w);
    w.closeFds();
    if (this.closed) return;
    this.onOwnerExit(w.ownerId);
    this.recoverRing(w.pid, 0);
    try {
      this.store.reapDeadClients();
    } catch {
      // store closed
    }
    const death = describeDeath(w, code, signal);
    const { how } = death;
    // A worker that never became ready (and that we did not stop) failed to start: the next
    // try waits, and after a few the work that waits for a worker fails (worker-starts.ts).
    const startFailed = !w.ready && !w.stopRequested;
    const startError = startFailed
      ? this.starts.failed({
          pid: w.pid,
          code,
          signal,
          stderr: w.stderrTail(),
          command: [process.execPath, ...workerArgv()],
          nodeOptions: process.env.NODE_OPTIONS,
        })
      : undefined;
    // Tasks it was running or had queued.
    for (const hex of w.inflight) {
      const t = this.tasks.get(hex);
      if (!t) continue;
      if (t.lease) t.lease.inflight--;
      t.worker = undefined;
      t.lease = undefined;
      if (t.spec.kind === TaskKind.ActorCall || t.spec.kind === TaskKind.ActorCreate) continue; // handled below
      if (t.cancelled) {
        this.failTask(
          t,
          new TaskCancelledError(`task ${t.spec.name} was cancelled (force: its worker was killed)`),
        );
      } else if (t.retriesLeft > 0) {
        t.retriesLeft--;
        this.enqueue(t, true);
      } else {
        this.failTask(t, taskCrashError(death, w, t.spec.name, t.spec.maxRetries));
      }
    }
    w.inflight.clear();
    // Its lease, if any.
    for (const q of this.classes.values()) {
      const i = q.leases.findIndex((l) => l.worker === w);
      if (i >= 0) {
        const [lease] = q.leases.splice(i, 1);
        if (lease?.grant && !lease.suspended) this.releaseGrant(lease.grant);
      }
    }
    // An actor it hosted.
    for (const a of this.actors.values()) {
      if (a.worker === w && startFailed) this.placeAgain(a);
      else if (a.worker === w) this.onActorProcessDied(a, how, death.hint);
      else if (a.owner === w.index && !a.detached && a.state !== 'dead')
        this.killActorInternal(a, 'its owner exited', true);
    }
    // Direct channels to and from it (after the actor's fate is known: its callers are told).
    const hosted = w.actorHex !== undefined ? this.actors.get(w.actorHex) : undefined;
    const actorExit: ActorExit | undefined = hosted && {
      restarting: hosted.state === 'restarting',
      how,
      death: hosted.state === 'dead' ? this.actorDiedError(hosted).message : '',
    };
    this.broker.onExit(w, actorExit);
    // Tasks it owned: their results have nowhere to go.
    for (const t of this.tasks.values()) if (t.owner === w.index) t.owner = -2;
    if (startError) this.failWaitingForWorkers(startError);
    this.scheduleDispatch();
    this.updateRef();
  }

  /**
   * Starts keep failing: the work that waits for a worker (queued tasks no ready worker
   * runs, actors not placed yet) fails with the reason, rather than wait forever.
   */
  private failWaitingForWorkers(err: WorkerStartError): void {
    for (const q of this.classes.values()) {
      if (q.leases.some((l) => l.worker.ready)) continue; // a worker runs them
      while (q.tasks.length > 0) {
        const t = q.tasks.shift()!;
        if (!t.cancelled) this.failTask(t, err);
      }
    }
    let n = this.pendingActors.length;
    while (n-- > 0) {
      const a = this.pendingActors.shift()!;
      if (a.state === 'dead') continue;
      this.tasks.delete(specKey(a.createSpec));
      this.markActorDead(a, `its process could not start: ${err.message}`, err);
    }
  }

  /** An actor whose process failed to start: placed again (not a restart: it never ran). */
  private placeAgain(a: ActorRec): void {
    a.worker = undefined;
    if (a.grant) {
      this.releaseGrant(a.grant);
      a.grant = null;
    }
    this.pendingActors.unshift(a);
  }

  // ------------------------------------------------------------ ownership

  /**
   * A process that owned objects is gone: nobody can count their references
   * any more, so their copies are deleted and every process is told, so that
   * gets on those refs fail with OwnerDiedError instead of waiting forever.
   */
  private onOwnerExit(ownerHex: string): void {
    this.deadOwners.add(ownerHex);
    this.ownersDied(ownerHex);
    // Processes on other nodes may borrow its objects, or lend it theirs.
    this.cluster?.ownerExited(ownerHex);
  }

  /**
   * Owners whose ids start with `prefix` (hex: one owner's whole id, or a dead node's
   * prefix, which every owner of that node shares) are gone: copies of their objects
   * here are deleted, and every process of this node is told.
   */
  ownersDied(prefix: string): void {
    if (this.closed) return;
    const frame = ownerDiedFrame(prefix);
    for (const other of this.workers.values()) other.send(frame);
    this.driver?.onOwnerDied(prefix);
    try {
      for (const info of this.store.list()) {
        if (ownerHexOf(info.id.bytes).startsWith(prefix)) this.deleteQuietly(info.id.bytes);
      }
    } catch {
      // store closed
    }
  }

  private deleteQuietly(id: Uint8Array): void {
    try {
      this.store.delete(ObjectId.fromBytes(id));
    } catch {
      // already gone
    }
  }

  /**
   * Forwards ownership ops to the owners of their targets (ownership/ref-ops.ts): on this
   * node through their inboxes, on other nodes through the cluster (which keeps them in
   * order with what this node sends after them: cluster/cluster-node.ts sendRefOps).
   */
  routeRefOps(sender: number, ops: Buffer): void {
    let remote: Buffer[] | undefined;
    for (let pos = 0; pos + REF_OP_SIZE <= ops.length; pos += REF_OP_SIZE) {
      const op = ops.subarray(pos, pos + REF_OP_SIZE);
      const owner = ownerHexOf(op.subarray(1, 1 + OBJECT_ID_SIZE));
      if (this.routeLocalRefOp(op, owner)) continue;
      if (this.cluster && !owner.startsWith(this.nodePrefix)) {
        (remote ??= []).push(op);
        continue;
      }
      // The owner is gone: a process that just started borrowing learns it now.
      if (op[0] === RefOp.AddBorrower && this.deadOwners.has(owner)) this.tellOwnerDied(sender, owner);
    }
    if (remote) this.cluster?.sendRefOps(remote.length === 1 ? remote[0]! : Buffer.concat(remote), sender);
  }

  /** Hands one op to its owner if that is a live process of this node. */
  private routeLocalRefOp(op: Buffer, owner: string): boolean {
    if (this.driver && owner === this.driver.ownerHex) {
      this.driver.onRefOps(op);
      return true;
    }
    const w = this.owners.get(owner);
    if (!w) return false;
    w.sendWith((f) => f.u8(Msg.RefOps).raw(op));
    return true;
  }

  /**
   * Ownership ops another node sent for owners on this node. Returns the owners (hex) that
   * borrowers tried to register with but that are gone: the borrowers' node tells them.
   */
  routeRemoteRefOps(ops: Buffer): string[] {
    const dead: string[] = [];
    for (let pos = 0; pos + REF_OP_SIZE <= ops.length; pos += REF_OP_SIZE) {
      const op = ops.subarray(pos, pos + REF_OP_SIZE);
      const owner = ownerHexOf(op.subarray(1, 1 + OBJECT_ID_SIZE));
      if (this.routeLocalRefOp(op, owner)) continue;
      // An owner id of this node that no live process holds has exited (or never was).
      if (op[0] === RefOp.AddBorrower && owner.startsWith(this.nodePrefix) && !dead.includes(owner))
        dead.push(owner);
    }
    return dead;
  }

  private readonly memoryQueries = new Map<number, (rows: unknown[]) => void>();
  private nextMemoryQuery = 1;

  /** `sunray memory` for this node: the driver's rows and every live worker's (1 s to answer). */
  async memoryReport(): Promise<{
    rows: unknown[];
    store: unknown;
    workers: number;
    workersAnswered: number;
  }> {
    const rows: unknown[] = [...(this.driver?.memorySummary() ?? [])];
    const live = [...this.workers.values()].filter((w) => !w.exited && w.ready);
    let answered = 0;
    await Promise.all(
      live.map(
        (w) =>
          new Promise<void>((resolve) => {
            const id = this.nextMemoryQuery++;
            const timer = setTimeout(() => {
              this.memoryQueries.delete(id);
              resolve();
            }, 1000);
            this.memoryQueries.set(id, (r) => {
              clearTimeout(timer);
              this.memoryQueries.delete(id);
              answered++;
              rows.push(...r);
              resolve();
            });
            w.sendWith((f) => f.u8(Msg.MemoryQuery).u32(id));
          }),
      ),
    );
    let store: unknown = null;
    try {
      store = this.store.stats();
    } catch {
      // closed
    }
    return { rows, store, workers: live.length, workersAnswered: answered };
  }

  /** Tells one process of this node (a worker index, or DRIVER) that an owner is gone. */
  tellOwnerDied(to: number, ownerHex: string): void {
    if (to === DRIVER) {
      this.driver?.onOwnerDied(ownerHex);
      return;
    }
    this.workers.get(to)?.send(ownerDiedFrame(ownerHex));
  }

  /**
   * An owner id for a process of this node: its first bytes are the node's, so any
   * object id says which node its owner (and the owner's copy) is on.
   */
  newOwnerId(): Buffer {
    const id = randomBytes(16);
    Buffer.from(this.nodeId, 'hex').copy(id, 0, 0, OWNER_NODE_PREFIX);
    return id;
  }

  // ------------------------------------------------------------ submission

  define(def: FunctionDef): void {
    if (def.fnId !== '' && !this.defs.has(def.fnId)) this.defs.set(def.fnId, def);
  }

  /** The function of a task submitted here (actor calls have none: their process has the class). */
  private defOf(spec: TaskSpec): FunctionDef {
    return (spec.fnId === '' ? undefined : this.defs.get(spec.fnId)) ?? NO_DEF;
  }

  /** retriesLeft: a direct call whose actor died, retried with what it has left (direct/actor-links.ts). */
  submit(spec: TaskSpec, def: FunctionDef, owner: number, retriesLeft = spec.maxRetries): void {
    if (this.closed) throw new SunrayError('the node manager is shut down');
    this.define(def);
    if (this.cluster && owner !== REMOTE_OWNER && spec.kind !== TaskKind.ActorCall) {
      // Tasks forwarded here run here (no ping-pong); our own may go to another node.
      const where = this.cluster.place(spec);
      if (where instanceof Error) {
        this.notifyFailed(spec, owner, where);
        return;
      }
      if (where !== undefined) {
        this.cluster.forward(where, spec, def, owner);
        return;
      }
    }
    if (spec.kind === TaskKind.ActorCall && this.refusedActors.size > 0) {
      const why = this.refusedActors.get(spec.actorId.toString('hex'));
      if (why) {
        this.notifyFailed(
          spec,
          owner,
          new ActorDiedError(`the actor was never created: ${why.message}`, { cause: why }),
        );
        return;
      }
    }
    if (this.cluster && spec.kind === TaskKind.ActorCall && this.actorAliases.size > 0) {
      // A handle from getIfExists to an actor on another node: calls go to that actor's id.
      const alias = this.actorAliases.get(spec.actorId.toString('hex'));
      if (alias !== undefined && !this.actors.has(alias))
        spec = withSpec(spec, { actorId: Buffer.from(alias, 'hex') });
    }
    if (
      this.cluster &&
      spec.kind === TaskKind.ActorCall &&
      !this.actors.has(this.actorAliases.get(spec.actorId.toString('hex')) ?? spec.actorId.toString('hex')) &&
      this.cluster.routeActorCall(spec, owner)
    ) {
      return;
    }
    const hex = specKey(spec);
    const entry: TaskEntry = {
      spec,
      hex,
      owner,
      retriesLeft,
      worker: undefined,
      lease: undefined,
      actor: undefined,
      cancelled: false,
    };
    this.tasks.set(hex, entry);
    if (this.tasks.size === 1) this.updateRef();
    if (spec.kind === TaskKind.ActorCreate) this.createActor(entry);
    else if (spec.kind === TaskKind.ActorCall) this.routeActorCall(entry);
    else this.enqueue(entry, false);
  }

  private enqueue(t: TaskEntry, front: boolean): void {
    const key = classKey(t.spec.demand);
    let q = this.classes.get(key);
    if (!q) {
      q = {
        demand: t.spec.demand,
        tasks: new Deque(),
        leases: [],
        warnedInfeasible: false,
        exhaustedAt: -1,
        checkedFeasible: false,
      };
      this.classes.set(key, q);
    }
    // Asked once per class (a native call): a node's totals do not change while it runs.
    if (!q.warnedInfeasible && !q.checkedFeasible && !this.pool.feasible(t.spec.demand)) {
      q.warnedInfeasible = true;
      console.warn(
        `sunray: task ${t.spec.name} needs ${JSON.stringify(t.spec.demand)} but this node has ` +
          `${JSON.stringify(this.pool.total())} in all: it is infeasible and waits until a node that can run it ` +
          'joins. Lower its resource demand, or start sunray with those resources (init({ numCpus, numGpus, resources })).',
      );
    }
    q.checkedFeasible = true;
    if (front) q.tasks.unshift(t);
    else q.tasks.push(t);
    this.scheduleDispatch();
  }

  private releaseGrant(g: Grant): void {
    this.pool.release(g);
    this.releaseEpoch++;
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled || this.closed) return;
    this.dispatchScheduled = true;
    // A resolved promise rather than queueMicrotask, which makes an AsyncResource per call.
    RESOLVED.then(this.runDispatch);
  }

  private readonly runDispatch = () => {
    this.dispatchScheduled = false;
    if (!this.closed) this.dispatch();
  };

  /**
   * Leases whose queue ran dry are given back at the end of the loop turn, not
   * at once: a caller that gets a result and submits the next task in the same
   * turn (a sync loop) finds its worker still leased, with no release and
   * re-acquire in between.
   */
  private scheduleLeaseRelease(): void {
    if (this.releaseScheduled || this.closed) return;
    this.releaseScheduled = true;
    setImmediate(this.releaseIdleLeases);
  }

  private readonly releaseIdleLeases = () => {
    if (!this.releaseScheduled) return;
    this.releaseScheduled = false;
    if (!this.closed) this.releaseIdle();
  };

  private releaseIdle(): void {
    let released = false;
    for (const q of this.classes.values()) {
      if (q.tasks.length > 0) continue;
      for (let i = q.leases.length - 1; i >= 0; i--) {
        const l = q.leases[i]!;
        if (l.inflight === 0 && l.worker.blockedDepth === 0 && l.worker.ready) {
          q.leases.splice(i, 1);
          if (l.grant && !l.suspended) this.releaseGrant(l.grant);
          l.worker.state = 'idle';
          l.worker.idleSince = Date.now();
          released = true;
        }
      }
    }
    if (released) this.dispatch();
  }

  private dispatch(): void {
    for (const q of this.classes.values()) this.dispatchClass(q);
    this.placeActors();
  }

  private dispatchClass(q: ClassQueue): void {
    while (q.tasks.length > 0) {
      const t = q.tasks.peek()!;
      if (t.cancelled) {
        q.tasks.shift();
        continue;
      }
      let lease = q.leases.find((l) => l.inflight === 0 && l.worker.ready && !l.suspended);
      if (!lease) {
        const fresh = this.newLease(q);
        if (fresh === 'starting') break;
        lease = fresh;
      }
      if (!lease) {
        // No new lease possible: pipeline onto the least loaded one.
        const depth = Math.min(PIPELINE_DEPTH, Math.ceil(q.tasks.length / Math.max(1, q.leases.length)));
        let best: Lease | undefined;
        for (const l of q.leases) {
          if (!l.worker.ready || l.suspended) continue;
          if (l.inflight < depth && (!best || l.inflight < best.inflight)) best = l;
        }
        if (!best) break;
        lease = best;
      }
      q.tasks.shift();
      this.sendTask(t, lease);
    }
    // Leases with nothing to do give their worker and resources back (at the end of the turn).
    if (q.tasks.length === 0 && q.leases.some((l) => l.inflight === 0)) this.scheduleLeaseRelease();
  }

  /** A lease with fresh resources, 'starting' if its worker is still booting, or undefined if none fit. */
  private newLease(q: ClassQueue): Lease | 'starting' | undefined {
    if (q.leases.some((l) => !l.worker.ready)) return 'starting';
    // With every lease busy, each task would ask the pool again and fail: ask
    // once, then again only after some resources were given back.
    if (q.exhaustedAt === this.releaseEpoch) return undefined;
    let w = this.takeIdleWorker();
    if (!w && !this.mayStartWorker()) {
      // At the process cap, or starts are failing: the tasks wait (never an error from here).
      this.warnAtCap(`task ${q.tasks.peek()?.spec.name ?? ''}`);
      return undefined;
    }
    const grant = this.pool.tryAcquire(q.demand);
    if (!grant) {
      q.exhaustedAt = this.releaseEpoch;
      return undefined;
    }
    w ??= this.spawnWorker();
    this.claimed.add(w);
    w.state = 'leased';
    const lease: Lease = {
      key: classKey(q.demand),
      demand: q.demand,
      worker: w,
      grant,
      inflight: 0,
      suspended: false,
    };
    q.leases.push(lease);
    return w.ready ? lease : 'starting';
  }

  private sendTask(t: TaskEntry, lease: Lease): void {
    const w = lease.worker;
    t.worker = w;
    t.lease = lease;
    lease.inflight++;
    w.inflight.add(t.hex);
    w.ensureDefined(this.defOf(t.spec));
    sendExecute(w, t.spec, t.owner, lease.grant?.gpuIds ?? NO_GPUS);
  }

  // ------------------------------------------------------------ completions

  private onFrame(r: Reader, type: number): void {
    switch (type) {
      case Msg.Ready: {
        const w = this.workers.get(r.u32());
        if (!w) return;
        w.ready = true;
        if (r.remaining >= 8) w.heapLimit = r.f64();
        this.starts.started();
        if (w.state === 'starting') {
          w.state = 'idle';
          w.idleSince = Date.now();
        }
        this.scheduleDispatch();
        return;
      }
      case Msg.Done:
        this.onDone(r);
        return;
      case Msg.Submit: {
        const owner = r.u32();
        const spec = SpecView.read(r);
        // Actor calls carry no function (and reading fnId would decode the whole spec).
        const def = spec.kind === TaskKind.ActorCall || spec.fnId === '' ? NO_DEF : this.defs.get(spec.fnId);
        if (!def) throw new Error(`worker ${owner} submitted ${spec.name} without defining it first`);
        this.submit(spec, def, owner);
        return;
      }
      case Msg.SubmitRetry: {
        const owner = r.u32();
        const retriesLeft = r.u32();
        this.submit(SpecView.read(r), NO_DEF, owner, retriesLeft);
        return;
      }
      case Msg.ChannelOpen: {
        const caller = this.workers.get(r.u32());
        const asked = r.copy(16);
        if (caller) this.broker.open(caller, asked, this.localActor(asked));
        return;
      }
      case Msg.RelayResult:
        this.relayResult(r.u32(), r.raw(r.remaining));
        return;
      case Msg.DefineUp: {
        r.u32();
        this.define(readDef(r));
        return;
      }
      case Msg.Blocked:
        this.onBlocked(r.u32(), true);
        return;
      case Msg.Unblocked:
        this.onBlocked(r.u32(), false);
        return;
      case Msg.Request:
        this.onRequest(r);
        return;
      case Msg.HeldByOthers: {
        const w = this.workers.get(r.u32());
        if (w) w.heldByOthers = r.u8() === 1;
        return;
      }
      case Msg.MemoryReport: {
        const id = r.u32();
        this.memoryQueries.get(id)?.(JSON.parse(r.str()) as unknown[]);
        return;
      }
      case Msg.RefOps: {
        const sender = r.u32();
        this.routeRefOps(sender, Buffer.from(r.raw(r.remaining)));
        return;
      }
      default:
        console.error(`sunray: node manager got an unknown message type ${type}; ignored`);
    }
  }

  /** The actor a handle's id names, if it lives on this node (aliases from getIfExists resolved). */
  private localActor(id: Buffer): ActorRec | undefined {
    const hex = id.toString('hex');
    return this.actors.get(this.actorAliases.get(hex) ?? hex);
  }

  /**
   * A direct call's result the actor sent this way to keep it behind its ownership ops
   * (executor.ts replyDirect): passed on as it is; dropped, with its stored value, if the
   * caller is gone.
   */
  private relayResult(owner: number, frame: Buffer): void {
    const w = this.workers.get(owner);
    if (w) {
      w.send(frame);
      return;
    }
    const r = new Reader(frame);
    r.u8(); // Msg.DirectResult
    r.u32(); // the actor's worker index
    const m = readResult(r);
    if (m.kind === ReturnKind.InStore) this.deleteQuietly(m.objectId);
  }

  private onBlocked(index: number, blocked: boolean): void {
    const w = this.workers.get(index);
    if (!w) return;
    w.blockedDepth += blocked ? 1 : -1;
    const lease = this.leaseOf(w);
    if (!lease) return;
    if (blocked && w.blockedDepth === 1 && !lease.suspended) {
      // Lend the resources back while the task waits, so the tasks it waits for can run.
      if (lease.grant) this.releaseGrant(lease.grant);
      lease.suspended = true;
      this.scheduleDispatch();
    } else if (!blocked && w.blockedDepth === 0 && lease.suspended) {
      lease.suspended = false;
      // Take them back; if others hold them now, run over for a while rather than stall.
      lease.grant = this.pool.tryAcquire(lease.demand);
    }
  }

  private leaseOf(w: WorkerProcess): Lease | undefined {
    for (const q of this.classes.values()) for (const l of q.leases) if (l.worker === w) return l;
    return undefined;
  }

  private onDone(r: Reader): void {
    const done = readDone(r, DONE_SCRATCH);
    const hex = done.taskKey;
    const t = this.tasks.get(hex);
    if (t?.spec.kind === TaskKind.ActorCall) {
      // Counted by their actor, not by its worker; a Done from a process no longer running
      // the call (it died and the call went back to wait for the restart) is stale.
      if (t.worker?.index !== done.worker) return;
    } else this.workers.get(done.worker)?.inflight.delete(hex);
    if (!t) return;
    if (t.lease) t.lease.inflight--;
    t.worker = undefined;
    t.lease = undefined;
    if (t.spec.kind === TaskKind.ActorCreate) {
      this.onActorCreated(t, done.status, done.returns[0]?.payload);
      return;
    }
    if (t.spec.kind === TaskKind.ActorCall) {
      const a = t.actor;
      t.actor = undefined;
      if (a) {
        a.running--;
        if (a.terminateWhenIdle) RESOLVED.then(() => this.maybeTerminate(a));
      }
    }
    if (done.status === DoneStatus.Error && t.spec.retryExceptions && t.retriesLeft > 0 && !t.cancelled) {
      t.retriesLeft--;
      if (t.spec.kind === TaskKind.ActorCall) this.routeActorCall(t);
      else this.enqueue(t, true);
      this.scheduleDispatch();
      return;
    }
    this.tasks.delete(hex);
    if (!t.cancelled) {
      // The common case, an owner on this node: its Results are written with no id Buffer made
      // (the id goes through a scratch buffer, copied into the frame at once).
      const ownerWorker = t.owner >= 0 ? this.workers.get(t.owner) : undefined;
      for (let i = 0; i < t.spec.numReturns; i++) {
        const ret = returnOf(done.status, done.returns, i);
        if (ownerWorker) {
          const objectId = IdGenerator.returnIdOfKey(hex, i, RESULT_ID_SCRATCH);
          const { status } = done;
          const kind = ret?.kind ?? ReturnKind.Inline;
          const payload = ret?.payload ?? EMPTY;
          ownerWorker.sendWith((f) => writeResult(f, objectId, status, kind, payload));
          continue;
        }
        this.deliver(t.owner, IdGenerator.returnIdOfKey(hex, i), done.status, ret?.kind ?? 0, ret?.payload);
      }
    }
    this.scheduleDispatch();
    if (this.tasks.size === 0) this.updateRef();
  }

  /** Hands a result to its owner on this node (also for results that came back from another node). */
  deliver(
    owner: number,
    objectId: Buffer,
    status: DoneStatus,
    kind: ReturnKind,
    payload: Buffer | undefined,
  ) {
    const body = payload ?? EMPTY;
    if (owner === REMOTE_OWNER) {
      this.cluster?.sendResult(objectId, status, kind, body);
      return;
    }
    if (owner === DRIVER) {
      // The payload is a view into the ring's chunk (readDone): the owner keeps a copy.
      this.driver?.onTaskReturn(objectId, status, kind, keepPayload(body));
      return;
    }
    const w = this.workers.get(owner);
    if (!w) {
      // The owner is gone: nobody will ever read or free a result left in the store.
      if (kind === ReturnKind.InStore) this.deleteQuietly(objectId);
      return;
    }
    w.sendWith((f) => writeResult(f, objectId, status, kind, body));
  }

  private failTask(t: TaskEntry, err: Error): void {
    this.tasks.delete(t.hex);
    this.notifyOwnerFailed(t, err);
    if (this.tasks.size === 0) this.updateRef();
  }

  private notifyOwnerFailed(t: TaskEntry, err: Error): void {
    this.notifyFailed(t.spec, t.owner, err);
  }

  /** Fails every return of a task for its owner on this node (or its origin node). */
  notifyFailed(spec: TaskSpec, owner: number, err: Error): void {
    const payload = serialize(errorRecord(err));
    for (let i = 0; i < spec.numReturns; i++) {
      const id = IdGenerator.returnId(spec.taskId, i);
      if (owner === DRIVER) this.driver?.settleFailed(id, err);
      else this.deliver(owner, id, DoneStatus.Error, ReturnKind.Inline, payload);
    }
  }

  // ------------------------------------------------------------ cancel

  cancelTask(taskId: Buffer, force: boolean): void {
    const t = this.tasks.get(taskKeyOf(taskId));
    if (!t) {
      this.cluster?.cancel(taskId, force);
      return;
    }
    if (t.cancelled) return;
    if (!t.worker) {
      t.cancelled = true;
      this.classes.get(classKey(t.spec.demand))?.tasks.remove((x) => x === t);
      this.actors.get(t.spec.actorId.toString('hex'))?.pending.remove((x) => x === t);
      this.failTask(t, new TaskCancelledError(`task ${t.spec.name} was cancelled before it ran`));
      return;
    }
    t.cancelled = true;
    if (force && t.spec.kind === TaskKind.Task) {
      // Killing the worker ends the task; its other queued tasks are retried without cost.
      const w = t.worker;
      for (const other of w.inflight) {
        const o = this.tasks.get(other);
        if (o && o !== t) o.retriesLeft++;
      }
      w.kill();
      return;
    }
    // Not forced and already running: JS cannot interrupt it, so the caller stops waiting now and
    // the result is dropped when the worker reports (the entry stays to free the lease then).
    this.notifyOwnerFailed(
      t,
      new TaskCancelledError(`task ${t.spec.name} was cancelled while running; its result will be discarded`),
    );
  }

  // ------------------------------------------------------------ actors

  registerActor(
    actorId: Buffer,
    o: { name?: string; namespace: string; getIfExists: boolean; detached: boolean },
    methods: string[],
    className: string,
  ): ActorCreateReply | Promise<ActorCreateReply> {
    if (o.name) {
      const key = namespacedKey(o.namespace, o.name);
      const existing = this.namedActors.get(key);
      const rec = existing ? this.actors.get(existing) : undefined;
      if (rec && rec.state !== 'dead') {
        if (!o.getIfExists) {
          throw new InvalidArgumentError(
            `an actor named '${o.name}' already exists in namespace '${o.namespace}': pick another name, ` +
              'use getIfExists: true to get a handle to it, or sunray.getActor() to look it up',
          );
        }
        this.actorAliases.set(actorId.toString('hex'), rec.hex);
        return { actorId: rec.id, methods: rec.methods, className: rec.className };
      }
      // In a cluster the name is unique cluster-wide: the head's directory decides (async).
      if (this.cluster) {
        const named = { name: o.name, namespace: o.namespace, actorId, methods, className };
        return this.cluster.claimName(named, o.getIfExists).then(
          (existing) => {
            if (!existing) return { actorId, methods, className };
            this.actorAliases.set(actorId.toString('hex'), existing.actorId.toString('hex'));
            return { actorId: existing.actorId, methods: existing.methods, className: existing.className };
          },
          (err: Error) => {
            this.refusedActors.set(actorId.toString('hex'), err);
            throw err;
          },
        );
      }
    }
    return { actorId, methods, className };
  }

  private createActor(t: TaskEntry): void {
    const hex = t.spec.actorId.toString('hex');
    if (this.actorAliases.has(hex) || this.actors.has(hex)) {
      // getIfExists found one: nothing to create.
      this.tasks.delete(t.hex);
      return;
    }
    const opts = JSON.parse(t.spec.method || '{}') as {
      name?: string;
      namespace: string;
      detached: boolean;
      maxRestarts: number;
      maxTaskRetries: number;
      methods: string[];
      className: string;
      explicitResources: boolean;
    };
    const a: ActorRec = {
      id: t.spec.actorId,
      hex,
      def: this.defOf(t.spec),
      createSpec: t.spec,
      owner: t.owner,
      worker: undefined,
      state: 'pending',
      restartsLeft: opts.maxRestarts < 0 ? Number.POSITIVE_INFINITY : opts.maxRestarts,
      restarts: 0,
      name: opts.name,
      namespace: opts.namespace,
      detached: opts.detached,
      holdDemand: opts.explicitResources ? t.spec.demand : {},
      placeDemand: opts.explicitResources ? t.spec.demand : { CPU: 1 },
      grant: null,
      pending: new Deque(),
      running: 0,
      cause: undefined,
      deathMessage: '',
      methods: opts.methods,
      className: opts.className,
      maxTaskRetries: opts.maxTaskRetries < 0 ? Number.POSITIVE_INFINITY : opts.maxTaskRetries,
      terminateWhenIdle: false,
    };
    this.actors.set(hex, a);
    this.cluster?.actorHere(
      hex,
      a.name
        ? { name: a.name, namespace: a.namespace, actorId: a.id, methods: a.methods, className: a.className }
        : undefined,
    );
    if (a.name) this.namedActors.set(namespacedKey(a.namespace, a.name), hex);
    this.tasks.set(t.hex, t);
    this.pendingActors.push(a);
    if (!this.pool.feasible(a.placeDemand)) {
      console.warn(
        `sunray: actor ${a.className} needs ${JSON.stringify(a.placeDemand)} to be placed but this node has ` +
          `${JSON.stringify(this.pool.total())} in all: it is infeasible and waits.`,
      );
    }
    this.scheduleDispatch();
  }

  private placeActors(): void {
    let n = this.pendingActors.length;
    while (n-- > 0) {
      const a = this.pendingActors.shift()!;
      if (a.state === 'dead') continue;
      if (!this.mayStartWorker()) {
        // Each actor is a process: at the cap it waits, in order, for one to exit (as Ray's
        // pending actors do), and an idle task worker makes room.
        this.pendingActors.unshift(a);
        if (this.workers.size >= this.maxWorkers) {
          this.makeRoom();
          this.warnAtCap(`actor ${a.className}`);
        }
        return;
      }
      const grant = this.pool.tryAcquire(a.placeDemand);
      if (!grant) {
        this.pendingActors.push(a);
        continue;
      }
      a.grant = grant;
      const w = this.spawnWorker();
      this.claimed.add(w);
      w.state = 'actor';
      w.actorHex = a.hex;
      a.worker = w;
      const t = this.tasks.get(specKey(a.createSpec));
      w.ensureDefined(a.def);
      sendExecute(w, a.createSpec, a.owner, grant.gpuIds ?? NO_GPUS);
      if (t) {
        t.worker = w;
        w.inflight.add(t.hex);
      }
    }
  }

  /** At the process cap with actors waiting: stops one idle task worker (one at a time) to make room. */
  private makeRoom(): void {
    let idle: WorkerProcess | undefined;
    for (const w of this.workers.values()) {
      if (w.stopRequested && !w.exited) return; // one is on its way out already
      if (w.state === 'idle' && w.ready && !w.heldByOthers) idle ??= w;
    }
    if (!idle) return;
    idle.state = 'dead';
    void idle.stop();
  }

  private onActorCreated(t: TaskEntry, status: DoneStatus, payload: Buffer | undefined): void {
    const a = this.actors.get(t.spec.actorId.toString('hex'));
    this.tasks.delete(t.hex);
    if (!a) return;
    if (status !== DoneStatus.Ok) {
      const info = payload ? (deserialize(payload) as RemoteErrorInfo) : undefined;
      a.cause = info;
      this.markActorDead(
        a,
        `the actor ${a.className}'s constructor threw ${info ? `${info.name}: ${info.message}` : 'an error'}`,
      );
      void a.worker?.stop();
      return;
    }
    a.state = 'alive';
    // Placement resources (1 CPU by default) are only for placing; keep what was asked for explicitly.
    if (a.grant && Object.keys(a.holdDemand).length === 0) {
      this.releaseGrant(a.grant);
      a.grant = null;
    }
    while (a.pending.length > 0) this.sendActorCall(a, a.pending.shift()!);
    this.scheduleDispatch();
  }

  private routeActorCall(t: TaskEntry): void {
    let hex = t.spec.actorId.toString('hex');
    hex = this.actorAliases.get(hex) ?? hex;
    const a = this.actors.get(hex);
    if (a && a.maxTaskRetries !== 0 && t.retriesLeft === 0 && t.spec.maxRetries === 0 && !t.cancelled) {
      // Calls take their retry budget from the actor's maxTaskRetries, once.
      t.retriesLeft = a.maxTaskRetries;
      t.spec = withSpec(t.spec, {
        maxRetries: Number.isFinite(a.maxTaskRetries) ? a.maxTaskRetries : 2 ** 31 - 1,
      });
    }
    if (!a) {
      this.failTask(
        t,
        new ActorDiedError(`the actor ${hex.slice(0, 12)}… is unknown to this node (never created, or gone)`),
      );
      return;
    }
    if (a.state === 'dead') {
      this.failTask(t, this.actorDiedError(a));
      return;
    }
    if (a.state === 'alive' && a.worker?.ready) this.sendActorCall(a, t);
    else a.pending.push(t);
  }

  private sendActorCall(a: ActorRec, t: TaskEntry): void {
    const w = a.worker!;
    t.worker = w;
    t.actor = a;
    a.running++;
    // Calls to an alias carry the real actor id, so the worker finds its instance.
    if (!t.spec.actorId.equals(a.id)) t.spec = withSpec(t.spec, { actorId: a.id });
    sendExecute(w, t.spec, t.owner, NO_GPUS);
  }

  /** The calls sent to a's process and not done, in the order they were submitted; no longer counted as running. */
  private takeRunningCalls(a: ActorRec): TaskEntry[] {
    const out: TaskEntry[] = [];
    if (a.running === 0) return out;
    for (const t of this.tasks.values()) {
      if (t.actor !== a) continue;
      t.actor = undefined;
      t.worker = undefined;
      out.push(t);
    }
    a.running = 0;
    return out;
  }

  private actorDiedError(a: ActorRec): ActorDiedError {
    const cause = a.cause ? `\n  cause: ${a.cause.name}: ${a.cause.message}\n${a.cause.stack}` : '';
    return new ActorDiedError(
      `the actor ${a.className} (${a.hex.slice(0, 12)}…) is dead: ${a.deathMessage}${cause}`,
    );
  }

  /** `failWith`: what its waiting calls fail with (default: ActorDiedError with the message). */
  private markActorDead(a: ActorRec, message: string, failWith?: Error): void {
    a.state = 'dead';
    a.deathMessage = message;
    if (a.name) {
      const { name, namespace, id: actorId, methods, className } = a;
      this.cluster?.nameGone({ name, namespace, actorId, methods, className });
    }
    if (a.grant) {
      this.releaseGrant(a.grant);
      a.grant = null;
    }
    const err = failWith ?? this.actorDiedError(a);
    while (a.pending.length > 0) this.failTask(a.pending.shift()!, err);
    for (const t of this.takeRunningCalls(a)) this.failTask(t, err);
    this.updateRef();
  }

  /** hint: what to do about it, said after how it died (out of memory: how to raise the limit). */
  private onActorProcessDied(a: ActorRec, how: string, hint = ''): void {
    const w = a.worker;
    a.worker = undefined;
    if (a.state === 'dead') return;
    // A death while constructing counts as a restart like any other.
    if (a.grant) {
      this.releaseGrant(a.grant);
      a.grant = null;
    }
    if (a.restartsLeft <= 0) {
      const usedUp = `maxRestarts (${a.restarts}) is used up${hint ? `. ${hint}` : ''}`;
      // The calls it was running are named: one of them may be why it died.
      for (const t of this.takeRunningCalls(a)) {
        this.failTask(
          t,
          new ActorDiedError(
            `the actor ${a.className} (${a.hex.slice(0, 12)}…) is dead: its process (pid ${w?.pid}) ${how} ` +
              `while running ${t.spec.name}, and ${usedUp}`,
          ),
        );
      }
      this.markActorDead(a, `its process (pid ${w?.pid}) ${how} and ${usedUp}`);
      return;
    }
    a.restartsLeft--;
    a.restarts++;
    a.state = 'restarting';
    // Calls that were running: retry those that may be retried, in order, ahead of queued ones.
    const retry: TaskEntry[] = [];
    for (const t of this.takeRunningCalls(a)) {
      if (t.retriesLeft > 0) {
        t.retriesLeft--;
        retry.push(t);
      } else {
        this.failTask(
          t,
          new ActorDiedError(
            `the actor ${a.className}'s process (pid ${w?.pid}) ${how} while running ${t.spec.name}; ` +
              `it is restarting. Set maxTaskRetries to retry calls that were running.${hint ? ` ${hint}` : ''}`,
          ),
        );
      }
    }
    for (let i = retry.length - 1; i >= 0; i--) a.pending.unshift(retry[i]!);
    // Re-run the constructor in a fresh process.
    const entry: TaskEntry = {
      spec: a.createSpec,
      hex: specKey(a.createSpec),
      owner: a.owner,
      retriesLeft: 0,
      worker: undefined,
      lease: undefined,
      actor: undefined,
      cancelled: false,
    };
    this.tasks.set(entry.hex, entry);
    this.pendingActors.push(a);
    this.scheduleDispatch();
  }

  killActor(actorId: Buffer, noRestart: boolean): void {
    let hex = actorId.toString('hex');
    hex = this.actorAliases.get(hex) ?? hex;
    const a = this.actors.get(hex);
    if (!a) {
      this.cluster?.killActor(Buffer.from(hex, 'hex'), noRestart);
      return;
    }
    this.killActorInternal(a, 'it was killed with sunray.kill()', noRestart);
  }

  private killActorInternal(a: ActorRec, why: string, noRestart: boolean): void {
    if (a.state === 'dead') return;
    if (noRestart) {
      const w = a.worker;
      a.worker = undefined;
      this.markActorDead(a, why);
      w?.kill();
      this.pendingActors.remove((x) => x === a);
      return;
    }
    a.worker?.kill();
  }

  /** The owner dropped its last handle: end the actor once its calls are done (unless detached). */
  releaseActor(actorId: Buffer): void {
    const hex = actorId.toString('hex');
    // A handle from getIfExists is not the owner's: dropping it ends nothing.
    if (this.actorAliases.has(hex)) return;
    const a = this.actors.get(hex);
    if (!a) {
      this.cluster?.releaseActor(actorId);
      return;
    }
    if (a.detached || a.state === 'dead') return;
    a.terminateWhenIdle = true;
    this.maybeTerminate(a);
  }

  private maybeTerminate(a: ActorRec): void {
    if (!a.terminateWhenIdle || a.state !== 'alive' || a.running > 0 || a.pending.length > 0) return;
    const w = a.worker;
    a.worker = undefined;
    this.markActorDead(a, 'all handles to it were dropped');
    // Calls may have come straight from callers (direct/): the actor finishes those first.
    if (w && w.callers.size > 0) void w.stop(Number.POSITIVE_INFINITY, true);
    else void w?.stop();
  }

  getActor(
    name: string,
    namespace: string,
  ): { actorId: Buffer; methods: string[]; className: string } | null {
    const hex = this.namedActors.get(namespacedKey(namespace, name));
    const a = hex ? this.actors.get(hex) : undefined;
    if (!a || a.state === 'dead') return null;
    return { actorId: a.id, methods: a.methods, className: a.className };
  }

  actorState(actorId: Buffer): { state: string; restarts: number; pid: number } | null {
    const hex = actorId.toString('hex');
    const a = this.actors.get(this.actorAliases.get(hex) ?? hex);
    if (!a) return null;
    return { state: a.state, restarts: a.restarts, pid: a.worker?.pid ?? -1 };
  }

  // ------------------------------------------------------------ requests from workers

  private onRequest(r: Reader): void {
    const index = r.u32();
    const reqId = r.u32();
    const kind = r.str() as keyof NodeRequests;
    const args = deserialize(r.bytes()) as unknown[];
    const send = (reply: Buffer) => {
      const w = this.workers.get(index);
      if (!w) return;
      const f = new Writer(32 + reply.length).u8(Msg.Reply).u32(reqId).bytes(reply);
      w.send(Buffer.from(f.finish()));
    };
    const fail = (err: Error) =>
      send(serialize({ ok: false, error: errorRecord(err), message: err.message }));
    try {
      const value = (this.handleRequest as any)(kind, args);
      // Some requests (pullObject) answer later.
      if (value instanceof Promise) value.then((v) => send(serialize({ ok: true, value: v })), fail);
      else send(serialize({ ok: true, value }));
    } catch (err) {
      fail(err as Error);
    }
  }

  handleRequest<K extends keyof NodeRequests>(
    kind: K,
    args: Parameters<NodeRequests[K]>,
  ): ReturnType<NodeRequests[K]> {
    const a = args as unknown[];
    switch (kind) {
      case 'getActor': {
        const local = this.getActor(a[0] as string, a[1] as string);
        // Not here: it may live on another node of the cluster (async for drivers and workers alike).
        if (!local && this.cluster) return this.cluster.lookupNamed(a[0] as string, a[1] as string) as any;
        return local as ReturnType<NodeRequests[K]>;
      }
      case 'killActor':
        return this.killActor(Buffer.from(a[0] as Uint8Array), a[1] as boolean) as ReturnType<
          NodeRequests[K]
        >;
      case 'cancelTask':
        return this.cancelTask(Buffer.from(a[0] as Uint8Array), a[1] as boolean) as ReturnType<
          NodeRequests[K]
        >;
      case 'availableResources':
        return (this.cluster?.clusterResources('available') ?? this.availableResources()) as ReturnType<
          NodeRequests[K]
        >;
      case 'clusterResources':
        return (this.cluster?.clusterResources('total') ?? this.pool.total()) as ReturnType<NodeRequests[K]>;
      case 'pullObject':
        return this.pullObject(Buffer.from(a[0] as Uint8Array), a[1] as number | undefined) as ReturnType<
          NodeRequests[K]
        >;
      case 'registerActor':
        return this.registerActor(
          Buffer.from(a[0] as Uint8Array),
          a[1] as { name?: string; namespace: string; getIfExists: boolean; detached: boolean },
          a[2] as string[],
          a[3] as string,
        ) as ReturnType<NodeRequests[K]>;
      case 'actorState':
        return this.actorState(Buffer.from(a[0] as Uint8Array)) as ReturnType<NodeRequests[K]>;
      case 'releaseActor':
        return this.releaseActor(Buffer.from(a[0] as Uint8Array)) as ReturnType<NodeRequests[K]>;
      case 'memorySummary':
        return this.storeSummary() as ReturnType<NodeRequests[K]>;
      default:
        throw new InvalidArgumentError(`unknown node request '${String(kind)}'`);
    }
  }

  /** Resources not in use: leases kept to the end of the turn (scheduleLeaseRelease) count as free. */
  availableResources(): Record<string, number> {
    if (!this.closed) this.releaseIdle();
    return this.pool.available();
  }

  /**
   * Makes an object readable in this node's store: waits for it here, or (in a
   * cluster) pulls it from its owner's node. Resolves 'lost' when no copy can be had.
   */
  pullObject(objectId: Buffer, timeoutMs: number | undefined): Promise<FetchOutcome> {
    const oid = ObjectId.fromBytes(objectId);
    if (this.store.contains(oid)) return Promise.resolve('ok');
    if (this.cluster) return this.cluster.fetch(objectId, timeoutMs);
    return this.store.get([oid], timeoutMs === undefined ? {} : { timeout: timeoutMs }).then(([o]) => {
      o?.release();
      return o ? 'ok' : 'timeout';
    });
  }

  /** What this node holds and has queued, for heartbeats and the hybrid policy. */
  loadSnapshot(): {
    available: Record<string, number>;
    load: Record<string, number>;
    pending: number;
    infeasible: Record<string, number>;
    pendingActors: number;
  } {
    const total = this.pool.total();
    const available = this.pool.available();
    const load: Record<string, number> = {};
    for (const k of Object.keys(total)) load[k] = (total[k] ?? 0) - (available[k] ?? 0);
    let pending = 0;
    const infeasible: Record<string, number> = {};
    for (const q of this.classes.values()) {
      const n = q.tasks.length;
      if (n === 0) continue;
      pending += n;
      for (const [k, v] of Object.entries(q.demand)) load[k] = (load[k] ?? 0) + v * n;
      if (!this.pool.feasible(q.demand)) infeasible[classKey(q.demand) || '{}'] = n;
    }
    let pendingActors = 0;
    for (const a of this.pendingActors) {
      if (a.state === 'dead') continue;
      pending++;
      pendingActors++;
      if (!this.pool.feasible(a.placeDemand)) {
        const k = `actor ${classKey(a.placeDemand)}`;
        infeasible[k] = (infeasible[k] ?? 0) + 1;
      }
    }
    return { available, load, pending, infeasible, pendingActors };
  }

  /** Queued tasks this node cannot run at all: the cluster may place them elsewhere now. */
  takeInfeasible(): Array<{ spec: TaskSpec; def: FunctionDef; owner: number }> {
    const out: Array<{ spec: TaskSpec; def: FunctionDef; owner: number }> = [];
    for (const q of this.classes.values()) {
      if (q.tasks.length === 0 || this.pool.feasible(q.demand)) continue;
      while (q.tasks.length > 0) {
        const t = q.tasks.shift()!;
        if (t.owner === REMOTE_OWNER) {
          q.tasks.push(t); // forwarded here: stays (its origin placed it)
          break;
        }
        this.tasks.delete(t.hex);
        out.push({ spec: t.spec, def: this.defOf(t.spec), owner: t.owner });
      }
      q.warnedInfeasible = false;
    }
    if (out.length > 0 && this.tasks.size === 0) this.updateRef();
    return out;
  }

  storeSummary(): unknown {
    return this.store.stats();
  }

  /** Pids of live worker processes (for tests and `sunray status`). */
  workerPids(): number[] {
    return [...this.workers.values()].filter((w) => !w.exited).map((w) => w.pid);
  }

  stats(): NodeStats {
    let idle = 0;
    let directChannels = 0;
    for (const w of this.workers.values()) {
      if (w.state === 'idle') idle++;
      directChannels += w.callers.size;
    }
    let queued = 0;
    for (const q of this.classes.values()) queued += q.tasks.length;
    let actors = 0;
    for (const a of this.actors.values()) if (a.state !== 'dead') actors++;
    let pendingActors = 0;
    for (const a of this.pendingActors) if (a.state !== 'dead') pendingActors++;
    return {
      workers: this.workers.size,
      idle,
      queued,
      running: this.tasks.size - queued,
      actors,
      pendingActors,
      directChannels,
    };
  }

  // ------------------------------------------------------------ shutdown

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reaper);
    clearTimeout(this.startRetry);
    process.removeListener('exit', this.drainOnExit);
    await this.cluster?.close();
    this.cluster = undefined;
    const err = new SunrayError('sunray was shut down before this task finished');
    for (const t of this.tasks.values()) {
      for (let i = 0; i < t.spec.numReturns; i++) {
        if (t.owner === DRIVER) this.driver?.settleFailed(IdGenerator.returnId(t.spec.taskId, i), err);
      }
    }
    this.tasks.clear();
    await Promise.all([...this.workers.values()].map((w) => w.stop(1000)));
    for (const w of this.workers.values()) w.closeFds();
    this.workers.clear();
    this.reader.stop();
    for (const fd of [this.completionFd, this.completionBellFd]) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.store.close();
  }
}

const NO_GPUS: number[] = [];
/** The payload of a return that has none (never written to). */
const EMPTY = Buffer.alloc(0);
/** Where a Result's object id is made before it is copied into the frame (sendWith fills at once). */
const RESULT_ID_SCRATCH = Buffer.allocUnsafeSlow(OBJECT_ID_SIZE);
/** Every Done is read into this (readDone): onDone is done with it before the next. */
const DONE_SCRATCH: DoneMessage = { worker: 0, taskKey: '', status: DoneStatus.Ok, returns: [] };

function sendExecute(w: WorkerProcess, spec: TaskSpec, owner: number, gpuIds: number[]): void {
  w.sendWith((f) => {
    f.u8(Msg.Execute);
    writeSpec(f, spec);
    f.i32(owner).str(gpuIds.length === 0 ? '' : gpuIds.join(','));
  });
}

/** Msg.OwnerDied: the id (or id prefix, for a whole node) of owners that are gone. */
function ownerDiedFrame(prefixHex: string): Buffer {
  return Buffer.concat([Buffer.from([Msg.OwnerDied]), Buffer.from(prefixHex, 'hex')]);
}
