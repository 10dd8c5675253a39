// Runs tasks and actor calls in a worker. A task worker runs one task at a
// time; when that task waits in get()/wait() (its CPU lent back), the next
// one may start, so nested tasks never deadlock. An actor runs up to
// maxConcurrency calls at once (1 by default for a class without async methods:
// calls run in arrival order), and up to each named concurrency group's limit in
// that group (concurrency-groups.ts). Calls that came straight from a caller
// (direct/) are answered straight back. An actor that called exitActor() starts
// nothing more: once its running calls end it tells its node, which stops it. A shared
// host runs many actors (hosted-actor.ts), each with its own groups, and drops one when
// its node says (Msg.DropActor) while the others run on.

import { ActorDiedError, InvalidArgumentError, NotInActorError, TaskCancelledError } from '../base/errors.js';
import { IdGenerator, OBJECT_ID_SIZE } from '../base/ids.js';
import { deserialize } from '../base/serialization.js';
import { decodeActorOptions } from '../protocol/actor-options.js';
import type { ChannelWriter } from '../protocol/channel.js';
import { encodeErrorRecord, errorRecord, thrownErrorRecord } from '../protocol/error-record.js';
import { type GroupStrategy, groupStrategyOf } from '../protocol/placement-group.js';
import { ArgKind, decodeArgs, type FunctionDef, specKey, TaskKind, type TaskSpec } from '../protocol/spec.js';
import { backpressureOf, STREAM_STOP, writeGeneratorItem } from '../protocol/streaming.js';
import { eventTime } from '../protocol/task-events.js';
import {
  DoneStatus,
  Msg,
  ReturnKind,
  returnOf,
  type TaskReturn,
  writeDirectResult,
  writeDone,
} from '../protocol/worker-messages.js';
import { ConcurrencyGroup, ConcurrencyGroups, unknownGroup } from './concurrency-groups.js';
import type { CoreWorker, TaskContext } from './core-worker.js';
import type { CallerPeers } from './direct/caller-peers.js';
import { loadFunction } from './function-loader.js';
import { driveGenerator, GeneratorRun, generatorReturned } from './generator-runner.js';
import { type ActorInstance, HostedActor, HostedActors } from './hosted-actor.js';
import { encodeReturns, returnValues } from './task-returns.js';

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
  /** The actor it is a call (or the constructor) of; undefined for a task. */
  actor: HostedActor<Job> | undefined;
  /** When it started running (ms since the epoch, task-events.ts); 0 until it does. */
  startedAt: number;
}

/** How many ownership ops this process has sent so far (WorkerBackend counts them). */
export interface RefOpCounter {
  readonly refOpsSent: number;
}

const NO_GPUS: number[] = [];
const RESULT_ID = Buffer.alloc(OBJECT_ID_SIZE); // scratch: copied into each frame at once

export class Executor {
  private readonly defs = new Map<string, FunctionDef>();
  private readonly loaded = new Map<string, Promise<unknown>>();
  private readonly ready = new Map<string, unknown>();
  /** The tasks' group (a task worker runs one at a time, more while one waits in get()). */
  private readonly groups = new ConcurrencyGroups<Job>(1);
  /** The actor this process hosts (or the shared actors of a host). */
  private readonly actors = new HostedActors<Job>();
  private lastTaskName: string | undefined;
  /** Set by returns() when a value held refs: its result then goes by the node manager (relay). */
  private returnedRefs = false;
  /** refOpsSent when a direct result last went out. */
  private refOpsSeen = 0;
  private whenIdle: (() => void) | undefined;
  /** Streaming generator tasks running here, by task key (generator-runner.ts), and their actor. */
  private readonly generators = new Map<string, { run: GeneratorRun; actor: HostedActor<Job> | undefined }>();

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
      const ctx = this.core.taskContext.getStore() as CallContext | undefined;
      const g = ctx?.group ?? this.groups.default;
      g.blocked++;
      blocked();
      this.pump(g, ctx?.actor);
      return g;
    };
    backend.unblocked = (token?: unknown) => {
      (token instanceof ConcurrencyGroup ? token : this.groups.default).blocked--;
      unblocked();
    };
  }

  currentTaskName(): string | undefined {
    return this.core.taskContext.getStore()?.taskName ?? this.lastTaskName;
  }

  define(def: FunctionDef): void {
    this.defs.set(def.fnId, def);
  }

  execute(spec: TaskSpec, owner: number, gpuIds: number[], direct = false): void {
    if (spec.kind === TaskKind.ActorCreate) {
      this.create(spec, owner, gpuIds);
      return;
    }
    const actor = spec.kind === TaskKind.ActorCall ? this.actors.of(spec.actorId) : undefined;
    const groups = actor?.groups ?? this.groups;
    const name = spec.concurrencyGroup;
    const g = name === '' ? groups.default : groups.get(name);
    const job: Job = {
      spec,
      owner,
      gpuIds: gpuIds.length === 0 ? NO_GPUS : gpuIds,
      direct,
      group: g ?? groups.default,
      ctx: undefined,
      actor,
      startedAt: 0,
    };
    if (actor === undefined && spec.kind === TaskKind.ActorCall) {
      // A shared actor dropped here (its node fails or retries its calls; this answers a late one).
      this.refuse(job, new ActorDiedError(`the actor of ${spec.name} is no longer hosted in this process`));
      return;
    }
    if (g === undefined) {
      // A handle that did not know the actor's groups (getActor) named one it lacks: the
      // caller gets the InvalidArgumentError itself (not a TaskError: no method ran).
      this.refuse(job, unknownGroup(name, groups.names(), spec.name));
      return;
    }
    g.queue.push(job);
    this.pump(g, actor);
  }

  /** Answers a call that cannot run with err itself (not a TaskError: no method ran). */
  private refuse(job: Job, err: Error): void {
    this.reply(job, DoneStatus.Error, [
      { kind: ReturnKind.Inline, payload: encodeErrorRecord(errorRecord(err)) },
    ]);
  }

  /** An ActorCreate: the actor is hosted here from now on (the only one, or one of a shared host's). */
  private create(spec: TaskSpec, owner: number, gpuIds: number[]): void {
    const o = decodeActorOptions(spec.method);
    const actor = new HostedActor<Job>(
      Buffer.from(spec.actorId),
      o.isolation === 'shared',
      spec.demand,
      spec.job,
      spec.strategy,
    );
    actor.groups.configure(spec.maxConcurrency, o.concurrencyGroups);
    this.actors.add(actor);
    const g = actor.groups.default;
    g.running++;
    this.run({ spec, owner, gpuIds, direct: false, group: g, ctx: undefined, actor, startedAt: 0 });
  }

  /**
   * Msg.DropActor: a shared actor's node ended it (killed, released, exited, or restarting
   * elsewhere). Its queued calls go, what it runs answers no one, its generators stop; the
   * other actors of this host run on.
   */
  dropActor(actorId: Buffer): void {
    const actor = this.actors.drop(actorId);
    if (!actor) return;
    for (const g of this.generators.values()) if (g.actor === actor) g.run.control(STREAM_STOP);
  }

  /** The first queued job that matches, taken out of whichever actor's (or the tasks') queue holds it. */
  private removeQueued(match: (j: Job) => boolean): Job | undefined {
    return this.groups.remove(match) ?? this.actors.removeQueued(match);
  }

  cancelQueued(taskId: Buffer): void {
    const job = this.removeQueued((j) => j.spec.taskId.equals(taskId));
    if (job) this.reply(job, DoneStatus.Cancelled, []);
  }

  /**
   * A caller cancels a direct call (direct/actor-links.ts): dropped if it has not started;
   * answered either way, since only this process knows whether it had.
   */
  cancelDirect(taskKey: string, caller: number, numReturns: number, name: string, recursive: boolean): void {
    const job = this.removeQueued((j) => j.direct && j.owner === caller && specKey(j.spec) === taskKey);
    if (!job) {
      // Running: a generator stops at its next step (its items so far stay valid), and a
      // recursive cancel reaches the tasks the call submitted.
      this.generators.get(taskKey)?.run.control(STREAM_STOP);
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
    if (this.idle()) fn();
    else this.whenIdle = fn;
  }

  private idle(): boolean {
    return this.groups.queued() === 0 && this.groups.running() === 0 && (this.actors.single?.idle() ?? true);
  }

  /**
   * exitActor() inside this actor: nothing more starts, and once the calls running now have
   * ended (and their results are sent), `exited` is called (it tells the node, which stops
   * this process; calls still queued then fail with ActorDiedError there and at their callers).
   */
  exitActor(exited: (actorId: Buffer) => void): void {
    const actor = (this.core.taskContext.getStore() as CallContext | undefined)?.actor ?? this.actors.single;
    if (!actor) {
      throw new NotInActorError(
        'exitActor() was called outside an actor: call it inside an actor method (or constructor) ' +
          'to end that actor; a task or the driver has no actor to end (in a shared host, only ' +
          'a call of the actor knows which one it is)',
      );
    }
    if (actor.exiting) return;
    actor.exiting = true;
    actor.exited = () => exited(actor.id);
    // Inside a running call, that call ends first (finish() checks again); called from a
    // timer or callback between calls, nothing runs: exit now (after this turn).
    if (actor.groups.running() === 0) queueMicrotask(() => this.exitIfIdle(actor));
  }

  private exitIfIdle(actor: HostedActor<Job>): void {
    if (!actor.exited || actor.groups.running() !== 0) return;
    const exited = actor.exited;
    actor.exited = undefined;
    exited();
  }

  private readonly startJob = (job: Job): void => this.run(job);

  private pump(g: ConcurrencyGroup<Job>, actor: HostedActor<Job> | undefined): void {
    if (actor?.exiting) return;
    (actor?.groups ?? this.groups).pump(g, this.startJob);
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
    // Task events only: with them off the node reads no times (0: not recorded).
    if (this.core.taskEvents.enabled) job.startedAt = eventTime();
    this.lastTaskName = spec.name;
    const actor = spec.kind === TaskKind.ActorCall ? job.actor : undefined;
    const ctx = new CallContext(
      spec,
      job.gpuIds,
      actor ? actor.resources : spec.demand,
      job.group,
      actor ? actor.job : spec.job,
      job.actor,
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
      result = this.core.taskContext.run(ctx, () => this.start(job));
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
    this.generators.set(key, { run, actor: job.actor });
    const emit = (index: number, value: unknown) => {
      if (job.actor?.dropped) return; // stopped: its node dropped the actor
      const ret = this.encodeReturns(spec, [value], index + 1)[0] as TaskReturn;
      const id = IdGenerator.returnId(spec.taskId, index + 1, RESULT_ID);
      if (job.direct) this.sendDirectItem(job.owner, id, ret.kind, ret.payload);
      else this.out.sendWith((w) => writeGeneratorItem(w, this.index, id, ret.kind, ret.payload));
    };
    const done = this.core.taskContext.run(ctx, () => {
      let returned: unknown;
      try {
        returned = this.start(job);
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
    this.generators.get(taskKey)?.run.control(consumed);
  }

  private start(job: Job): unknown {
    const spec = job.spec;
    const target = spec.kind === TaskKind.ActorCall ? undefined : this.fn(spec.fnId);
    const args = this.args(spec);
    if (isThenable(target) || isThenable(args)) {
      return Promise.all([target, args]).then(([t, a]) => this.invoke(job, t, a as unknown[]));
    }
    return this.invoke(job, target, args as unknown[]);
  }

  private invoke(job: Job, target: unknown, args: unknown[]): unknown {
    const { spec, actor } = job;
    switch (spec.kind) {
      case TaskKind.Task:
        return (target as (...a: unknown[]) => unknown)(...args);
      case TaskKind.ActorCreate: {
        const instance = new (target as new (...a: unknown[]) => ActorInstance)(...args);
        if (actor && !actor.dropped) actor.instance = instance;
        return undefined;
      }
      case TaskKind.ActorCall: {
        if (actor?.dead) throw actor.dead;
        const inst = actor?.instance;
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
    const deferred: (() => void)[] = [];
    try {
      returns = spec.kind === TaskKind.ActorCreate ? [] : this.returns(spec, value, deferred);
    } catch (err) {
      this.fail(job, generatorReturned(spec, value) ?? err);
      return;
    }
    if (deferred.length === 0) {
      this.reply(job, DoneStatus.Ok, returns);
      this.finish(job);
      return;
    }
    // The store was full of pinned or unsealed objects: wait for room as get() does, then
    // write the results not written yet (docs/store.md, "Pins and views").
    this.core.store
      .whenRoom(() => {
        while (deferred.length > 0) {
          deferred[0]?.();
          deferred.shift();
        }
      })
      .then(
        () => {
          this.reply(job, DoneStatus.Ok, returns);
          this.finish(job);
        },
        (err: unknown) => this.fail(job, err),
      );
  }

  private fail(job: Job, err: unknown): void {
    const spec = job.spec;
    if (spec.kind === TaskKind.ActorCreate && job.actor)
      job.actor.dead = new ActorDiedError('the actor constructor threw');
    this.reply(job, DoneStatus.Error, [
      { kind: ReturnKind.Inline, payload: encodeErrorRecord(thrownErrorRecord(err, spec.name)) },
    ]);
    this.finish(job);
  }

  private finish(job: Job): void {
    const ctx = job.ctx;
    if (ctx?.children !== undefined) this.core.callEnded(ctx);
    job.group.running--;
    const actor = job.actor;
    if (actor?.exiting) {
      this.exitIfIdle(actor);
      return;
    }
    this.pump(job.group, actor);
    if (this.whenIdle && this.idle()) this.whenIdle();
  }

  private returns(spec: TaskSpec, result: unknown, deferred?: (() => void)[]): TaskReturn[] {
    return this.encodeReturns(spec, returnValues(spec, result), 0, deferred);
  }

  /** encodeReturns (task-returns.ts), noting when a value holds refs (see reply()). */
  private encodeReturns(
    spec: TaskSpec,
    values: unknown[],
    first: number,
    deferred?: (() => void)[],
  ): TaskReturn[] {
    const out = encodeReturns(this.core, spec, values, first, deferred);
    if (out.heldRefs) this.returnedRefs = true;
    return out.returns;
  }

  private reply(job: Job, status: DoneStatus, returns: TaskReturn[]): void {
    if (job.actor?.dropped) return;
    const spec = job.spec;
    if (job.direct) {
      const key = specKey(spec);
      this.replyDirect(job.owner, key, spec.numReturns, status, returns);
      const events = this.core.taskEvents;
      if (events.enabled) {
        const error = status === DoneStatus.Ok ? undefined : returns[0]?.payload;
        const actorId = job.actor?.id ?? spec.actorId; // the hosted actor's: one Buffer for all its calls
        events.ranDirect(key, actorId, spec.name, job.startedAt, error, job.owner);
      }
    } else {
      this.returnedRefs = false; // (the node manager's way keeps the order anyway)
      const ended = job.startedAt > 0 ? eventTime() : 0;
      this.out.sendWith((w) => writeDone(w, this.index, spec.taskId, status, returns, job.startedAt, ended));
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
    /** The actor it is a call of (undefined for a task). */
    readonly actor: HostedActor<Job> | undefined,
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
  get placementGroup(): GroupStrategy | undefined {
    return groupStrategyOf(this.actor?.strategy ?? this.spec.strategy);
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}
