// The per-process core (Ray's core_worker): every driver and worker has one.
// It owns the objects its process created (by put or by submitting tasks),
// resolves their values, and reads borrowed ones from the node's store.
// Ownership follows Ray: the owner holds the state of its objects; nothing
// central does. This file is the facade the API, the executor and the node
// call; the work is its parts':
//   reference-table.ts  owned-object records and what keeps each alive
//   task-submitter.ts   submit, arguments, actor call order, results
//   object-recovery.ts  lineage, and rebuilding lost objects
//   getter.ts           get, wait, reading owned and borrowed objects
import { AsyncLocalStorage } from 'node:async_hooks';
import { native } from '../base/addon.js';
import { InvalidArgumentError } from '../base/errors.js';
import { IdGenerator } from '../base/ids.js';
import { ObjectRef } from '../base/object-ref.js';
import { encode } from '../base/serialization.js';
import type { GroupStrategy } from '../protocol/placement-group.js';
import { effectiveEnvText } from '../protocol/runtime-env.js';
import { type FunctionDef, type SpecBase, TaskKind } from '../protocol/spec.js';
import type { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import { CompletionIterator, type CompletionOptions } from './as-completed.js';
import type { Backend } from './backend.js';
import type { ObjectRefGenerator } from './generator-stream.js';
import { Getter } from './getter.js';
import { MetricsBuffer } from './metrics-buffer.js';
import { ObjectRecovery } from './object-recovery.js';
import { DEFAULT_LINEAGE_MEMORY, LineageTable } from './ownership/lineage.js';
import { type MemoryRow, summarize } from './ownership/summary.js';
import { type OwnerStore, ReferenceTable, State } from './reference-table.js';
import { TaskEventBuffer } from './task-event-buffer.js';
import { TaskSubmitter } from './task-submitter.js';

export { setRecordCallSites } from './reference-table.js';
export { INLINE_LIMIT } from './task-submitter.js';

/** What getRuntimeContext() and log prefixes read while a call runs. */
export interface TaskContext {
  taskId: Buffer | undefined;
  taskName: string;
  gpuIds: number[];
  actorId: Buffer | undefined;
  /** The running task's id as a latin1 key (ids.ts taskKeyOf). */
  readonly taskKey: string;
  /**
   * The first return refs (hex) of the tasks this call submitted, for a recursive cancel
   * (Ray's): made on its first submit. Those that finished are pruned now and then.
   */
  children?: string[];
  /** Set by a recursive cancel: tasks it submits from then on are cancelled at once. */
  cancelled?: { force: boolean };
  /** What the running task holds: its demand, or for an actor's calls the actor's own resources. */
  assignedResources: Readonly<Record<string, number>>;
  /** The job it belongs to (protocol/job.ts): a task's own, an actor's calls their actor's. */
  readonly job: string;
  /** The placement group it runs in (an actor's calls: the actor's), if any. */
  readonly placementGroup?: GroupStrategy | undefined;
}

export class CoreWorker {
  readonly ids: IdGenerator;
  readonly ownerHex: string;
  readonly taskContext = new AsyncLocalStorage<TaskContext>();
  readonly refs: ReferenceTable;
  readonly recovery: ObjectRecovery;
  readonly getter: Getter;
  readonly submitter: TaskSubmitter;
  /** Task events only this process sees, sent to its node in batches. */
  readonly taskEvents: TaskEventBuffer;
  /** Updates of programs' metrics (sunray/metrics), sent to the node in batches. */
  readonly metrics: MetricsBuffer;
  /** Running calls that submitted tasks, by task key: whose children a recursive cancel reaches. */
  private readonly parents = new Map<string, TaskContext>();
  /**
   * The job (protocol/job.ts) of what this process submits outside any call: the driver's
   * own; in a worker, the job its node was started for ('' for a `sunray start` node's).
   */
  defaultJob = '';
  /**
   * The runtime env (protocol/runtime-env.ts text) of what this process submits: the
   * driver's init() env, a worker's own. A call's options' env is merged over it.
   */
  defaultEnv = '';
  /**
   * In a driver: a promise while an env's working directory is being uploaded into the
   * cluster (calls in it wait), undefined once it is there (node/driver.ts).
   */
  envGate: ((envText: string) => Promise<void> | undefined) | undefined;

  constructor(
    readonly backend: Backend,
    readonly store: OwnerStore,
    ownerId?: Buffer,
    lineageMemory: number = DEFAULT_LINEAGE_MEMORY,
  ) {
    this.ids = new IdGenerator(ownerId);
    this.ownerHex = this.ids.ownerHex;
    const lineage = new LineageTable(lineageMemory, (l) => this.recovery.releaseLineage(l));
    this.refs = new ReferenceTable(this.ids.ownerId, this.ownerHex, backend, store, lineage);
    this.recovery = new ObjectRecovery(this.refs, lineage, backend, store);
    this.getter = new Getter(this.refs, this.recovery, backend, store);
    this.metrics = new MetricsBuffer((updates) => backend.userMetrics(updates));
    this.taskEvents = new TaskEventBuffer(
      (records) => backend.taskEvents(records),
      backend.directCallsRan ? (body) => backend.directCallsRan?.(body) : undefined,
    );
    this.submitter = new TaskSubmitter(
      this.ids,
      this.refs,
      this.recovery,
      this.getter,
      backend,
      store,
      this.taskEvents,
    );
  }

  /** Told when objects of ours start or stop being held by other processes or objects (see reapIdle). */
  get onHeldByOthers(): ((held: boolean) => void) | undefined {
    return this.refs.onHeldByOthers;
  }
  set onHeldByOthers(fn: ((held: boolean) => void) | undefined) {
    this.refs.onHeldByOthers = fn;
  }

  owns(ref: Uint8Array): boolean {
    return this.refs.owns(ref);
  }

  // ---------------------------------------------------------------- objects

  put<T>(value: T): ObjectRef<T> {
    const refs = this.refs;
    refs.assertOpen();
    if (value instanceof ObjectRef) {
      throw new InvalidArgumentError(
        'put() of an ObjectRef: pass the ref itself where it is needed, or put a value that contains it ({ ref })',
      );
    }
    const enc = encode(value);
    const id = this.ids.nextPutId();
    const entry = refs.newEntry();
    refs.writeToStore(id, enc);
    entry.state = State.Ready;
    entry.inStore = true;
    entry.size = enc.size;
    // The ref is a few bytes of JS heap standing for enc.size bytes of store: say so to V8,
    // so that dropped refs are collected (and their objects freed) as puts pile up.
    native.adjustExternalMemory(enc.size);
    const hex = id.toString('hex');
    refs.owned.set(hex, entry);
    refs.markEscaped(enc.refs);
    refs.addContained(id, enc.refs);
    return new ObjectRef<T>(id);
  }

  /** See ReferenceTable.addContained: object `outer`'s value holds refs. */
  addContained(outer: Buffer, refs: readonly ObjectRef<unknown>[]): void {
    this.refs.addContained(outer, refs);
  }

  /** Refs serialized into a value another process will read: their values must be readable from the store. */
  markEscaped(refs: readonly ObjectRef<unknown>[]): void {
    this.refs.markEscaped(refs);
  }

  /** Ownership ops for objects this process owns (routed here by the node manager). */
  onRefOps(ops: Buffer): void {
    this.refs.onRefOps(ops);
  }

  /** A process exited (or a whole node: a prefix of owner ids): refs it owned are dead here. */
  onOwnerDied(prefix: string): void {
    this.refs.onOwnerDied(prefix);
  }

  // ---------------------------------------------------------------- tasks

  /** Submits a task or actor call; returns its result refs at once, like Ray's `.remote()`. */
  submit(def: FunctionDef, base: SpecBase, args: unknown[]): ObjectRef<unknown>[] {
    const ctx = this.runningCall();
    base = withEnv(base, this.defaultEnv);
    const gate = base.runtimeEnv === '' ? undefined : this.envGate?.(base.runtimeEnv);
    const refs = this.submitter.submit(def, base, args, ctx?.job ?? this.defaultJob, gate);
    if (ctx !== undefined && refs.length > 0) this.noteChild(ctx, refs[0] as ObjectRef<unknown>);
    return refs;
  }

  /** The job of the code running now: the running call's, else this process's default. */
  currentJob(): string {
    return this.runningCall()?.job ?? this.defaultJob;
  }

  /** The call running in this async context (the driver runs none: no store lookup there). */
  private runningCall(): TaskContext | undefined {
    return this.backend.isDriver ? undefined : this.taskContext.getStore();
  }

  /** Submits a streaming generator task (task-submitter.ts submitStreaming). */
  submitStreaming(
    def: FunctionDef,
    base: SpecBase,
    args: unknown[],
    backpressure: number,
  ): ObjectRefGenerator<unknown> {
    const ctx = this.runningCall();
    base = withEnv(base, this.defaultEnv);
    const gate = base.runtimeEnv === '' ? undefined : this.envGate?.(base.runtimeEnv);
    const job = ctx?.job ?? this.defaultJob;
    const gen = this.submitter.submitStreaming(def, base, args, backpressure, job, gate);
    if (ctx !== undefined) this.noteChild(ctx, gen.completed);
    return gen;
  }

  /**
   * In a worker, inside a call, a task just submitted is a child of that call (for a
   * recursive cancel); the driver runs no calls.
   */
  private noteChild(ctx: TaskContext, ref: ObjectRef<unknown>): void {
    if (ctx.cancelled) {
      this.submitter.cancelPending(ref, ctx.cancelled.force, true);
      return;
    }
    let c = ctx.children;
    if (c === undefined) {
      c = ctx.children = [];
      this.parents.set(ctx.taskKey, ctx);
    }
    c.push(ref.hex);
    // A long call that submits many tasks keeps only those still pending (amortized O(1)).
    if (c.length >= 1024 && (c.length & (c.length - 1)) === 0) {
      const owned = this.refs.owned;
      ctx.children = c.filter((hex) => owned.get(hex)?.state === State.Pending);
    }
  }

  /** A call ended: its children are no longer a cancel's to reach (Ray: cancel of a finished task). */
  callEnded(ctx: TaskContext): void {
    if (ctx.children !== undefined) this.parents.delete(ctx.taskKey);
  }

  /**
   * A recursive cancel of a call running here (the node asks): cancels the tasks it
   * submitted that are still pending, each recursively, and any it submits from now on.
   */
  cancelChildren(taskKey: string, force: boolean): void {
    const ctx = this.parents.get(taskKey);
    if (!ctx) return;
    ctx.cancelled = { force };
    const owned = this.refs.owned;
    for (const hex of ctx.children ?? []) {
      if (owned.get(hex)?.state === State.Pending)
        this.submitter.cancelOwned(Buffer.from(hex, 'hex'), force, true);
    }
    ctx.children = [];
  }

  /** Makes later calls to an actor wait for p (e.g. its registration, from a worker). */
  chainActor(actorHex: string, p: Promise<void>): void {
    this.submitter.chainActor(actorHex, p);
  }

  /** Called when a task this process submitted has finished (from the node manager). */
  onTaskReturn(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    this.submitter.onTaskReturn(objectId, status, kind, payload);
  }

  /** Fails every pending return of a task (the node manager gave up on it). */
  settleFailed(objectId: Buffer, err: Error): void {
    this.submitter.settleFailed(objectId, err);
  }

  /**
   * Calls fn once a task's return ref (owned here) is no longer pending: its result came, or
   * it failed or was cancelled. At once if it is settled already or not owned here.
   * (maxPendingCalls counts calls with it: no promise made per call.)
   */
  whenSettled(ref: ObjectRef<unknown>, fn: () => void): void {
    const e = this.refs.owned.get(ref.hex);
    if (e) this.refs.whenSettled(e, fn);
    else fn();
  }

  /** Cancels a task this process submitted, if it has not finished (recursive: its children too). */
  cancelPending(ref: ObjectRef<unknown>, force: boolean, recursive = true): void {
    this.submitter.cancelPending(ref, force, recursive);
  }

  // ---------------------------------------------------------------- get / wait

  /** get() of one ref (the fast path when it is ours and there is no timeout). */
  getOne(ref: ObjectRef<unknown>, timeoutMs: number | undefined, signal?: AbortSignal): Promise<unknown> {
    return this.getter.getOne(ref, timeoutMs, signal);
  }

  get(
    refs: readonly ObjectRef<unknown>[],
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<unknown[]> {
    return this.getter.get(refs, timeoutMs, signal);
  }

  wait(
    refs: readonly ObjectRef<unknown>[],
    numReturns: number,
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<[ObjectRef<unknown>[], ObjectRef<unknown>[]]> {
    return this.getter.wait(refs, numReturns, timeoutMs, signal);
  }

  /** refs in the order they become ready (asCompleted()); see as-completed.ts. */
  asCompleted<T>(refs: readonly ObjectRef<T>[], opts: CompletionOptions): CompletionIterator<T> {
    return new CompletionIterator(refs, this.refs, this.store, this.backend, opts);
  }

  /** A top-level argument the submitter left in the store (large, or not inlined). */
  readArg(id: Buffer): Promise<unknown> {
    return this.getter.readArg(id);
  }

  // ---------------------------------------------------------------- misc

  /** Every ref this process owns or borrows, and why it is alive (ownership/summary.ts). */
  memorySummary(): MemoryRow[] {
    return summarize(
      this.ownerHex,
      this.refs.owned,
      this.refs.borrows.entries(),
      this.submitter.submittedArgCounts(),
      this.store,
    );
  }

  close(): void {
    this.refs.close();
  }
}

/** Bases with an inherited env, by base and env: one per function and env, made once. */
const envBases = new WeakMap<SpecBase, Map<string, SpecBase>>();

/**
 * The base a call runs with when the code submitting it runs in runtime env `inherited`: its
 * own env merged over that one (Ray's rule). Actor calls run in their actor's process: none.
 */
function withEnv(base: SpecBase, inherited: string): SpecBase {
  if (inherited === '' || base.kind === TaskKind.ActorCall) return base;
  let byEnv = envBases.get(base);
  let out = byEnv?.get(inherited);
  if (out === undefined) {
    out = Object.freeze({ ...base, runtimeEnv: effectiveEnvText(base.runtimeEnv, inherited) });
    if (!byEnv) envBases.set(base, (byEnv = new Map()));
    byEnv.set(inherited, out);
  }
  return out;
}
