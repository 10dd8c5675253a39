// Runs tasks and actor calls in a worker. A task worker runs one task at a
// time; when that task waits in get()/wait() (its CPU lent back), the next
// one may start, so nested tasks never deadlock. An actor runs up to
// maxConcurrency calls at once (1 by default: calls run in arrival order).
// Calls that came straight from a caller (direct/) are answered straight back.

import { Deque } from '../base/deque.js';
import { ActorDiedError, InvalidArgumentError, TaskCancelledError } from '../base/errors.js';
import { IdGenerator, OBJECT_ID_SIZE } from '../base/ids.js';
import { deserialize, encode, encodeToBuffer, writeEncoded } from '../base/serialization.js';
import type { ChannelWriter } from '../protocol/channel.js';
import { encodeErrorRecord, errorRecord, thrownErrorRecord } from '../protocol/error-record.js';
import { ArgKind, decodeArgs, type FunctionDef, specKey, TaskKind, type TaskSpec } from '../protocol/spec.js';
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
import { type CoreWorker, INLINE_LIMIT, type TaskContext } from './core-worker.js';
import type { CallerPeers } from './direct/caller-peers.js';
import { loadFunction } from './function-loader.js';

interface Job {
  spec: TaskSpec;
  /** Its context while it runs (the tasks it submitted, for a recursive cancel). */
  ctx: CallContext | undefined;
  owner: number;
  gpuIds: number[];
  /** It came straight from its caller (Msg.CallDirect), not from the node manager. */
  direct: boolean;
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
  private readonly queue = new Deque<Job>();
  private running = 0;
  private blocked = 0;
  private limit = 1;
  private actor: { id: string; instance: ActorInstance } | undefined;
  private actorDead: Error | undefined;
  private lastTaskName: string | undefined;
  /** Set by returns() when a value held refs: its result then goes by the node manager (relay). */
  private returnedRefs = false;
  /** refOpsSent when a direct result last went out. */
  private refOpsSeen = 0;
  private whenIdle: (() => void) | undefined;

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
    // Count waits so a blocked task lets the next one start.
    backend.blocked = () => {
      this.blocked++;
      blocked();
      this.pump();
    };
    backend.unblocked = () => {
      this.blocked--;
      unblocked();
    };
  }

  /** The resources the actor this process hosts holds (its calls' assignedResources). */
  private actorResources: Readonly<Record<string, number>> = {};

  currentTaskName(): string | undefined {
    return this.core.taskContext.getStore()?.taskName ?? this.lastTaskName;
  }

  define(def: FunctionDef): void {
    this.defs.set(def.fnId, def);
  }

  execute(spec: TaskSpec, owner: number, gpuIds: number[], direct = false): void {
    if (spec.kind === TaskKind.ActorCreate) {
      this.limit = Math.max(1, spec.maxConcurrency);
      this.actorResources = spec.demand;
      this.run({ spec, owner, gpuIds, direct: false, ctx: undefined });
      return;
    }
    this.queue.push({ spec, owner, gpuIds: gpuIds.length === 0 ? NO_GPUS : gpuIds, direct, ctx: undefined });
    this.pump();
  }

  cancelQueued(taskId: Buffer): void {
    const job = this.queue.remove((j) => j.spec.taskId.equals(taskId));
    if (job) this.reply(job, DoneStatus.Cancelled, []);
  }

  /**
   * A caller cancels a direct call (direct/actor-links.ts): dropped if it has not started;
   * answered either way, since only this process knows whether it had.
   */
  cancelDirect(taskKey: string, caller: number, numReturns: number, name: string): void {
    const job = this.queue.remove((j) => j.direct && j.owner === caller && specKey(j.spec) === taskKey);
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
    if (this.queue.length === 0 && this.running === 0) fn();
    else this.whenIdle = fn;
  }

  private pumping = false;

  private pump(): void {
    // Jobs that finish synchronously call pump() again from inside run(): the
    // outer loop picks up their successors instead, so the stack stays flat.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.running - this.blocked < this.limit) {
        const job = this.queue.shift();
        if (job === undefined) break;
        this.run(job);
      }
    } finally {
      this.pumping = false;
    }
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
    this.running++;
    this.lastTaskName = spec.name;
    const ctx = new CallContext(
      spec,
      job.gpuIds,
      spec.kind === TaskKind.ActorCall ? this.actorResources : spec.demand,
    );
    job.ctx = ctx;
    if (job.gpuIds.length > 0) process.env.CUDA_VISIBLE_DEVICES = job.gpuIds.join(',');
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
      this.fail(job, err);
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
    this.running--;
    this.pump();
    if (this.whenIdle && this.queue.length === 0 && this.running === 0) this.whenIdle();
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
    return values.map((v, i) => {
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
    const ops = this.refOps?.refOpsSent ?? 0;
    const peer = ops === this.refOpsSeen && !this.returnedRefs ? this.peers?.writerOf(caller) : undefined;
    this.refOpsSeen = ops;
    this.returnedRefs = false;
    for (let i = 0; i < numReturns; i++) {
      const ret = returnOf(status, returns, i);
      const kind = ret?.kind ?? ReturnKind.Inline;
      const payload = ret?.payload ?? EMPTY;
      const id = IdGenerator.returnIdOfKey(taskKey, i, RESULT_ID);
      if (peer) peer.sendWith((w) => writeDirectResult(w, this.index, id, status, kind, payload));
      else
        this.out.sendWith((w) => {
          w.u8(Msg.RelayResult).u32(caller);
          writeDirectResult(w, this.index, id, status, kind, payload);
        });
    }
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

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}
