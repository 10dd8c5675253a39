// The per-process core: every driver and worker has one. It owns the objects
// its process created (by put or by submitting tasks), resolves their values,
// and reads borrowed ones from the node's store. Ownership follows Ray: the
// owner holds the state of its objects; nothing central does.
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ActorDiedError,
  GetTimeoutError,
  InvalidArgumentError,
  ObjectLostError,
  type RemoteErrorInfo,
  SunrayError,
  TaskCancelledError,
  TaskError,
  WorkerCrashedError,
} from '../core/errors.js';
import { IdGenerator, isPutId, ownerHexOf } from '../core/ids.js';
import { ObjectRef, setRefTracker } from '../core/object-ref.js';
import { deserialize, type Encoded, encode, encodeToBuffer, writeEncoded } from '../core/serialization.js';
import { ObjectId, type ObjectStore } from '../store/index.js';
import type { Backend } from './backend.js';
import {
  ArgKind,
  DoneStatus,
  encodeArgs,
  type FunctionDef,
  ReturnKind,
  TaskKind,
  type TaskSpec,
  type WireArg,
} from './protocol.js';

/** Call sites cost a stack trace per object, so they are recorded only on request (init option). */
let recordCallSites = false;
export function setRecordCallSites(on: boolean): void {
  recordCallSites = on;
}

/** Arguments and returns up to this size travel inside messages; larger ones go through the store. */
export const INLINE_LIMIT = 100 * 1024;

enum State {
  Pending = 0,
  Ready = 1,
  Failed = 2,
}

interface Owned {
  state: State;
  payload: Buffer | undefined; // inline serialized value
  inStore: boolean;
  error: Error | undefined;
  waiters: Array<() => void> | undefined;
  localRefs: number;
  escaped: boolean;
  taskId: Buffer | undefined;
  size: number;
  callSite: string;
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
  readonly owned = new Map<string, Owned>();
  readonly taskContext = new AsyncLocalStorage<TaskContext>();
  /** Per actor, calls still resolving their arguments: later calls queue behind them to keep order. */
  private readonly actorChains = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    readonly backend: Backend,
    readonly store: ObjectStore,
    ownerId?: Buffer,
  ) {
    this.ids = new IdGenerator(ownerId);
    setRefTracker({
      onCreate: (ref) => {
        const e = this.owned.get(ref.hex);
        if (e) e.localRefs++;
      },
      onRelease: (hex) => this.dropLocalRef(hex),
    });
  }

  // ---------------------------------------------------------------- objects

  owns(ref: Uint8Array): boolean {
    return ownerHexOf(ref) === this.ids.ownerHex;
  }

  private newEntry(taskId: Buffer | undefined): Owned {
    return {
      state: State.Pending,
      payload: undefined,
      inStore: false,
      error: undefined,
      waiters: undefined,
      localRefs: 0,
      escaped: false,
      taskId,
      size: 0,
      callSite: recordCallSites ? callSite() : '',
    };
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
    const entry = this.newEntry(undefined);
    this.writeToStore(id, enc);
    entry.state = State.Ready;
    entry.inStore = true;
    entry.size = enc.size;
    const hex = id.toString('hex');
    this.owned.set(hex, entry);
    this.markEscaped(enc.refs);
    return new ObjectRef<T>(id);
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
      if (!e || e.escaped) continue;
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
    e.payload = undefined;
  }

  private promoteError(hex: string, e: Owned): void {
    // Borrowers read errors from the store too: metadata marks the payload as an error.
    const id = ObjectId.fromHex(hex);
    if (this.store.contains(id)) return;
    const payload = encodeToBuffer(encode(errorRecord(e.error!)));
    const view = this.store.create(id, payload.length, { metadata: ERROR_META });
    view.set(payload);
    this.store.seal(id);
  }

  private dropLocalRef(hex: string): void {
    const e = this.owned.get(hex);
    if (!e) return;
    e.localRefs--;
    if (e.localRefs > 0 || e.escaped || e.state === State.Pending) return;
    this.free(hex, e);
  }

  private free(hex: string, e: Owned): void {
    this.owned.delete(hex);
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
  submit(
    def: FunctionDef,
    base: Omit<TaskSpec, 'taskId' | 'args' | 'numReturns'> & { numReturns: number },
    args: unknown[],
  ): ObjectRef<unknown>[] {
    this.assertOpen();
    const taskId = this.ids.nextTaskId();
    const refs: ObjectRef<unknown>[] = [];
    const entries: Owned[] = [];
    for (let i = 0; i < base.numReturns; i++) {
      const id = IdGenerator.returnId(taskId, i);
      const e = this.newEntry(taskId);
      entries.push(e);
      this.owned.set(id.toString('hex'), e);
      refs.push(new ObjectRef(id));
    }
    // Encode what is known now; top-level refs are resolved before sending.
    const wire: Array<WireArg | ObjectRef<unknown>> = [];
    const temps: Buffer[] = [];
    let pendingDeps = false;
    for (const a of args) {
      if (a instanceof ObjectRef) {
        wire.push(a);
        if (!this.isReadyLocally(a)) pendingDeps = true;
        continue;
      }
      const enc = encode(a);
      this.markEscaped(enc.refs);
      if (enc.size > INLINE_LIMIT) {
        const id = this.ids.nextPutId();
        this.writeToStore(id, enc);
        temps.push(id);
        wire.push({ kind: ArgKind.StoreRef, id });
      } else {
        wire.push({ kind: ArgKind.Value, payload: encodeToBuffer(enc) });
      }
    }
    const send = (resolved: WireArg[]) => {
      const spec: TaskSpec = { ...base, taskId, args: encodeArgs(resolved) };
      this.pendingTemps.set(taskId.toString('hex'), temps);
      this.backend.submit(spec, def);
    };
    const fail = (err: Error) => {
      for (let i = 0; i < entries.length; i++) this.settleFailed(IdGenerator.returnId(taskId, i), err);
      for (const t of temps) this.deleteQuietly(t);
    };

    // Calls to one actor keep their order; its creation goes first, unchained.
    const actorKey =
      base.kind === TaskKind.ActorCall && base.actorId.some((b) => b !== 0)
        ? base.actorId.toString('hex')
        : undefined;
    const chained = actorKey ? this.actorChains.get(actorKey) : undefined;
    if (!pendingDeps && !chained) {
      try {
        send(wire.map((w) => (w instanceof ObjectRef ? this.resolvedArg(w) : w)));
      } catch (err) {
        fail(err as Error);
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
      send(resolved);
    };
    const p = run().catch(fail);
    if (actorKey) {
      const done = p.then(() => {
        if (this.actorChains.get(actorKey) === done) this.actorChains.delete(actorKey);
      });
      this.actorChains.set(actorKey, done);
    }
    return refs;
  }

  private readonly pendingTemps = new Map<string, Buffer[]>();

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
    if (e) return e.state !== State.Pending;
    return this.store.contains(ObjectId.fromBytes(ref));
  }

  private whenReady(ref: ObjectRef<unknown>): Promise<void> {
    const e = this.owned.get(ref.hex);
    if (e) return this.waitOwned(e, undefined);
    if (this.owns(ref)) return Promise.reject(this.lostError(ref));
    return this.fetchLocal(ref, undefined)
      .then(() => this.store.get([ObjectId.fromBytes(ref)]))
      .then((bufs: Array<{ release(): void } | null>) => bufs[0]?.release());
  }

  /**
   * Waits until a borrowed object is readable in this node's store: its owner may be
   * on another node, whose node manager then pulls it here. Local objects skip the ask.
   */
  private async fetchLocal(id: Uint8Array, timeoutMs: number | undefined): Promise<void> {
    const buf = Buffer.from(id.buffer, id.byteOffset, id.byteLength);
    if (this.store.contains(ObjectId.fromBytes(buf))) return;
    const outcome = await this.backend.request('pullObject', Buffer.from(buf), timeoutMs);
    if (outcome === 'lost') throw this.lostErrorOf(buf);
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
    this.releaseTemps(objectId);
    if (!e || e.state !== State.Pending) {
      // Nobody holds the ref any more (or it was cancelled): drop the value.
      if (kind === ReturnKind.InStore && !e) this.deleteQuietly(objectId);
      return;
    }
    if (status !== DoneStatus.Ok) {
      const info = deserialize(payload) as RemoteErrorInfo & { taskName?: string; failure?: string };
      this.settleFailed(objectId, failureToError(info));
      return;
    }
    e.state = State.Ready;
    e.size = payload.length;
    if (kind === ReturnKind.InStore) e.inStore = true;
    else e.payload = payload;
    if (e.escaped && !e.inStore) this.promote(hex, e);
    this.wake(e);
    if (e.localRefs <= 0 && !e.escaped) this.free(hex, e);
  }

  /** Fails every pending return of a task (the node manager gave up on it). */
  settleFailed(objectId: Buffer, err: Error): void {
    const hex = objectId.toString('hex');
    const e = this.owned.get(hex);
    this.releaseTemps(objectId);
    if (!e || e.state !== State.Pending) return;
    e.state = State.Failed;
    e.error = err;
    if (e.escaped) this.promoteError(hex, e);
    this.wake(e);
  }

  private releaseTemps(objectId: Buffer): void {
    const key = objectId.subarray(0, 24).toString('hex');
    const temps = this.pendingTemps.get(key);
    if (!temps) return;
    this.pendingTemps.delete(key);
    for (const t of temps) this.deleteQuietly(t);
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
    if (!e.taskId || e.state !== State.Pending) return;
    this.backend.request('cancelTask', e.taskId, force).catch(() => {});
  }

  // ---------------------------------------------------------------- get / wait

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
    if (isError) throw failureToError(value as RemoteErrorInfo & { failure?: string; taskName?: string });
    return value;
  }

  /** A top-level argument the submitter left in the store (large, or not inlined). */
  async readArg(id: Buffer): Promise<unknown> {
    const oid = ObjectId.fromBytes(id);
    if (!this.store.contains(oid)) await this.fetchLocal(id, undefined);
    const obj = this.store.tryGet(oid) ?? (await this.store.get([oid]))[0];
    if (!obj) throw this.lostError(new ObjectRef(id));
    return this.readStoreObject(obj);
  }

  private async readBorrowed(ref: ObjectRef<unknown>, timeoutMs: number | undefined): Promise<unknown> {
    const started = Date.now();
    await this.fetchLocal(ref, timeoutMs);
    if (timeoutMs !== undefined) timeoutMs = Math.max(0, timeoutMs - (Date.now() - started));
    const [obj] = await this.store.get(
      [ObjectId.fromBytes(ref)],
      timeoutMs === undefined ? {} : { timeout: timeoutMs },
    );
    if (!obj) {
      if (timeoutMs !== undefined) {
        throw new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${ref}`);
      }
      throw this.lostError(ref);
    }
    return this.readStoreObject(obj);
  }

  private lostError(ref: ObjectRef<unknown>): ObjectLostError {
    return this.lostErrorOf(ref, `${ref}`);
  }

  private lostErrorOf(
    id: Uint8Array,
    name = `ObjectRef(${Buffer.from(id).toString('hex')})`,
  ): ObjectLostError {
    const ref = name;
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
    const isReady = (r: ObjectRef<unknown>) => {
      const e = this.owned.get(r.hex);
      return e ? e.state !== State.Pending : this.store.contains(ObjectId.fromBytes(r));
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

  memorySummary(): Array<{
    id: string;
    state: string;
    size: number;
    inStore: boolean;
    localRefs: number;
    escaped: boolean;
    callSite: string;
  }> {
    return [...this.owned].map(([id, e]) => ({
      id,
      state: e.state === State.Pending ? 'pending' : e.state === State.Ready ? 'ready' : 'failed',
      size: e.size,
      inStore: e.inStore,
      localRefs: e.localRefs,
      escaped: e.escaped,
      callSite: e.callSite,
    }));
  }

  private assertOpen(): void {
    if (this.closed)
      throw new SunrayError('sunray was shut down: call sunray.init() again to start a new session');
  }

  close(): void {
    this.closed = true;
    setRefTracker(undefined);
    const err = new SunrayError('sunray was shut down while this object was pending');
    for (const e of this.owned.values()) {
      if (e.state === State.Pending) {
        e.state = State.Failed;
        e.error = err;
        this.wake(e);
      }
    }
    this.owned.clear();
  }
}

/** Metadata that marks a store object as a failed task's error rather than a value. */
export const ERROR_META = Buffer.from('sunray:error');

export function errorRecord(err: Error): RemoteErrorInfo & { failure: string; taskName?: string } {
  const failure =
    err instanceof TaskError
      ? 'error'
      : err instanceof WorkerCrashedError
        ? 'crashed'
        : err instanceof TaskCancelledError
          ? 'cancelled'
          : err instanceof ActorDiedError
            ? 'actorDied'
            : 'other';
  const cause = err.cause instanceof Error ? err.cause : err;
  return {
    failure,
    name: cause.name,
    message: failure === 'error' ? cause.message : err.message,
    stack: cause.stack ?? '',
    ...(err instanceof TaskError ? { taskName: err.taskName } : {}),
  };
}

/** Rebuilds the error a task ended with, from its wire form. */
export function failureToError(info: RemoteErrorInfo & { failure?: string; taskName?: string }): Error {
  switch (info.failure) {
    case 'crashed':
      return new WorkerCrashedError(info.message);
    case 'cancelled':
      return new TaskCancelledError(info.message);
    case 'actorDied':
      return new ActorDiedError(info.message);
    default:
      return new TaskError(info.taskName ?? 'task', info);
  }
}

function callSite(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  const frame = stack.find(
    (l) => l.includes('at ') && !l.includes('/sunray/') && !l.includes('/dist/') && !l.includes('/lib/'),
  );
  return frame?.trim().replace(/^at /, '') ?? '';
}
