// Submitting tasks and actor calls, and taking their results (Ray's task
// submitter and task manager, the owner's side): a call gets its return refs
// at once; its arguments are encoded (large ones put in the store), ref
// arguments resolved when ready, and calls to one actor kept in order. Until
// a task ends its arguments stay held (pending args); when it ends its
// returns are settled, and a result in the store keeps its lineage
// (object-recovery.ts). This is the hot path: submit() and onTaskReturn() are
// direct calls on shared state, with nothing allocated per call that a task
// without ref arguments does not need.
import { InvalidArgumentError } from '../base/errors.js';
import { IdGenerator, isPutId, OBJECT_ID_SIZE, TASK_ID_SIZE, taskIdOf, taskKeyOf } from '../base/ids.js';
import { newUntrackedRef, ObjectRef } from '../base/object-ref.js';
import { deserialize, encode, encodeToBuffer } from '../base/serialization.js';
import { failureToError, type ReceivedErrorRecord } from '../protocol/error-record.js';
import {
  ArgKind,
  CallSpec,
  encodeArgs,
  type FunctionDef,
  type SpecBase,
  TaskKind,
  type WireArg,
} from '../protocol/spec.js';
import { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import { ObjectId } from '../store/index.js';
import type { Backend } from './backend.js';
import { unreadableRef } from './context.js';
import { GeneratorStream, ObjectRefGenerator } from './generator-stream.js';
import type { Getter } from './getter.js';
import type { ObjectRecovery, PendingArgs } from './object-recovery.js';
import { lostError, type Owned, type OwnerStore, type ReferenceTable, State } from './reference-table.js';
import type { TaskEventBuffer } from './task-event-buffer.js';

/** Arguments and returns up to this size travel inside messages; larger ones go through the store. */
export const INLINE_LIMIT = 100 * 1024;

const RETURN_ID_SCRATCH = Buffer.allocUnsafeSlow(OBJECT_ID_SIZE);
/** Shared by tasks without arguments (never written to). */
const NO_WIRE: Array<WireArg | ObjectRef<unknown>> = [];
const NO_WIRE_ARGS: WireArg[] = [];

/** Closes the stream of an ObjectRefGenerator nobody holds any more. */
const abandoned = new FinalizationRegistry<GeneratorStream<ObjectRef<unknown>>>((stream) => stream.close());

export class TaskSubmitter {
  private readonly owned: Map<string, Owned>;
  /** Per task still running (by task id, hex): what its arguments hold (see PendingArgs). */
  readonly pendingArgs = new Map<string, PendingArgs>();
  /** Per actor, calls still resolving their arguments: later calls queue behind them to keep order. */
  private readonly actorChains = new Map<string, Promise<void>>();
  /** Streaming generator tasks not ended yet, by task key: where their items go. */
  private readonly streams = new Map<string, GeneratorStream<ObjectRef<unknown>>>();

  constructor(
    private readonly ids: IdGenerator,
    private readonly refs: ReferenceTable,
    private readonly recovery: ObjectRecovery,
    private readonly getter: Getter,
    private readonly backend: Pick<Backend, 'submit' | 'cancelDirect' | 'streamConsumedDirect' | 'request'>,
    private readonly store: OwnerStore,
    private readonly events: TaskEventBuffer,
  ) {
    this.owned = refs.owned;
  }

  /**
   * Submits a task or actor call; returns its result refs at once, like Ray's `.remote()`.
   * gate: it is sent once this settles (its runtime env's upload); it fails with its error.
   */
  submit(
    def: FunctionDef,
    base: SpecBase,
    args: unknown[],
    job = '',
    gate?: Promise<void>,
  ): ObjectRef<unknown>[] {
    this.refs.assertOpen();
    // The task id as a latin1 string: what its spec keeps while it is queued (protocol.ts CallSpec).
    const taskKey = this.ids.nextTaskKey();
    const refs: ObjectRef<unknown>[] = new Array(base.numReturns);
    for (let i = 0; i < base.numReturns; i++) {
      // The ref copies the id: one scratch buffer serves every return.
      // Untracked: its entry is made here, counting it (the tracker would look it up in vain).
      const ref = newUntrackedRef<unknown>(IdGenerator.returnIdOfKey(taskKey, i, RETURN_ID_SCRATCH));
      const e = this.refs.newEntry();
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
      this.refs.markEscaped(enc.refs);
      // Refs nested in arguments are held until the task ends: by then the worker that runs
      // it has registered as their borrower if it kept them (ownership/ref-ops.ts).
      for (const r of enc.refs) (argRefs ??= []).push(r);
      if (enc.size > INLINE_LIMIT) {
        const id = this.ids.nextPutId();
        this.refs.writeToStore(id, enc);
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
    if (!pendingDeps && !chained && !gate) {
      try {
        const resolved = wire === NO_WIRE ? NO_WIRE_ARGS : wire.map((w) => this.resolvedNow(w));
        this.sendTask(def, base, taskKey, refs, resolved, temps, argRefs, job);
      } catch (err) {
        this.failSubmit(taskKey, base.numReturns, temps, err as Error);
      }
      return refs;
    }
    if (pendingDeps) {
      const { name, kind, actorId, demand } = base;
      this.events.waitingForArgs({ taskKey, name, kind, actorId, demand, job });
    }
    const run = async () => {
      if (gate) await gate;
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
      this.sendTask(def, base, taskKey, refs, resolved, temps, argRefs, job);
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

  /**
   * Submits a streaming generator task or actor call (base.stream is streaming.ts's): its items come as
   * they are yielded (streamItem), its own return is the item count at its end.
   * backpressure > 0: the worker is told how many items were consumed (it waits on that).
   */
  submitStreaming(
    def: FunctionDef,
    base: SpecBase,
    args: unknown[],
    backpressure: number,
    job = '',
    gate?: Promise<void>,
  ): ObjectRefGenerator<unknown> {
    const completed = this.submit(def, base, args, job, gate)[0] as ObjectRef<number>;
    const key = Buffer.from(completed).toString('latin1', 0, TASK_ID_SIZE);
    const taskId = Buffer.from(completed.subarray(0, TASK_ID_SIZE));
    const acked =
      backpressure > 0
        ? (taken: number) => {
            // A direct actor call's actor hears it straight; others through the node.
            if (this.backend.streamConsumedDirect?.(key, taken)) return;
            this.backend.request('streamConsumed', taskId, taken).catch(() => {});
          }
        : undefined;
    const stream = new GeneratorStream<ObjectRef<unknown>>(acked);
    const e = this.owned.get(completed.hex);
    const settle = () => {
      if (e?.state === State.Ready) {
        const count = e.payload ? deserialize(e.payload) : undefined;
        stream.ended(typeof count === 'number' ? count : stream.consumed + stream.buffered);
      } else stream.failed(e?.error ?? new InvalidArgumentError(`the generator task ${base.name} failed`));
      // Items copied home from another node may come after the end: the stream waits for them.
      if (stream.complete) this.streams.delete(key);
    };
    if (e && e.state === State.Pending) this.streams.set(key, stream);
    if (e) this.refs.whenSettled(e, settle);
    else settle();
    const gen = new ObjectRefGenerator(completed, stream);
    // A generator its consumer dropped keeps nothing more: later items are freed as they come.
    abandoned.register(gen, stream);
    return gen;
  }

  /**
   * An item of a streaming task (an id with no entry here): made an owned object and handed
   * to its stream, unless a retried run yields it again. False if no stream wants it.
   */
  private streamItem(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): boolean {
    const stream = this.streams.get(objectId.toString('latin1', 0, TASK_ID_SIZE));
    if (stream === undefined || status !== DoneStatus.Ok) return false;
    // Return index k+1 (stored as k+2: ids.ts returnId) is item k.
    const index = objectId.readUInt32LE(TASK_ID_SIZE) - 2;
    if (!stream.wants(index)) {
      // A retried run yields from the start: what was consumed is not given twice, and the
      // worker hears again how far the consumer is.
      if (kind === ReturnKind.InStore && !this.owned.has(objectId.toString('hex')))
        this.refs.deleteQuietly(objectId);
      if (stream.consumed > 0) stream.reack();
      return true;
    }
    const e = this.refs.newEntry();
    e.state = State.Ready;
    e.size = payload.length;
    if (kind === ReturnKind.InStore) e.inStore = true;
    else e.payload = payload;
    const ref = newUntrackedRef<unknown>(objectId);
    this.owned.set(ref.hex, e);
    e.localRefs++;
    stream.offer(index, ref);
    if (stream.complete) this.streams.delete(objectId.toString('latin1', 0, TASK_ID_SIZE));
    return true;
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
    job: string,
  ): void {
    // Its own id, arguments and job, the rest read from base (shared by every call of the function).
    const spec = new CallSpec(base, taskKey, encodeArgs(resolved), job);
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
      this.recovery.rememberDef(def);
    }
    this.backend.submit(spec, def);
  }

  private failSubmit(taskKey: string, numReturns: number, temps: Buffer[] | undefined, err: Error): void {
    for (let i = 0; i < numReturns; i++) this.settleFailed(IdGenerator.returnIdOfKey(taskKey, i), err);
    if (temps) for (const t of temps) this.refs.deleteQuietly(t);
  }

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
    if (e) return e.state !== State.Pending && !(e.inStore && this.refs.isLost(ref, e));
    return this.store.contains(ObjectId.fromBytes(ref));
  }

  private whenReady(ref: ObjectRef<unknown>): Promise<void> {
    const e = this.owned.get(ref.hex);
    if (e)
      return this.refs.isLost(ref, e) ? this.recovery.recover(ref.hex, e) : this.refs.waitOwned(e, undefined);
    if (this.refs.owns(ref)) return Promise.reject(lostError(ref));
    return this.refs.borrows.waitFor(ref, 'a task argument', (signal) =>
      this.getter
        .fetchLocal(ref, undefined)
        .then(() => this.store.get([ObjectId.fromBytes(ref)], { signal }))
        .then((bufs: Array<{ release(): void } | null>) => bufs[0]?.release()),
    );
  }

  /** A top-level ref argument, once ready: inline its value, or point the worker at the store. */
  private resolvedArg(ref: ObjectRef<unknown>): WireArg {
    const e = this.owned.get(ref.hex);
    if (e) {
      if (e.state === State.Failed) throw e.error;
      if (!e.inStore && e.payload) return { kind: ArgKind.Value, payload: e.payload };
    }
    return { kind: ArgKind.StoreRef, id: Buffer.from(ref) };
  }

  /** Called when a task this process submitted has finished (from the node manager). */
  onTaskReturn(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    const hex = objectId.toString('hex');
    const e = this.owned.get(hex);
    // An id with no entry may be a streaming task's item (never a plain task's: no cost there).
    if (e === undefined && this.streams.size > 0 && this.streamItem(objectId, status, kind, payload)) return;
    if (e?.spec && e.state === State.Pending && status === DoneStatus.Ok && kind === ReturnKind.InStore) {
      this.recovery.keepLineage(hex, e, e.spec, this.pendingArgs);
    } else {
      this.releaseTemps(objectId);
    }
    if (e) e.spec = undefined;
    if (!e || e.state !== State.Pending) {
      // Nobody holds the ref any more (or it was cancelled): drop the value.
      if (kind === ReturnKind.InStore && !e) this.refs.deleteQuietly(objectId);
      return;
    }
    if (status !== DoneStatus.Ok) {
      this.settleFailed(objectId, failureToError(deserialize(payload) as ReceivedErrorRecord));
      return;
    }
    e.state = State.Ready;
    e.size = payload.length;
    if (kind === ReturnKind.InStore) e.inStore = true;
    else e.payload = payload;
    if (e.escaped && !e.inStore) this.refs.promote(hex, e, payload);
    this.refs.wake(e);
    this.refs.maybeFree(hex, e);
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
    if (e.escaped) this.refs.promoteError(hex, err);
    this.refs.wake(e);
  }

  private releaseTemps(objectId: Buffer): void {
    if (this.pendingArgs.size === 0) return;
    const key = objectId.subarray(0, TASK_ID_SIZE).toString('hex');
    const held = this.pendingArgs.get(key);
    if (!held) return;
    this.pendingArgs.delete(key);
    for (const t of held.temps) this.refs.deleteQuietly(t);
  }

  /** Cancels a task this process submitted, if it has not finished (recursive: its children too). */
  cancelPending(ref: ObjectRef<unknown>, force: boolean, recursive: boolean): void {
    const e = this.owned.get(ref.hex);
    if (!e) {
      if (!this.refs.owns(ref)) {
        throw new InvalidArgumentError(
          'cancel() only works on refs of tasks this process submitted (their owner)',
        );
      }
      return;
    }
    if (e.state !== State.Pending) return;
    this.cancelOwned(ref, force, recursive);
  }

  /** cancelPending of a pending object of ours, by its id. */
  cancelOwned(id: Uint8Array, force: boolean, recursive: boolean): void {
    if (isPutId(id)) return;
    if (this.backend.cancelDirect?.(taskKeyOf(taskIdOf(id)), recursive)) return;
    this.backend.request('cancelTask', Buffer.from(taskIdOf(id)), force, recursive).catch(() => {});
  }

  /** Per ref (hex): how many unfinished tasks submitted here take it as an argument (memorySummary). */
  submittedArgCounts(): Map<string, number> {
    const submitted = new Map<string, number>();
    for (const held of this.pendingArgs.values())
      for (const r of held.argRefs) submitted.set(r.hex, (submitted.get(r.hex) ?? 0) + 1);
    return submitted;
  }
}
