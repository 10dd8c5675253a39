// The per-process core: every driver and worker has one. It owns the objects
// its process created (by put or by submitting tasks), resolves their values,
// and reads borrowed ones from the node's store. Ownership follows Ray: the
// owner holds the state of its objects; nothing central does.
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';
import { native } from '../base/addon.js';
import {
  GetTimeoutError,
  InvalidArgumentError,
  ObjectLostError,
  type RemoteErrorInfo,
  SunrayError,
} from '../base/errors.js';
import {
  IdGenerator,
  isPutHex,
  isPutId,
  OBJECT_ID_SIZE,
  ownerHexOf,
  TASK_ID_SIZE,
  taskIdOf,
  taskKeyOf,
} from '../base/ids.js';
import { newUntrackedRef, ObjectRef, setRefTracker } from '../base/object-ref.js';
import { deserialize, type Encoded, encode, encodeToBuffer, writeEncoded } from '../base/serialization.js';
import {
  ERROR_META,
  encodeErrorRecord,
  errorRecord,
  failureToError,
  type ReceivedErrorRecord,
} from '../protocol/error-record.js';
import { borrowerHex, decodeRefOps, encodeRefOp, RefOp } from '../protocol/ref-ops.js';
import {
  ArgKind,
  CallSpec,
  decodeArgs,
  encodeArgs,
  type FunctionDef,
  type SpecBase,
  TaskKind,
  type TaskSpec,
  type WireArg,
} from '../protocol/spec.js';
import { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import { ObjectId, type ObjectStore } from '../store/index.js';
import type { Backend } from './backend.js';
import { unreadableRef } from './context.js';
import { Borrows, ownerDied } from './ownership/borrows.js';
import { DEFAULT_LINEAGE_MEMORY, type Lineage, LineageTable, lineageBytes } from './ownership/lineage.js';
import { type MemoryRow, summarize } from './ownership/summary.js';

/** Call sites cost a stack trace per object, so they are recorded only on request (init option). */
let recordCallSites = false;
export function setRecordCallSites(on: boolean): void {
  recordCallSites = on;
}

const RETURN_ID_SCRATCH = Buffer.allocUnsafeSlow(OBJECT_ID_SIZE);
/** Shared by tasks without arguments (never written to). */
const NO_WIRE: Array<WireArg | ObjectRef<unknown>> = [];
const NO_WIRE_ARGS: WireArg[] = [];

/** Arguments and returns up to this size travel inside messages; larger ones go through the store. */
export const INLINE_LIMIT = 100 * 1024;

enum State {
  Pending = 0,
  Ready = 1,
  Failed = 2,
}

/** What an owned object rarely needs: kept apart so that the common entry stays small. */
class OwnedExtra {
  error: Error | undefined = undefined;
  /** Processes (owner ids) that hold handles to it (ownership/ref-ops.ts). */
  borrowers: Set<string> | undefined = undefined;
  /** Objects (ids, hex) whose values contain it: it lives while they do. */
  holders: Set<string> | undefined = undefined;
  /** Refs (hex) its own value contains: their holder entries go when it is freed. */
  contained: string[] | undefined = undefined;
  lineage: Lineage | undefined = undefined;
  rebuilding: Promise<void> | undefined = undefined;
  callSite = '';
}

/**
 * The owner's record of one object. A million queued tasks mean a million of
 * these: the fields every entry uses live here, the rest in an OwnedExtra made
 * on first use (the accessors below read through it).
 */
class Owned {
  state: State = State.Pending;
  /** Inline serialized value. */
  payload: Buffer | undefined = undefined;
  inStore = false;
  /** Promoted to the store: other processes may read it. */
  escaped = false;
  waiters: Array<() => void> | undefined = undefined;
  localRefs = 0;
  /** Bytes of its value; for puts, also what was reported to V8 as external memory. */
  size = 0;
  /** While its task runs: what would rebuild it (becomes `lineage` if the result lands in the store). */
  spec: TaskSpec | undefined = undefined;
  private x: OwnedExtra | undefined = undefined;

  private extra(): OwnedExtra {
    if (this.x === undefined) this.x = new OwnedExtra();
    return this.x;
  }
  get error(): Error | undefined {
    return this.x?.error;
  }
  set error(v: Error | undefined) {
    if (v !== undefined || this.x) this.extra().error = v;
  }
  get borrowers(): Set<string> | undefined {
    return this.x?.borrowers;
  }
  set borrowers(v: Set<string> | undefined) {
    if (v !== undefined || this.x) this.extra().borrowers = v;
  }
  get holders(): Set<string> | undefined {
    return this.x?.holders;
  }
  set holders(v: Set<string> | undefined) {
    if (v !== undefined || this.x) this.extra().holders = v;
  }
  get contained(): string[] | undefined {
    return this.x?.contained;
  }
  set contained(v: string[] | undefined) {
    if (v !== undefined || this.x) this.extra().contained = v;
  }
  get lineage(): Lineage | undefined {
    return this.x?.lineage;
  }
  set lineage(v: Lineage | undefined) {
    if (v !== undefined || this.x) this.extra().lineage = v;
  }
  get rebuilding(): Promise<void> | undefined {
    return this.x?.rebuilding;
  }
  set rebuilding(v: Promise<void> | undefined) {
    if (v !== undefined || this.x) this.extra().rebuilding = v;
  }
  get callSite(): string {
    return this.x?.callSite ?? '';
  }
  set callSite(v: string) {
    if (v !== '' || this.x) this.extra().callSite = v;
  }
}

/** Failure statuses a task can end with, as the owner records them. */
export type TaskFailure =
  | { kind: 'error'; info: RemoteErrorInfo; taskName: string }
  | { kind: 'crashed'; message: string }
  | { kind: 'cancelled'; message: string }
  | { kind: 'actorDied'; message: string; cause?: RemoteErrorInfo };

export interface TaskContext {
  taskId: Buffer | undefined;
  taskName: string;
  gpuIds: number[];
  actorId: Buffer | undefined;
}

export class CoreWorker {
  readonly ids: IdGenerator;
  readonly ownerHex: string;
  private readonly borrows: Borrows;
  private readonly lineage: LineageTable;
  readonly owned = new Map<string, Owned>();
  readonly taskContext = new AsyncLocalStorage<TaskContext>();
  /** Per actor, calls still resolving their arguments: later calls queue behind them to keep order. */
  private readonly actorChains = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    readonly backend: Backend,
    readonly store: ObjectStore,
    ownerId?: Buffer,
    lineageMemory: number = DEFAULT_LINEAGE_MEMORY,
  ) {
    this.ids = new IdGenerator(ownerId);
    this.ownerHex = this.ids.ownerHex;
    this.lineage = new LineageTable(lineageMemory, (l) => this.releaseLineage(l));
    this.borrows = new Borrows(this.ids.ownerId, (op) => this.backend.refOp(op));
    setRefTracker({
      onCreate: (ref) => {
        const e = this.owned.get(ref.hex);
        if (e) e.localRefs++;
        else if (!this.closed && !this.owns(ref)) this.borrows.onHandle(ref, ref.hex);
      },
      onRelease: (hex) => {
        if (this.owned.has(hex)) this.dropLocalRef(hex);
        else if (!this.closed) this.borrows.onRelease(hex);
      },
    });
  }

  // ---------------------------------------------------------------- objects

  owns(ref: Uint8Array): boolean {
    return ownerHexOf(ref) === this.ids.ownerHex;
  }

  private newEntry(): Owned {
    const e = new Owned();
    if (recordCallSites) e.callSite = callSite();
    return e;
  }

  put<T>(value: T): ObjectRef<T> {
    this.assertOpen();
    if (value instanceof ObjectRef) {
      throw new InvalidArgumentError(
        'put() of an ObjectRef: pass the ref itself where it is needed, or put a value that contains it ({ ref })',
      );
    }
    const enc = encode(value);
    const id = this.ids.nextPutId();
    const entry = this.newEntry();
    this.writeToStore(id, enc);
    entry.state = State.Ready;
    entry.inStore = true;
    entry.size = enc.size;
    // The ref is a few bytes of JS heap standing for enc.size bytes of store: say so to V8,
    // so that dropped refs are collected (and their objects freed) as puts pile up.
    native.adjustExternalMemory(enc.size);
    const hex = id.toString('hex');
    this.owned.set(hex, entry);
    this.markEscaped(enc.refs);
    this.addContained(id, enc.refs);
    return new ObjectRef<T>(id);
  }

  /**
   * Object `outer` (owned by anyone) has a value that contains refs: each ref
   * gets `outer` as a holder at its owner, and outer's owner learns what it
   * contains so it can drop those holders when it frees `outer`. Sent before
   * anything that lets another process read `outer` (ref-ops.ts).
   */
  addContained(outer: Buffer, refs: readonly ObjectRef<unknown>[]): void {
    if (refs.length === 0) return;
    const outerHex = outer.toString('hex');
    const mine = this.owned.get(outerHex);
    for (const ref of refs) {
      const e = this.owned.get(ref.hex);
      if (e) this.changeHolds(e, () => (e.holders ??= new Set()).add(outerHex));
      else this.backend.refOp(encodeRefOp(RefOp.AddHolder, ref, outer));
      if (mine) (mine.contained ??= []).push(ref.hex);
      else this.backend.refOp(encodeRefOp(RefOp.Contains, outer, ref));
    }
  }

  /** Objects of ours that other processes or objects hold: while any, this process must live. */
  private heldByOthers = 0;
  /** Told when heldByOthers goes between zero and not (a worker tells its node manager: see reapIdle). */
  onHeldByOthers: ((held: boolean) => void) | undefined;

  /** Runs change() on an entry's borrowers/holders, keeping heldByOthers current. */
  private changeHolds(e: Owned, change: () => void): void {
    const before = (e.borrowers?.size ?? 0) + (e.holders?.size ?? 0) > 0;
    change();
    const after = (e.borrowers?.size ?? 0) + (e.holders?.size ?? 0) > 0;
    if (before === after) return;
    this.heldByOthers += after ? 1 : -1;
    if (this.heldByOthers === (after ? 1 : 0)) this.onHeldByOthers?.(after);
  }

  /** Ownership ops for objects this process owns (routed here by the node manager). */
  onRefOps(ops: Buffer): void {
    for (const { op, target, other } of decodeRefOps(ops)) {
      const hex = target.toString('hex');
      const e = this.owned.get(hex);
      if (!e) continue; // freed already: an op that raced with nothing left to keep
      switch (op) {
        case RefOp.AddBorrower:
          this.changeHolds(e, () => (e.borrowers ??= new Set()).add(borrowerHex(other)));
          break;
        case RefOp.RemoveBorrower:
          this.changeHolds(e, () => e.borrowers?.delete(borrowerHex(other)));
          this.maybeFree(hex, e);
          break;
        case RefOp.AddHolder:
          this.changeHolds(e, () => (e.holders ??= new Set()).add(other.toString('hex')));
          break;
        case RefOp.RemoveHolder:
          this.changeHolds(e, () => e.holders?.delete(other.toString('hex')));
          this.maybeFree(hex, e);
          break;
        case RefOp.Contains:
          (e.contained ??= []).push(other.toString('hex'));
          break;
      }
    }
  }

  /** A process exited (or a whole node: a prefix of owner ids): refs it owned are dead here; it no longer borrows ours. */
  onOwnerDied(prefix: string): void {
    this.borrows.ownerDied(prefix);
    for (const [hex, e] of this.owned) {
      if (!e.borrowers) continue;
      const gone = [...e.borrowers].filter((b) => b.startsWith(prefix));
      if (gone.length === 0) continue;
      this.changeHolds(e, () => {
        for (const b of gone) e.borrowers!.delete(b);
      });
      this.maybeFree(hex, e);
    }
  }

  private writeToStore(id: Buffer, enc: Encoded): void {
    const oid = ObjectId.fromBytes(id);
    const view = this.store.create(oid, enc.size);
    try {
      writeEncoded(enc, view);
    } catch (err) {
      this.store.abort(oid);
      throw err;
    }
    this.store.seal(oid);
  }

  /** Refs serialized into a value another process will read: their values must be readable from the store. */
  markEscaped(refs: readonly ObjectRef<unknown>[]): void {
    for (const ref of refs) {
      const e = this.owned.get(ref.hex);
      if (!e) continue;
      if (e.escaped) {
        // Lost from the store since, but still in memory (a small task result): put it back.
        if (e.payload && e.inStore && this.isLost(ref, e)) {
          e.inStore = false;
          this.promote(ref.hex, e);
        }
        continue;
      }
      e.escaped = true;
      if (e.state === State.Ready && !e.inStore && e.payload) this.promote(ref.hex, e);
      else if (e.state === State.Failed) this.promoteError(ref.hex, e);
    }
  }

  private promote(hex: string, e: Owned): void {
    const id = ObjectId.fromHex(hex);
    if (!this.store.contains(id)) {
      const view = this.store.create(id, e.payload!.length);
      view.set(e.payload!);
      this.store.seal(id);
    }
    e.inStore = true;
    // A task's result keeps its bytes here too: should the store copy be lost, it goes back
    // from memory (small results keep no lineage). A put's payload never lived here.
    if (isPutHex(hex)) e.payload = undefined;
  }

  private promoteError(hex: string, e: Owned): void {
    // Borrowers read errors from the store too: metadata marks the payload as an error.
    const id = ObjectId.fromHex(hex);
    if (this.store.contains(id)) return;
    const payload = encodeErrorRecord(errorRecord(e.error!));
    const view = this.store.create(id, payload.length, { metadata: ERROR_META });
    view.set(payload);
    this.store.seal(id);
  }

  private dropLocalRef(hex: string): void {
    const e = this.owned.get(hex);
    if (!e) return;
    e.localRefs--;
    this.maybeFree(hex, e);
  }

  /** Frees an object once nothing counts it: handles here, borrowers, outer objects, its pending task. */
  private maybeFree(hex: string, e: Owned): void {
    if (e.localRefs > 0 || e.state === State.Pending || e.borrowers?.size || e.holders?.size) return;
    this.free(hex, e);
  }

  private free(hex: string, e: Owned): void {
    this.owned.delete(hex);
    if (e.lineage) this.lineage.unuse(e.lineage);
    if (e.size > 0 && isPutHex(hex)) native.adjustExternalMemory(-e.size);
    if (e.contained) {
      // Its value held these refs: that hold ends with it.
      const outer = Buffer.from(hex, 'hex');
      for (const inner of e.contained) {
        const ie = this.owned.get(inner);
        if (ie) {
          this.changeHolds(ie, () => ie.holders?.delete(hex));
          this.maybeFree(inner, ie);
        } else if (!this.closed) {
          this.backend.refOp(encodeRefOp(RefOp.RemoveHolder, Buffer.from(inner, 'hex'), outer));
        }
      }
    }
    if (e.inStore && !this.closed) {
      try {
        this.store.delete(ObjectId.fromHex(hex));
      } catch {
        // Already gone (evicted or deleted): nothing to free.
      }
    }
  }

  // ---------------------------------------------------------------- tasks

  /** Submits a task or actor call; returns its result refs at once, like Ray's `.remote()`. */
  submit(def: FunctionDef, base: SpecBase, args: unknown[]): ObjectRef<unknown>[] {
    this.assertOpen();
    // The task id as a latin1 string: what its spec keeps while it is queued (protocol.ts CallSpec).
    const taskKey = this.ids.nextTaskKey();
    const refs: ObjectRef<unknown>[] = new Array(base.numReturns);
    for (let i = 0; i < base.numReturns; i++) {
      // The ref copies the id: one scratch buffer serves every return.
      // Untracked: its entry is made here, counting it (the tracker would look it up in vain).
      const ref = newUntrackedRef<unknown>(IdGenerator.returnIdOfKey(taskKey, i, RETURN_ID_SCRATCH));
      const e = this.newEntry();
      this.owned.set(ref.hex, e); // the key is the ref's own hex string, not a second copy
      e.localRefs++;
      refs[i] = ref;
    }
    // Encode what is known now; top-level refs are resolved before sending. Most tasks have
    // no ref arguments and no temporaries: those arrays are only made when needed.
    const wire: Array<WireArg | ObjectRef<unknown>> = args.length > 0 ? [] : NO_WIRE;
    let temps: Buffer[] | undefined;
    let argRefs: ObjectRef<unknown>[] | undefined;
    let pendingDeps = false;
    for (const a of args) {
      if (a instanceof ObjectRef) {
        // One that can never be read (released, of a session shut down) fails the task now.
        const unreadable = unreadableRef(a, `an argument of ${base.name}`);
        if (unreadable) {
          this.failSubmit(taskKey, base.numReturns, temps, unreadable);
          return refs;
        }
        wire.push(a);
        (argRefs ??= []).push(a);
        if (!this.isReadyLocally(a)) pendingDeps = true;
        continue;
      }
      const enc = encode(a);
      this.markEscaped(enc.refs);
      // Refs nested in arguments are held until the task ends: by then the worker that runs
      // it has registered as their borrower if it kept them (ownership/ref-ops.ts).
      for (const r of enc.refs) (argRefs ??= []).push(r);
      if (enc.size > INLINE_LIMIT) {
        const id = this.ids.nextPutId();
        this.writeToStore(id, enc);
        (temps ??= []).push(id);
        wire.push({ kind: ArgKind.StoreRef, id });
      } else {
        wire.push({ kind: ArgKind.Value, payload: encodeToBuffer(enc) });
      }
    }

    // Calls to one actor keep their order; its creation goes first, unchained.
    // (The key is only needed when some call waits: most calls skip making it.)
    const actorKey =
      base.kind === TaskKind.ActorCall && (pendingDeps || this.actorChains.size > 0)
        ? base.actorId.toString('hex')
        : undefined;
    const chained = actorKey ? this.actorChains.get(actorKey) : undefined;
    if (!pendingDeps && !chained) {
      try {
        const resolved = wire === NO_WIRE ? NO_WIRE_ARGS : wire.map((w) => this.resolvedNow(w));
        this.sendTask(def, base, taskKey, refs, resolved, temps, argRefs);
      } catch (err) {
        this.failSubmit(taskKey, base.numReturns, temps, err as Error);
      }
      return refs;
    }
    const run = async () => {
      if (chained) await chained;
      const resolved: WireArg[] = [];
      for (const w of wire) {
        if (!(w instanceof ObjectRef)) {
          resolved.push(w);
          continue;
        }
        await this.whenReady(w);
        resolved.push(this.resolvedArg(w));
      }
      this.sendTask(def, base, taskKey, refs, resolved, temps, argRefs);
    };
    const p = run().catch((err: Error) => this.failSubmit(taskKey, base.numReturns, temps, err));
    if (actorKey) {
      const done = p.then(() => {
        if (this.actorChains.get(actorKey) === done) this.actorChains.delete(actorKey);
      });
      this.actorChains.set(actorKey, done);
    }
    return refs;
  }

  private resolvedNow(w: WireArg | ObjectRef<unknown>): WireArg {
    return w instanceof ObjectRef ? this.resolvedArg(w) : w;
  }

  /** Sends a task whose arguments are resolved (a method, not a closure per task: this is hot). */
  private sendTask(
    def: FunctionDef,
    base: SpecBase,
    taskKey: string,
    refs: ObjectRef<unknown>[],
    resolved: WireArg[],
    temps: Buffer[] | undefined,
    argRefs: ObjectRef<unknown>[] | undefined,
  ): void {
    // Its own id and arguments, the rest read from base (shared by every call of the function).
    const spec = new CallSpec(base, taskKey, encodeArgs(resolved));
    // Until the task ends, its store arguments must outlive the caller's handles: keep the
    // temporaries, and the refs themselves (holding them keeps their count above zero).
    if (temps || argRefs) {
      const hex = Buffer.from(taskKey, 'latin1').toString('hex');
      this.pendingArgs.set(hex, { temps: temps ?? [], argRefs: argRefs ?? [] });
    }
    if (base.kind === TaskKind.Task) {
      // Lineage, in case the result lands in the store and is lost later (ownership/lineage.ts).
      for (const r of refs) {
        const e = this.owned.get(r.hex);
        if (e) e.spec = spec;
      }
      if (this.taskDefs.get(def.fnId) !== def) this.taskDefs.set(def.fnId, def);
    }
    this.backend.submit(spec, def);
  }

  private failSubmit(taskKey: string, numReturns: number, temps: Buffer[] | undefined, err: Error): void {
    for (let i = 0; i < numReturns; i++) this.settleFailed(IdGenerator.returnIdOfKey(taskKey, i), err);
    if (temps) for (const t of temps) this.deleteQuietly(t);
  }

  /** Functions of submitted tasks, by fnId: what lineage needs to run one again. */
  private readonly taskDefs = new Map<string, FunctionDef>();

  /** Per task still running: store temporaries made for its arguments, and its top-level ref arguments. */
  private readonly pendingArgs = new Map<string, { temps: Buffer[]; argRefs: ObjectRef<unknown>[] }>();

  /** Makes later calls to an actor wait for p (e.g. its registration, from a worker). */
  chainActor(actorHex: string, p: Promise<void>): void {
    const prev = this.actorChains.get(actorHex);
    const next = (prev ? prev.then(() => p) : p).catch(() => {});
    this.actorChains.set(actorHex, next);
    void next.then(() => {
      if (this.actorChains.get(actorHex) === next) this.actorChains.delete(actorHex);
    });
  }

  private isReadyLocally(ref: ObjectRef<unknown>): boolean {
    const e = this.owned.get(ref.hex);
    if (e) return e.state !== State.Pending && !(e.inStore && this.isLost(ref, e));
    return this.store.contains(ObjectId.fromBytes(ref));
  }

  private whenReady(ref: ObjectRef<unknown>): Promise<void> {
    const e = this.owned.get(ref.hex);
    if (e) return this.isLost(ref, e) ? this.recover(ref.hex, e) : this.waitOwned(e, undefined);
    if (this.owns(ref)) return Promise.reject(this.lostError(ref));
    return this.borrows.waitFor(ref, 'a task argument', (signal) =>
      this.fetchLocal(ref, undefined)
        .then(() => this.store.get([ObjectId.fromBytes(ref)], { signal }))
        .then((bufs: Array<{ release(): void } | null>) => bufs[0]?.release()),
    );
  }

  /**
   * Waits until a borrowed object is readable in this node's store: its owner may be
   * on another node, whose node manager then pulls it here. Local objects skip the ask.
   */
  private async fetchLocal(id: Uint8Array, timeoutMs: number | undefined): Promise<void> {
    const buf = Buffer.from(id.buffer, id.byteOffset, id.byteLength);
    if (this.store.contains(ObjectId.fromBytes(buf))) return;
    const outcome = await this.backend.request('pullObject', Buffer.from(buf), timeoutMs);
    if (outcome === 'lost') throw this.lostError(buf);
    if (outcome === 'ownerDied') {
      // Its owner's node is gone: every ref of that owner is dead here from now on.
      this.borrows.ownerDied(ownerHexOf(buf));
      throw ownerDied(buf, 'get() of');
    }
    if (outcome === 'timeout') {
      throw new GetTimeoutError(
        `get() timed out after ${timeoutMs} ms waiting for object ${buf.toString('hex')}`,
      );
    }
  }

  /** A top-level ref argument, once ready: inline its value, or point the worker at the store. */
  private resolvedArg(ref: ObjectRef<unknown>): WireArg {
    const e = this.owned.get(ref.hex);
    if (e) {
      if (e.state === State.Failed) throw e.error!;
      if (!e.inStore && e.payload) return { kind: ArgKind.Value, payload: e.payload };
    }
    return { kind: ArgKind.StoreRef, id: Buffer.from(ref) };
  }

  /** Called when a task this process submitted has finished (from the node manager). */
  onTaskReturn(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    const hex = objectId.toString('hex');
    const e = this.owned.get(hex);
    if (e?.spec && e.state === State.Pending && status === DoneStatus.Ok && kind === ReturnKind.InStore) {
      this.keepLineage(hex, e);
    } else {
      this.releaseTemps(objectId);
    }
    if (e) e.spec = undefined;
    if (!e || e.state !== State.Pending) {
      // Nobody holds the ref any more (or it was cancelled): drop the value.
      if (kind === ReturnKind.InStore && !e) this.deleteQuietly(objectId);
      return;
    }
    if (status !== DoneStatus.Ok) {
      const info = deserialize(payload) as ReceivedErrorRecord;
      this.settleFailed(objectId, failureToError(info));
      return;
    }
    e.state = State.Ready;
    e.size = payload.length;
    if (kind === ReturnKind.InStore) e.inStore = true;
    else e.payload = payload;
    if (e.escaped && !e.inStore) this.promote(hex, e);
    this.wake(e);
    this.maybeFree(hex, e);
  }

  /** A result in the store: keep how to make it again (its task's arguments stay held). */
  private keepLineage(hex: string, e: Owned): void {
    const taskHex = hex.slice(0, TASK_ID_SIZE * 2);
    let l = this.recentLineage?.taskHex === taskHex ? this.recentLineage.lineage : undefined;
    if (!l) {
      const held = this.pendingArgs.get(taskHex);
      this.pendingArgs.delete(taskHex);
      const temps = held?.temps ?? [];
      const argRefs = held?.argRefs ?? [];
      l = {
        spec: e.spec!,
        def: this.taskDefs.get(e.spec!.fnId)!,
        temps,
        argRefs,
        rebuilds: 0,
        users: 0,
        bytes: lineageBytes(e.spec!, temps, argRefs),
        evicted: false,
      };
      this.lineage.add(l);
      this.recentLineage = { taskHex, lineage: l };
    }
    l.users++;
    e.lineage = l;
  }

  private recentLineage: { taskHex: string; lineage: Lineage } | undefined;

  /** What a dropped lineage kept: its argument temporaries go from the store, its refs are let go. */
  private releaseLineage(l: Lineage): void {
    for (const t of l.temps) this.deleteQuietly(t);
    l.temps = [];
    l.argRefs = [];
    if (this.recentLineage?.lineage === l) this.recentLineage = undefined;
  }

  /** An owned result that is Ready in the store but has no copy left there. */
  private isLost(ref: Uint8Array, e: Owned): boolean {
    return e.state === State.Ready && e.inStore && !this.store.contains(ObjectId.fromBytes(ref));
  }

  /**
   * Makes a lost result again: its lost store arguments first (recursively),
   * then its task, under the same id. For node-loss handling too: call it for a
   * ref this process owns whose copies went with a node.
   */
  recover(hex: string, e: Owned): Promise<void> {
    if (e.rebuilding) return e.rebuilding;
    const id = Buffer.from(hex, 'hex');
    if (!this.isLost(id, e)) return Promise.resolve();
    if (e.payload) {
      // A small result promoted to the store: its bytes are still here.
      try {
        e.inStore = false;
        this.promote(hex, e);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const l = e.lineage;
    if (!l || l.evicted) {
      return Promise.reject(
        l?.evicted
          ? new ObjectLostError(
              `ObjectRef(${hex}) is lost and cannot be rebuilt: the lineage to rebuild it was dropped to stay ` +
                'under lineageMemory. Raise init({ lineageMemory }) or keep fewer large results alive at once.',
            )
          : this.lostError(id),
      );
    }
    if (l.rebuilds >= l.spec.maxRetries) {
      return Promise.reject(
        new ObjectLostError(
          `ObjectRef(${hex}) is lost again and was already rebuilt ${l.rebuilds} time(s), the task's maxRetries; ` +
            'raise maxRetries in remote()/options() to allow more rebuilds',
        ),
      );
    }
    l.rebuilds++;
    const run = async () => {
      for (const a of decodeArgs(l.spec.args)) {
        if (a.kind !== ArgKind.StoreRef) continue;
        const ah = a.id.toString('hex');
        const ae = this.owned.get(ah);
        if (ae && this.isLost(a.id, ae)) await this.recover(ah, ae);
      }
      for (const t of l.temps) {
        if (!this.store.contains(ObjectId.fromBytes(t))) {
          throw new ObjectLostError(
            `ObjectRef(${hex}) is lost and cannot be rebuilt: a large argument of its task was lost too`,
          );
        }
      }
      for (let i = 0; i < l.spec.numReturns; i++) {
        const rid = IdGenerator.returnId(l.spec.taskId, i);
        const re = this.owned.get(rid.toString('hex'));
        if (re && this.isLost(rid, re)) re.state = State.Pending;
      }
      this.backend.submit(l.spec, l.def);
      await this.waitOwned(e, undefined);
    };
    const p = run();
    e.rebuilding = p;
    const clear = () => {
      e.rebuilding = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** Fails every pending return of a task (the node manager gave up on it). */
  settleFailed(objectId: Buffer, err: Error): void {
    const hex = objectId.toString('hex');
    const e = this.owned.get(hex);
    if (e) e.spec = undefined;
    this.releaseTemps(objectId);
    if (!e || e.state !== State.Pending) return;
    e.state = State.Failed;
    e.error = err;
    if (e.escaped) this.promoteError(hex, e);
    this.wake(e);
  }

  private releaseTemps(objectId: Buffer): void {
    if (this.pendingArgs.size === 0) return;
    const key = objectId.subarray(0, TASK_ID_SIZE).toString('hex');
    const held = this.pendingArgs.get(key);
    if (!held) return;
    this.pendingArgs.delete(key);
    for (const t of held.temps) this.deleteQuietly(t);
  }

  private deleteQuietly(id: Buffer): void {
    try {
      this.store.delete(ObjectId.fromBytes(id));
    } catch {
      // already gone
    }
  }

  private wake(e: Owned): void {
    const ws = e.waiters;
    e.waiters = undefined;
    if (ws) for (const w of ws) w();
  }

  /** Cancels a task this process submitted, if it has not finished. */
  cancelPending(ref: ObjectRef<unknown>, force: boolean): void {
    const e = this.owned.get(ref.hex);
    if (!e) {
      if (!this.owns(ref)) {
        throw new InvalidArgumentError(
          'cancel() only works on refs of tasks this process submitted (their owner)',
        );
      }
      return;
    }
    if (isPutId(ref) || e.state !== State.Pending) return;
    if (this.backend.cancelDirect?.(taskKeyOf(taskIdOf(ref)))) return;
    this.backend.request('cancelTask', Buffer.from(taskIdOf(ref)), force).catch(() => {});
  }

  // ---------------------------------------------------------------- get / wait

  /**
   * get() of one owned ref with no timeout, the common case of a sync loop:
   * one promise, settled by the owner's waiter itself, rather than a chain of
   * async functions. Everything else takes the general path.
   */
  getOne(ref: ObjectRef<unknown>, timeoutMs: number | undefined): Promise<unknown> {
    const e = ref instanceof ObjectRef && !this.closed ? this.owned.get(ref.hex) : undefined;
    if (!e || timeoutMs !== undefined) return this.get([ref], timeoutMs).then((v) => v[0]);
    if (e.state !== State.Pending) {
      if (e.inStore && this.isLost(ref, e))
        return this.recover(ref.hex, e).then(() => this.readOwned(ref, e));
      try {
        return Promise.resolve(this.readOwned(ref, e));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    this.backend.blocked();
    return new Promise((resolve, reject) => {
      (e.waiters ??= []).push(() => {
        this.backend.unblocked();
        try {
          resolve(this.readOwned(ref, e));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  async get(refs: readonly ObjectRef<unknown>[], timeoutMs: number | undefined): Promise<unknown[]> {
    this.assertOpen();
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    let blocked = false;
    try {
      const out: unknown[] = new Array(refs.length);
      for (let i = 0; i < refs.length; i++) {
        const ref = refs[i]!;
        if (!(ref instanceof ObjectRef))
          throw new InvalidArgumentError(`get() expects ObjectRefs; item ${i} is not`);
        const e = this.owned.get(ref.hex);
        if (e && e.state !== State.Pending) {
          if (e.inStore && this.isLost(ref, e)) await this.recover(ref.hex, e);
          out[i] = this.readOwned(ref, e);
          continue;
        }
        if (!blocked) {
          blocked = true;
          this.backend.blocked();
        }
        const left = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
        if (e) {
          await this.waitOwned(e, left, ref);
          out[i] = this.readOwned(ref, e);
        } else {
          out[i] = await this.readBorrowed(ref, left);
        }
      }
      return out;
    } finally {
      if (blocked) this.backend.unblocked();
    }
  }

  private waitOwned(e: Owned, timeoutMs: number | undefined, ref?: ObjectRef<unknown>): Promise<void> {
    if (e.state !== State.Pending) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      (e.waiters ??= []).push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const idx = e.waiters?.indexOf(waiter) ?? -1;
          if (idx >= 0) e.waiters!.splice(idx, 1);
          reject(
            new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${ref ?? 'an object'}`),
          );
        }, timeoutMs);
      }
    });
  }

  private readOwned(ref: ObjectRef<unknown>, e: Owned): unknown {
    if (e.state === State.Failed) throw e.error;
    if (!e.inStore) return deserialize(e.payload!);
    const obj = this.store.tryGet(ObjectId.fromBytes(ref));
    if (!obj) throw this.lostError(ref);
    return this.readStoreObject(obj);
  }

  private readStoreObject(obj: { data: Buffer; metadata: Buffer; release(): void }): unknown {
    const outOfBand = obj.data.length >= 8 ? obj.data.readUInt32LE(4) : 0;
    const isError = obj.metadata.length > 0 && obj.metadata.equals(ERROR_META);
    const value = deserialize(obj.data);
    // Values with zero-copy views keep the pin until those views are collected.
    if (outOfBand === 0) obj.release();
    if (isError) throw failureToError(value as ReceivedErrorRecord);
    return value;
  }

  /** A top-level argument the submitter left in the store (large, or not inlined). */
  async readArg(id: Buffer): Promise<unknown> {
    const oid = ObjectId.fromBytes(id);
    const obj =
      this.store.tryGet(oid) ??
      (
        await this.borrows.waitFor(id, 'a task argument', async (signal) => {
          await this.fetchLocal(id, undefined);
          return this.store.get([oid], { signal });
        })
      )[0];
    if (!obj) throw this.lostError(id);
    return this.readStoreObject(obj);
  }

  private async readBorrowed(ref: ObjectRef<unknown>, timeoutMs: number | undefined): Promise<unknown> {
    const [obj] = await this.borrows.waitFor(ref, 'get() of', async (signal) => {
      // The owner may be on another node: its object is pulled here first (fetchLocal).
      const started = Date.now();
      await this.fetchLocal(ref, timeoutMs);
      const left = timeoutMs === undefined ? undefined : Math.max(0, timeoutMs - (Date.now() - started));
      return this.store.get(
        [ObjectId.fromBytes(ref)],
        left === undefined ? { signal } : { timeout: left, signal },
      );
    });
    if (!obj) {
      if (timeoutMs !== undefined) {
        throw new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${ref}`);
      }
      throw this.lostError(ref);
    }
    return this.readStoreObject(obj);
  }

  private lostError(id: Uint8Array): ObjectLostError {
    const ref = `ObjectRef(${Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')})`;
    return new ObjectLostError(
      isPutId(id)
        ? `${ref} was created by put() and every copy is gone (deleted after its last reference was released, ` +
            'or lost with its node); put values cannot be rebuilt: keep a reference while you need it'
        : `${ref} is no longer in the object store (its last reference was released, or its node was lost)`,
    );
  }

  async wait(
    refs: readonly ObjectRef<unknown>[],
    numReturns: number,
    timeoutMs: number | undefined,
  ): Promise<[ObjectRef<unknown>[], ObjectRef<unknown>[]]> {
    this.assertOpen();
    if (numReturns > refs.length) {
      throw new InvalidArgumentError(
        `wait(): numReturns (${numReturns}) is more than the ${refs.length} refs given`,
      );
    }
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    // A ref whose owner died counts as ready: it is settled (get throws OwnerDiedError).
    const isReady = (r: ObjectRef<unknown>) => {
      const e = this.owned.get(r.hex);
      return e
        ? e.state !== State.Pending
        : this.borrows.isDead(r) || this.store.contains(ObjectId.fromBytes(r));
    };
    let blocked = false;
    try {
      for (;;) {
        const ready: ObjectRef<unknown>[] = [];
        const notReady: ObjectRef<unknown>[] = [];
        for (const r of refs) {
          if (ready.length < numReturns && isReady(r)) ready.push(r);
          else notReady.push(r);
        }
        const left = deadline === undefined ? undefined : deadline - Date.now();
        if (ready.length >= numReturns || (left !== undefined && left <= 0)) return [ready, notReady];
        if (!blocked) {
          blocked = true;
          this.backend.blocked();
        }
        await this.anyChange(notReady, left);
      }
    } finally {
      if (blocked) this.backend.unblocked();
    }
  }

  /** Resolves when one of refs may have become ready (or after timeoutMs). */
  private anyChange(refs: ObjectRef<unknown>[], timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      let borrowed = false;
      for (const r of refs) {
        const e = this.owned.get(r.hex);
        if (e) (e.waiters ??= []).push(finish);
        else borrowed = true;
      }
      // Borrowed refs have no local waiter list: poll the store briefly.
      const wait = borrowed ? Math.min(timeoutMs ?? 10, 10) : timeoutMs;
      const timer = setTimeout(finish, wait ?? 2 ** 31 - 1);
    });
  }

  // ---------------------------------------------------------------- misc

  /** Every ref this process owns or borrows, and why it is alive (ownership/summary.ts). */
  memorySummary(): MemoryRow[] {
    const submitted = new Map<string, number>();
    for (const held of this.pendingArgs.values())
      for (const r of held.argRefs) submitted.set(r.hex, (submitted.get(r.hex) ?? 0) + 1);
    return summarize(this.ownerHex, this.owned, this.borrows.entries(), submitted, this.store);
  }

  private assertOpen(): void {
    if (this.closed)
      throw new SunrayError('sunray was shut down: call sunray.init() again to start a new session');
  }

  close(): void {
    this.closed = true;
    setRefTracker(undefined);
    const err = new SunrayError('sunray was shut down while this object was pending');
    let external = 0;
    for (const [hex, e] of this.owned) {
      if (isPutHex(hex)) external += e.size;
      if (e.state === State.Pending) {
        e.state = State.Failed;
        e.error = err;
        this.wake(e);
      }
    }
    if (external > 0) native.adjustExternalMemory(-external);
    this.owned.clear();
  }
}

/**
 * sunray's own code: the directory this file's directory is in (dist/ when built, lib/
 * when run from source), as frames print it (a file URL for ES modules, else a path).
 * Frames under it are not call sites; a user's own lib/ or dist/ elsewhere are.
 */
const OWN_CODE_URL = new URL('..', import.meta.url).href;
const OWN_CODE_PATH = fileURLToPath(OWN_CODE_URL);

/** The first frame of the stack that is neither sunray's nor Node's own: where the user made the object. */
function callSite(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  for (let i = 1; i < stack.length; i++) {
    const l = stack[i]!;
    if (!l.includes('at ') || l.includes(OWN_CODE_URL) || l.includes(OWN_CODE_PATH)) continue;
    if (l.includes('(node:') || l.includes('at node:') || l.includes('(<anonymous>)')) continue;
    return l.trim().replace(/^at /, '');
  }
  return '';
}
