// Where what concerns an owner goes. A task's owner is the process that submitted it and
// counts the references to its results; the node reaches it through one ResultSink per kind
// of owner: a worker of this node (its inbox), the driver (its CoreWorker, in this process)
// or another node (tasks forwarded here: back over the cluster). Results and failures of
// tasks go to their sink; ownership ops (ownership/ref-ops.ts) go to the owner of their
// object, here or on another node; and when an owner exits, every process of the node hears
// that refs it owned can no longer be read.

import { Reader } from '../base/codec.js';
import { IdGenerator, OBJECT_ID_SIZE, ownerHexOf } from '../base/ids.js';
import { serialize } from '../base/serialization.js';
import { errorRecord } from '../protocol/error-record.js';
import { keepPayload } from '../protocol/interned-payloads.js';
import { REF_OP_SIZE, RefOp } from '../protocol/ref-ops.js';
import type { TaskSpec } from '../protocol/spec.js';
import { DoneStatus, Msg, ReturnKind, readResult, writeResult } from '../protocol/worker-messages.js';
import { ObjectId } from '../store/index.js';
import type { ClusterHooks } from './cluster-hooks.js';
import type { WorkerSlot } from './worker-slot.js';

/** Which kind of process owns a task: a worker of this node, the driver, or one on another node. */
export type OwnerKind = 'worker' | 'driver' | 'remote';

/** Where the results and failures of one owner's tasks go. */
export interface ResultSink {
  readonly kind: OwnerKind;
  /** The owner's worker index on this node; -1 for the driver and for owners on other nodes. */
  readonly workerIndex: number;
  /**
   * Return `index` of the task `taskKey` (ids.ts taskKeyOf) finished: `payload` is a view
   * into the completion ring, read before the call returns.
   */
  returned(taskKey: string, index: number, status: DoneStatus, kind: ReturnKind, payload: Buffer): void;
  /** One result by its object id (also for results that came back from another node). */
  deliver(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void;
  /** Every return of `spec` fails with err. */
  failed(spec: TaskSpec, err: Error): void;
  /** Tells the owner (a process of this node) that the owner(s) `ownerHex` (an id or a node's prefix) are gone. */
  ownerDied(ownerHex: string): void;
}

/** The store as the router uses it: deleting copies of objects nobody can read any more. */
export interface OwnedObjects {
  list(): Array<{ id: ObjectId }>;
  delete(id: ObjectId): void;
}

/** What the node needs of the driver's CoreWorker, the owner of what the driver's program creates. */
export interface DriverCore {
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

/** The payload of a return that has none (never written to). */
export const EMPTY = Buffer.alloc(0);
/** Where a Result's object id is made before it is copied into the frame (sendWith fills at once). */
const RESULT_ID_SCRATCH = Buffer.allocUnsafeSlow(OBJECT_ID_SIZE);

/** A task's error for its owner: the serialized error record of every return. */
function errorPayload(err: Error): Buffer {
  return serialize(errorRecord(err));
}

/** A worker of this node: results go into its inbox; once it exited, nowhere. */
class WorkerOwner implements ResultSink {
  readonly kind = 'worker';

  /** worker: undefined once its process exited (nobody will read or free what would go to it). */
  constructor(
    public worker: WorkerSlot | undefined,
    readonly workerIndex: number,
    private readonly router: OwnerRouter,
  ) {}

  returned(taskKey: string, index: number, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    const w = this.worker;
    if (w === undefined) {
      this.deliver(IdGenerator.returnIdOfKey(taskKey, index), status, kind, payload);
      return;
    }
    // The common case: its Results are written with no id Buffer made (the id goes through a
    // scratch buffer, copied into the frame at once).
    const objectId = IdGenerator.returnIdOfKey(taskKey, index, RESULT_ID_SCRATCH);
    w.sendWith((f) => writeResult(f, objectId, status, kind, payload));
  }

  deliver(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    const w = this.worker;
    if (w === undefined) {
      // Nobody will ever read or free a result left in the store.
      if (kind === ReturnKind.InStore) this.router.deleteQuietly(objectId);
      return;
    }
    w.sendWith((f) => writeResult(f, objectId, status, kind, payload));
  }

  failed(spec: TaskSpec, err: Error): void {
    if (this.worker === undefined) return;
    const payload = errorPayload(err);
    for (let i = 0; i < spec.numReturns; i++) {
      this.deliver(IdGenerator.returnId(spec.taskId, i), DoneStatus.Error, ReturnKind.Inline, payload);
    }
  }

  ownerDied(ownerHex: string): void {
    this.worker?.send(ownerDiedFrame(ownerHex));
  }
}

/** The driver: its CoreWorker, called directly. */
class DriverOwner implements ResultSink {
  readonly kind = 'driver';
  readonly workerIndex = -1;

  constructor(private readonly router: OwnerRouter) {}

  returned(taskKey: string, index: number, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    this.deliver(IdGenerator.returnIdOfKey(taskKey, index), status, kind, payload);
  }

  deliver(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    // The payload may be a view into the ring's chunk (readDone): the owner keeps a copy.
    this.router.driver?.onTaskReturn(objectId, status, kind, keepPayload(payload));
  }

  failed(spec: TaskSpec, err: Error): void {
    for (let i = 0; i < spec.numReturns; i++) {
      this.router.driver?.settleFailed(IdGenerator.returnId(spec.taskId, i), err);
    }
  }

  ownerDied(ownerHex: string): void {
    this.router.driver?.onOwnerDied(ownerHex);
  }
}

/** Owners on other nodes, of tasks forwarded here: results go back through the cluster. */
class RemoteOwner implements ResultSink {
  readonly kind = 'remote';
  readonly workerIndex = -1;

  constructor(private readonly router: OwnerRouter) {}

  returned(taskKey: string, index: number, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    this.deliver(IdGenerator.returnIdOfKey(taskKey, index), status, kind, payload);
  }

  deliver(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    this.router.cluster?.sendResult(objectId, status, kind, payload);
  }

  failed(spec: TaskSpec, err: Error): void {
    const payload = errorPayload(err);
    for (let i = 0; i < spec.numReturns; i++) {
      this.deliver(IdGenerator.returnId(spec.taskId, i), DoneStatus.Error, ReturnKind.Inline, payload);
    }
  }

  ownerDied(): void {
    // Its node learns of dead owners from the cluster (ClusterHooks.ownerExited).
  }
}

/** Routes results, failures and ownership ops to the owners they concern, here or on another node. */
export class OwnerRouter {
  /** The driver's CoreWorker, when this node is embedded in a driver. */
  driver: DriverCore | undefined;
  /** Set when this node is part of a cluster. */
  cluster: ClusterHooks | undefined;
  /** The owner of tasks the driver submits. */
  readonly driverOwner: ResultSink = new DriverOwner(this);
  /** The owner of tasks other nodes forwarded here. */
  readonly remoteOwner: ResultSink = new RemoteOwner(this);
  /** Live workers by index. */
  private readonly workers = new Map<number, WorkerOwner>();
  /** Live workers by their ownership id (object ids embed it): where ownership ops go. */
  private readonly byOwnerId = new Map<string, WorkerOwner>();
  /** Owner ids of workers that exited: refs they owned can no longer be read. */
  private readonly deadOwners = new Set<string>();
  /** The owner of work whose worker exited before it was seen (results are dropped). */
  private readonly nobody = new WorkerOwner(undefined, -1, this);
  private closed = false;

  /** nodePrefix: the hex start of every owner id of this node's processes. */
  constructor(
    private readonly store: OwnedObjects,
    private readonly nodePrefix: string,
  ) {}

  /** A worker was started: it may own tasks and objects from now on. */
  attach(w: WorkerSlot): ResultSink {
    const sink = new WorkerOwner(w, w.index, this);
    this.workers.set(w.index, sink);
    this.byOwnerId.set(w.ownerId, sink);
    return sink;
  }

  /** The sink of worker `index` (frames name their sender by index). */
  workerOwner(index: number): ResultSink {
    return this.workers.get(index) ?? this.nobody;
  }

  /**
   * A worker exited: what would go to it is dropped from now on (returns its sink, which
   * the tasks and actors it owned still name). Nobody can count the references to its
   * objects any more, so their copies are deleted and every process is told, so that gets
   * on those refs fail with OwnerDiedError instead of waiting forever.
   */
  workerExited(w: WorkerSlot): ResultSink {
    const sink = this.workers.get(w.index) ?? this.nobody;
    sink.worker = undefined;
    this.workers.delete(w.index);
    this.byOwnerId.delete(w.ownerId);
    if (this.closed) return sink;
    this.deadOwners.add(w.ownerId);
    this.ownersDied(w.ownerId);
    // Processes on other nodes may borrow its objects, or lend it theirs.
    this.cluster?.ownerExited(w.ownerId);
    return sink;
  }

  /**
   * Owners whose ids start with `prefix` (hex: one owner's whole id, or a dead node's
   * prefix, which every owner of that node shares) are gone: copies of their objects
   * here are deleted, and every process of this node is told.
   */
  ownersDied(prefix: string): void {
    if (this.closed) return;
    const frame = ownerDiedFrame(prefix);
    for (const other of this.workers.values()) other.worker?.send(frame);
    this.driver?.onOwnerDied(prefix);
    try {
      for (const info of this.store.list()) {
        if (ownerHexOf(info.id.bytes).startsWith(prefix)) this.deleteQuietly(info.id.bytes);
      }
    } catch {
      // store closed
    }
  }

  /** Tells one process of this node that an owner is gone. */
  tellOwnerDied(to: ResultSink, ownerHex: string): void {
    to.ownerDied(ownerHex);
  }

  /**
   * Forwards ownership ops to the owners of their targets (ownership/ref-ops.ts): on this
   * node through their inboxes, on other nodes through the cluster (which keeps them in
   * order with what this node sends after them: cluster/cluster-node.ts sendRefOps).
   */
  routeRefOps(sender: ResultSink, ops: Buffer): void {
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
      if (op[0] === RefOp.AddBorrower && this.deadOwners.has(owner)) sender.ownerDied(owner);
    }
    if (remote) {
      const only = remote.length === 1 ? remote[0] : undefined; // one op: no copy
      this.cluster?.sendRefOps(only ?? Buffer.concat(remote), sender);
    }
  }

  /** Hands one op to its owner if that is a live process of this node. */
  private routeLocalRefOp(op: Buffer, owner: string): boolean {
    if (this.driver && owner === this.driver.ownerHex) {
      this.driver.onRefOps(op);
      return true;
    }
    const sink = this.byOwnerId.get(owner);
    if (!sink) return false;
    sink.worker?.sendWith((f) => f.u8(Msg.RefOps).raw(op));
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

  /**
   * A direct call's result the actor sent this way to keep it behind its ownership ops
   * (executor.ts replyDirect): passed on as it is; dropped, with its stored value, if the
   * caller is gone.
   */
  relayResult(caller: number, frame: Buffer): void {
    const w = this.workers.get(caller)?.worker;
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

  /** Deletes this node's copy of an object, if it has one. */
  deleteQuietly(id: Uint8Array): void {
    try {
      this.store.delete(ObjectId.fromBytes(id));
    } catch {
      // already gone
    }
  }

  /** The node shuts down: owners are no longer told of anything. */
  close(): void {
    this.closed = true;
  }
}

/** Msg.OwnerDied: the id (or id prefix, for a whole node) of owners that are gone. */
function ownerDiedFrame(prefixHex: string): Buffer {
  return Buffer.concat([Buffer.from([Msg.OwnerDied]), Buffer.from(prefixHex, 'hex')]);
}
