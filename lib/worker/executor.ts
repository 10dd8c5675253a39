// Runs tasks and actor calls in a worker. A task worker runs one task at a
// time; when that task waits in get()/wait() (its CPU lent back), the next
// one may start, so nested tasks never deadlock. An actor runs up to
// maxConcurrency calls at once (1 by default for a class without async methods:
// calls run in arrival order), and up to each named concurrency group's limit in
// that group (concurrency-groups.ts). Calls that came straight from a caller
// (direct/) are answered straight back. An actor that called exitActor() starts
// nothing more: once its running calls end it tells its node, which stops it.

import { ActorDiedError, InvalidArgumentError, NotInActorError, TaskCancelledError } from '../base/errors.js';
import { IdGenerator, OBJECT_ID_SIZE } from '../base/ids.js';
import { deserialize, encode, encodeToBuffer, writeEncoded } from '../base/serialization.js';
import { decodeActorOptions } from '../protocol/actor-options.js';
import type { ChannelWriter } from '../protocol/channel.js';
import { encodeErrorRecord, errorRecord, thrownErrorRecord } from '../protocol/error-record.js';
import { ArgKind, decodeArgs, type FunctionDef, specKey, TaskKind, type TaskSpec } from '../protocol/spec.js';
import { backpressureOf, STREAM_STOP, writeGeneratorItem } from '../protocol/streaming.js';
import {
  DoneStatus,
  Msg,
  ReturnKind,
  returnOf,
  type TaskReturn,
  writeDirectResult,
  writeDone,
} from '../protocol/worker-messages.js';
import { ObjectId } from '../store/index.js';
import { ConcurrencyGroup, ConcurrencyGroups } from './concurrency-groups.js';
import { type CoreWorker, INLINE_LIMIT, type TaskContext } from './core-worker.js';
import type { CallerPeers } from './direct/caller-peers.js';
import { loadFunction } from './function-loader.js';
import { driveGenerator, GeneratorRun } from './generator-runner.js';

interface Job {
  spec: TaskSpec;
  /** Its context while it runs (the tasks it submitted, for a recursive cancel). */
  ctx: CallContext | undefined;
  owner: number;
  gpuIds: number[];
  /** It came straight from its caller (Msg.CallDirect), not from the node manager. */
  direct: boolean;
  /** The concurrency group it runs in (the default one for tasks). */
  group: ConcurrencyGroup<Job>;
}

/** How many ownership ops this process has sent so far (WorkerBackend counts them). */
export interface RefOpCounter {
  readonly refOpsSent: number;
}

/** An actor's instance: its methods by name. */
type ActorInstance = Record<string, unknown>;

const NO_GPUS: number[] = [];
const RESULT_ID = Buffer.alloc(OBJECT_ID_SIZE); // scratch: copied into each frame at once

export class Executor {
  private readonly defs = new Map<string, FunctionDef>();
  private readonly loaded = new Map<string, Promise<unknown>>();
  private readonly ready = new Map<string, unknown>();
  private readonly groups = new ConcurrencyGroups<Job>(1);
  /** exitActor() was called: nothing more starts; `exited` is called once the running calls end. */
  private exiting = false;
  private exited: (() => void) | undefined;
  private actor: { id: string; instance: ActorInstance } | undefined;
  private actorDead: Error | undefined;
  private lastTaskName: string | undefined;
  /** Set by returns() when a value held refs: its result then goes by the node manager (relay). */
  private returnedRefs = false;
  /** refOpsSent when a direct result last went out. */
  private refOpsSeen = 0;
  private whenIdle: (() => void) | undefined;
  /** Streaming generator tasks running here, by task key (generator-runner.ts). */
  private readonly generators = new Map<string, GeneratorRun>();

  constructor(
    private readonly core: CoreWorker,
    private readonly out: ChannelWriter,
    private readonly index: number,
    private readonly peers?: CallerPeers,
    private readonly refOps?: RefOpCounter,
  ) {
    const backend = core.backend;
    const blocked = backend.blocked.bind(backend);
    const unblocked = backend.unblocked.bind(backend);
    // Count waits so a blocked task lets the next one of its group start. The group is
    // handed back to unblocked(), which may run in another call's async context.
    backend.blocked = () => {
      const g = this.currentGroup();
      g.blocked++;
      blocked();
      this.pump(g);
      return g;
    };
    backend.unblocked = (token?: unknown) => {
      (token instanceof ConcurrencyGroup ? token : this.groups.default).blocked--;
      unblocked();
    };
  }

  /** The resources the actor this process hosts holds (its calls' assignedResources). */
  private actorResources: Readonly<Record<string, number>> = {};
  /** The job of the actor this process hosts (its creator's): its calls run in it, as in Ray. */
  private actorJob = '';

  /** The group of the call running in this async context (the default one outside any call). */
  private currentGroup(): ConcurrencyGroup<Job> {
    return (this.core.taskContext.getStore() as CallContext | undefined)?.group ?? this.groups.default;
  }

  currentTaskName(): string | undefined {
    return this.core.taskContext.getStore()?.taskName ?? this.lastTaskName;
  }

  define(def: FunctionDef): void {
    this.defs.set(def.fnId, def);
  }

  execute(spec: TaskSpec, owner: number, gpuIds: number[], direct = false): void {
    if (spec.kind === TaskKind.ActorCreate) {
      this.groups.configure(spec.maxConcurrency, decodeActorOptions(spec.method).concurrencyGroups);
      this.actorResources = spec.demand;
      this.actorJob = spec.job;
      const g = this.groups.default;
      g.running++;
      this.run({ spec, owner, gpuIds, direct: false, group: g, ctx: undefined });
      return;
    }
    const name = spec.concurrencyGroup;
    const g = name === '' ? this.groups.default : this.groups.get(name);
    const job: Job = {
      spec,
      owner,
      gpuIds: gpuIds.length === 0 ? NO_GPUS : gpuIds,
      direct,
      group: g ?? this.groups.default,
      ctx: undefined,
    };
    if (g === undefined) {
      // A handle that did not know the actor's groups (getActor) named one it lacks: the
      // caller gets the InvalidArgumentError itself (not a TaskError: no method ran).
      const err = unknownGroup(name, this.groups.names(), spec.name);
      this.reply(job, DoneStatus.Error, [
        { kind: ReturnKind.Inline, payload: encodeErrorRecord(errorRecord(err)) },
      ]);
      return;
    }
    g.queue.push(job);
    this.pump(g);
  }

  cancelQueued(taskId: Buffer): void {
    const job = this.groups.remove((j) => j.spec.taskId.equals(taskId));
    if (job) this.reply(job, DoneStatus.Cancelled, []);
  }

  /**
   * A caller cancels a direct call (direct/actor-links.ts): dropped if it has not started;
   * answered either way, since only this process knows whether it had.
   */
  cancelDirect(taskKey: string, caller: number, numReturns: number, name: string, recursive: boolean): void {
    const job = this.groups.remove((j) => j.direct && j.owner === caller && specKey(j.spec) === taskKey);
    if (!job) {
      // Running: a generator stops at its next step (its items so far stay valid), and a
      // recursive cancel reaches the tasks the call submitted.
      this.generators.get(taskKey)?.control(STREAM_STOP);
      if (recursive) this.core.cancelChildren(taskKey, false);
    }
    const err = new TaskCancelledError(
      job
        ? `task ${name} was cancelled before it ran`
        : `task ${name} was cancelled while running; its result will be discarded`,
    );
    const payload = encodeErrorRecord(errorRecord(err));
    this.replyDirect(caller, taskKey, numReturns, DoneStatus.Cancelled, [
      { kind: ReturnKind.Inline, payload },
    ]);
  }

  /** Calls fn once nothing is queued or running (an actor asked to exit when idle). */
  onIdle(fn: () => void): void {
    if (this.groups.queued() === 0 && this.groups.running() === 0) fn();
    else this.whenIdle = fn;
  }

  /**
   * exitActor() inside this actor: nothing more starts, and once the calls running now have
   * ended (and their results are sent), `exited` is called (it tells the node, which stops
   * this process; calls still queued then fail with ActorDiedError there and at their callers).
   */
  exitActor(exited: (actorId: Buffer) => void): void {
    if (!this.actor && this.core.taskContext.getStore()?.actorId === undefined) {
      throw new NotInActorError(
        'exitActor() was called outside an actor: call it inside an actor method (or constructor) ' +
          'to end that actor; a task or the driver has no actor to end',
      );
    }
    if (this.exiting) return;
    const id = this.actor
      ? Buffer.from(this.actor.id, 'hex')
      : (this.core.taskContext.getStore()?.actorId as Buffer);
    this.exiting = true;
    this.exited = () => exited(id);
    // Inside a running call, that call ends first (finish() checks again); called from a
    // timer or callback between calls, nothing runs: exit now (after this turn).
    if (this.groups.running() === 0) queueMicrotask(() => this.exitIfIdle());
  }

  private exitIfIdle(): void {
    if (!this.exited || this.groups.running() !== 0) return;
    const exited = this.exited;
    this.exited = undefined;
    exited();
  }

  private readonly startJob = (job: Job): void => this.run(job);

  private pump(g: ConcurrencyGroup<Job>): void {
    if (this.exiting) return;
    this.groups.pump(g, this.startJob);
  }

  /** The function or class, or a promise while it loads the first time. */
  private fn(fnId: string): unknown {
    if (this.ready.has(fnId)) return this.ready.get(fnId);
    let p = this.loaded.get(fnId);
    if (!p) {
      const def = this.defs.get(fnId);
      if (!def) return Promise.reject(new Error(`function ${fnId} was never defined on this worker`));
      p = loadFunction(def).then((f) => {
        this.ready.set(fnId, f);
        return f;
      });
      this.loaded.set(fnId, p);
    }
    return p;
  }

  /** The arguments, or a promise when one must first be read from the store. */
  private args(spec: TaskSpec): unknown[] | Promise<unknown[]> {
    const wire = decodeArgs(spec.args);
    const out: unknown[] = new Array(wire.length);
    let pending: Promise<void>[] | undefined;
    for (let i = 0; i < wire.length; i++) {
      const a = wire[i];
      if (a === undefined) continue;
      if (a.kind === ArgKind.Value) out[i] = deserialize(a.payload);
      else {
        pending ??= [];
        pending.push(
          this.core.readArg(a.id).then((v) => {
            out[i] = v;
          }),
        );
      }
    }
    return pending ? Promise.all(pending).then(() => out) : out;
  }

  // A job runs synchronously when it can: function loaded, arguments inline, a
  // result that is not a promise. Then its reply is sent in the same turn it
  // arrived, with no promise in between (the short-task hot path).
  private run(job: Job): void {
    const spec = job.spec;
    this.lastTaskName = spec.name;
    const actorCall = spec.kind === TaskKind.ActorCall;
    const ctx = new CallContext(
      spec,
      job.gpuIds,
      actorCall ? this.actorResources : spec.demand,
      job.group,
      actorCall ? this.actorJob : spec.job,
    );
    job.ctx = ctx;
    if (job.gpuIds.length > 0) process.env.CUDA_VISIBLE_DEVICES = job.gpuIds.join(',');
    // A plain call's stream field is empty; a streaming one's says so (protocol/streaming.ts).
    if (spec.stream !== '') {
      this.runGenerator(job, ctx);
      return;
    }
    let result: unknown;
    try {
      result = this.core.taskContext.run(ctx, () => this.start(spec));
    } catch (err) {
      this.fail(job, err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (v) => this.succeed(job, v),
        (err) => this.fail(job, err),
      );
    } else {
      this.succeed(job, result);
    }
  }

  /**
   * A streaming task or actor call: each value its generator yields is reported to the
   * owner at once (Msg.GeneratorItem by the node manager, or for a direct actor call
   * straight to its caller, ahead of the answer that ends it); its own return is the
   * number of values.
   */
  private runGenerator(job: Job, ctx: CallContext): void {
    const spec = job.spec;
    const key = specKey(spec);
    const run = new GeneratorRun(backpressureOf(spec.stream));
    this.generators.set(key, run);
    const emit = (index: number, value: unknown) => {
      const ret = this.encodeReturns(spec, [value], index + 1)[0] as TaskReturn;
      const id = IdGenerator.returnId(spec.taskId, index + 1, RESULT_ID);
      if (job.direct) this.sendDirectItem(job.owner, id, ret.kind, ret.payload);
      else this.out.sendWith((w) => writeGeneratorItem(w, this.index, id, ret.kind, ret.payload));
    };
    const done = this.core.taskContext.run(ctx, () => {
      let returned: unknown;
      try {
        returned = this.start(spec);
      } catch (err) {
        return Promise.reject(err);
      }
      return driveGenerator(returned, run, spec.name, emit);
    });
    done.then(
      (count) => {
        this.generators.delete(key);
        this.succeed(job, count);
      },
      (err) => {
        this.generators.delete(key);
        this.fail(job, err);
      },
    );
  }

  /** The owner's StreamControl for a generator running here (consumed count, or stop). */
  streamControl(taskKey: string, consumed: number): void {
    this.generators.get(taskKey)?.control(consumed);
  }

  private start(spec: TaskSpec): unknown {
    const target = spec.kind === TaskKind.ActorCall ? undefined : this.fn(spec.fnId);
    const args = this.args(spec);
    if (isThenable(target) || isThenable(args)) {
      return Promise.all([target, args]).then(([t, a]) => this.invoke(spec, t, a as unknown[]));
    }
    return this.invoke(spec, target, args as unknown[]);
  }

  private invoke(spec: TaskSpec, target: unknown, args: unknown[]): unknown {
    switch (spec.kind) {
      case TaskKind.Task:
        return (target as (...a: unknown[]) => unknown)(...args);
      case TaskKind.ActorCreate: {
        const instance = new (target as new (...a: unknown[]) => ActorInstance)(...args);
        this.actor = { id: spec.actorId.toString('hex'), instance };
        return undefined;
      }
      case TaskKind.ActorCall: {
        if (this.actorDead) throw this.actorDead;
        const inst = this.actor?.instance;
        const method = inst?.[spec.method];
        if (typeof method !== 'function') {
          throw new InvalidArgumentError(
            `actor ${(inst?.constructor as Function | undefined)?.name ?? ''} has no method '${spec.method}'`,
          );
        }
        return method.apply(inst, args);
      }
      default:
        throw new Error(`unknown task kind ${spec.kind}`);
    }
  }

  private succeed(job: Job, value: unknown): void {
    const spec = job.spec;
    let returns: TaskReturn[];
    try {
      returns = spec.kind === TaskKind.ActorCreate ? [] : this.returns(spec, value);
    } catch (err) {
      this.fail(job, generatorReturned(spec, value) ?? err);
      return;
    }
    this.reply(job, DoneStatus.Ok, returns);
    this.finish(job);
  }

  private fail(job: Job, err: unknown): void {
    const spec = job.spec;
    if (spec.kind === TaskKind.ActorCreate)
      this.actorDead = new ActorDiedError('the actor constructor threw');
    this.reply(job, DoneStatus.Error, [
      { kind: ReturnKind.Inline, payload: encodeErrorRecord(thrownErrorRecord(err, spec.name)) },
    ]);
    this.finish(job);
  }

  private finish(job: Job): void {
    const ctx = job.ctx;
    if (ctx?.children !== undefined) this.core.callEnded(ctx);
    job.group.running--;
    if (this.exiting) {
      this.exitIfIdle();
      return;
    }
    this.pump(job.group);
    if (this.whenIdle && this.groups.queued() === 0 && this.groups.running() === 0) this.whenIdle();
  }

  private returns(spec: TaskSpec, result: unknown): TaskReturn[] {
    const values =
      spec.numReturns === 1
        ? [result]
        : Array.isArray(result) && result.length === spec.numReturns
          ? result
          : (() => {
              throw new InvalidArgumentError(
                `${spec.name} was declared with numReturns: ${spec.numReturns} but returned ` +
                  `${Array.isArray(result) ? `an array of ${result.length}` : 'a non-array'}; return an array of that length`,
              );
            })();
    return this.encodeReturns(spec, values, 0);
  }

  /** Encodes values as returns first, first + 1, ... of spec's task (inline, or into the store). */
  private encodeReturns(spec: TaskSpec, values: unknown[], first: number): TaskReturn[] {
    return values.map((v, j) => {
      const i = first + j;
      const enc = encode(v);
      if (enc.refs.length > 0) this.returnedRefs = true;
      this.core.markEscaped(enc.refs);
      // Refs inside a return value live as long as that value (its owner frees it later).
      if (enc.refs.length > 0) this.core.addContained(IdGenerator.returnId(spec.taskId, i), enc.refs);
      if (enc.size <= INLINE_LIMIT) return { kind: ReturnKind.Inline, payload: encodeToBuffer(enc) };
      // Large results are written once, straight into the store, under their final id.
      const id = ObjectId.fromBytes(IdGenerator.returnId(spec.taskId, i));
      if (!this.core.store.contains(id)) {
        const view = this.core.store.create(id, enc.size);
        writeEncoded(enc, view);
        this.core.store.seal(id);
      }
      return { kind: ReturnKind.InStore, payload: Buffer.alloc(0) };
    });
  }

  private reply(job: Job, status: DoneStatus, returns: TaskReturn[]): void {
    const spec = job.spec;
    if (job.direct) this.replyDirect(job.owner, specKey(spec), spec.numReturns, status, returns);
    else {
      this.returnedRefs = false; // (the node manager's way keeps the order anyway)
      this.out.sendWith((w) => writeDone(w, this.index, spec.taskId, status, returns));
    }
  }

  /**
   * Results of a direct call, one frame per return (a failure fails them all), into the
   * caller's inbox. When this process has sent ownership ops since the last such answer (a
   * borrowed argument, refs in the value), they travel by the node manager instead: the ops
   * go that way, and the owner must see them before the result (ownership/ref-ops.ts).
   */
  private replyDirect(
    caller: number,
    taskKey: string,
    numReturns: number,
    status: DoneStatus,
    returns: TaskReturn[],
  ): void {
    const peer = this.directPeer(caller);
    for (let i = 0; i < numReturns; i++) {
      const ret = returnOf(status, returns, i);
      const id = IdGenerator.returnIdOfKey(taskKey, i, RESULT_ID);
      this.writeDirect(peer, caller, id, status, ret?.kind ?? ReturnKind.Inline, ret?.payload ?? EMPTY);
    }
  }

  /** One item a direct call's generator yielded, to its caller (one answer of its own: see replyDirect). */
  private sendDirectItem(caller: number, id: Buffer, kind: ReturnKind, payload: Buffer): void {
    this.writeDirect(this.directPeer(caller), caller, id, DoneStatus.Ok, kind, payload);
  }

  /** The caller's inbox for the next answer, or undefined when it must go by the node manager. */
  private directPeer(caller: number): ChannelWriter | undefined {
    const ops = this.refOps?.refOpsSent ?? 0;
    const peer = ops === this.refOpsSeen && !this.returnedRefs ? this.peers?.writerOf(caller) : undefined;
    this.refOpsSeen = ops;
    this.returnedRefs = false;
    return peer;
  }

  private writeDirect(
    peer: ChannelWriter | undefined,
    caller: number,
    id: Buffer,
    status: DoneStatus,
    kind: ReturnKind,
    payload: Buffer,
  ): void {
    if (peer) peer.sendWith((w) => writeDirectResult(w, this.index, id, status, kind, payload));
    else
      this.out.sendWith((w) => {
        w.u8(Msg.RelayResult).u32(caller);
        writeDirectResult(w, this.index, id, status, kind, payload);
      });
  }
}

const EMPTY = Buffer.alloc(0);

/** What getRuntimeContext() and log prefixes read while a call runs; its task id only if asked. */
class CallContext implements TaskContext {
  children: string[] | undefined = undefined;
  cancelled: { force: boolean } | undefined = undefined;
  constructor(
    private readonly spec: TaskSpec,
    readonly gpuIds: number[],
    readonly assignedResources: Readonly<Record<string, number>>,
    /** The concurrency group the call runs in (its waits in get() free a place in it). */
    readonly group: ConcurrencyGroup<Job>,
    readonly job: string,
  ) {}
  get taskId(): Buffer {
    return this.spec.taskId;
  }
  get taskName(): string {
    return this.spec.name;
  }
  get taskKey(): string {
    return specKey(this.spec);
  }
  get actorId(): Buffer | undefined {
    return this.spec.kind === TaskKind.Task ? undefined : this.spec.actorId;
  }
}

function unknownGroup(name: string, declared: string[], call: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `${call} was called in concurrency group '${name}', which its actor does not declare ` +
      `(${declared.length > 0 ? `it has ${declared.map((n) => `'${n}'`).join(', ')}` : 'it declares none'}): ` +
      "use one of the names given in the actor's concurrencyGroups option, or none for the default group",
  );
}

/**
 * The error for a generator returned as a value (it cannot cross processes): a generator
 * method called from a handle that did not know it was one (a worker's getIfExists handle),
 * or a function that returns a generator object without being a generator function.
 */
function generatorReturned(spec: TaskSpec, value: unknown): Error | undefined {
  const tag = Object.prototype.toString.call(value);
  if (tag !== '[object Generator]' && tag !== '[object AsyncGenerator]') return undefined;
  return new InvalidArgumentError(
    `${spec.name} returned a generator, which cannot be sent back as a value: call it with ` +
      ".options({ numReturns: 'streaming' }) to stream what it yields (a handle a worker got " +
      'with getIfExists does not know which methods are generators)',
  );
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}
