// Fakes for unit tests of the core worker's parts (lib/worker/): a store kept
// in a Map, and a backend that records what the core worker sends and, when
// asked, "runs" submitted tasks in-process and hands their results back the
// way the node manager would (onTaskReturn). No processes, no shared memory.

import { IdGenerator } from '../../lib/base/ids.js';
import { deserialize, serialize } from '../../lib/base/serialization.js';
import { type DecodedRefOp, decodeRefOps } from '../../lib/protocol/ref-ops.js';
import {
  ArgKind,
  decodeArgs,
  type FunctionDef,
  type SpecBase,
  TaskKind,
  type TaskSpec,
  ZERO_ACTOR,
} from '../../lib/protocol/spec.js';
import type { TaskRecord } from '../../lib/protocol/task-events.js';
import { DoneStatus, ReturnKind } from '../../lib/protocol/worker-messages.js';
import { type ObjectBuffer, ObjectId, type ObjectInfo } from '../../lib/store/index.js';
import type { Backend, NodeRequests } from '../../lib/worker/backend.js';
import type { CoreWorker } from '../../lib/worker/core-worker.js';
import type { OwnerStore } from '../../lib/worker/reference-table.js';

interface FakeObject {
  data: Buffer;
  metadata: Buffer;
  sealed: boolean;
}

/** The object store as a Map: create/seal/get/delete as the real one does them, minus shared memory. */
export class FakeStore implements OwnerStore {
  readonly objects = new Map<string, FakeObject>();
  readonly deleted: string[] = [];

  create(id: ObjectId, dataSize: number, opts?: { metadata?: Uint8Array }): Buffer {
    if (this.objects.has(id.hex())) throw new Error(`object ${id.hex()} exists`);
    const data = Buffer.alloc(dataSize);
    this.objects.set(id.hex(), { data, metadata: Buffer.from(opts?.metadata ?? []), sealed: false });
    return data;
  }
  seal(id: ObjectId): void {
    const o = this.objects.get(id.hex());
    if (!o) throw new Error(`seal of a missing object ${id.hex()}`);
    o.sealed = true;
  }
  abort(id: ObjectId): void {
    this.objects.delete(id.hex());
  }
  contains(id: ObjectId): boolean {
    return this.objects.get(id.hex())?.sealed === true;
  }
  delete(id: ObjectId): void {
    if (!this.objects.delete(id.hex())) throw new Error(`delete of a missing object ${id.hex()}`);
    this.deleted.push(id.hex());
  }
  tryGet(id: ObjectId): ObjectBuffer | null {
    const o = this.objects.get(id.hex());
    if (!o?.sealed) return null;
    const pin = { release() {}, released: false };
    return { id, data: o.data, metadata: o.metadata, release() {}, released: false, pin };
  }
  whenRoom<T>(attempt: () => T | Promise<T>): Promise<T> {
    return Promise.resolve().then(attempt);
  }
  get(ids: ObjectId[]): Promise<(ObjectBuffer | null)[]> {
    return Promise.resolve(ids.map((id) => this.tryGet(id)));
  }
  list(): ObjectInfo[] {
    return [];
  }
  /** Loses an object, as a node that went away loses its copies. */
  lose(hex: string): void {
    this.objects.delete(hex);
  }
  has(hex: string): boolean {
    return this.objects.get(hex)?.sealed === true;
  }
}

/** A task function of the fake node: the arguments' values in, the return value out. */
export type FakeFunction = (...args: unknown[]) => unknown;

/**
 * What the core worker talks to instead of a node: it records ownership ops and
 * submissions, and with `core` set runs each submitted task on the next turn.
 */
export class FakeBackend implements Backend {
  readonly nodeId = 'fake-node';
  readonly workerId = 'fake-worker';
  readonly isDriver = true;
  readonly ops: DecodedRefOp[] = [];
  readonly submitted: TaskSpec[] = [];
  /** Functions by name (the task's FunctionDef name): set one to have its tasks run. */
  readonly functions = new Map<string, FakeFunction>();
  /** Results go into the store (as the executor does with large ones) rather than inline. */
  resultsInStore = false;
  core: CoreWorker | undefined;
  blockedNow = 0;

  constructor(private readonly store: FakeStore) {}

  /** Task events the core sent (task-event-buffer.ts). */
  readonly events: TaskRecord[] = [];

  userMetrics(): void {}

  taskEvents(events: TaskRecord[]): void {
    this.events.push(...events);
  }

  submit(spec: TaskSpec, _def: FunctionDef): void {
    this.submitted.push(spec);
    const fn = this.functions.get(spec.name);
    if (fn && this.core) setImmediate(() => this.run(spec, fn));
  }

  private run(spec: TaskSpec, fn: FakeFunction): void {
    const core = this.core;
    if (!core) return;
    const args = decodeArgs(spec.args).map((a) => {
      if (a.kind === ArgKind.Value) return deserialize(a.payload);
      const obj = this.store.tryGet(ObjectId.fromBytes(a.id));
      if (!obj) throw new Error(`fake node: argument ${a.id.toString('hex')} is not in the store`);
      return deserialize(obj.data);
    });
    const payload = serialize(fn(...args));
    const rid = IdGenerator.returnId(spec.taskId, 0);
    if (this.resultsInStore) {
      const hex = rid.toString('hex');
      this.store.objects.set(hex, { data: payload, metadata: Buffer.alloc(0), sealed: true });
      core.onTaskReturn(rid, DoneStatus.Ok, ReturnKind.InStore, Buffer.alloc(0));
    } else {
      core.onTaskReturn(rid, DoneStatus.Ok, ReturnKind.Inline, payload);
    }
  }

  refOp(op: Buffer): void {
    this.ops.push(...decodeRefOps(op));
  }
  blocked(): void {
    this.blockedNow++;
  }
  unblocked(): void {
    this.blockedNow--;
  }
  request<K extends keyof NodeRequests>(
    kind: K,
    ..._args: Parameters<NodeRequests[K]>
  ): Promise<ReturnType<NodeRequests[K]>> {
    return Promise.reject(new Error(`fake node: no request ${kind}`));
  }
}

/** A function definition and spec base for a plain task named `name`. */
export function taskOf(
  name: string,
  opts: { maxRetries?: number } = {},
): { def: FunctionDef; base: SpecBase } {
  const def: FunctionDef = {
    fnId: `fn-${name}`,
    name,
    isClass: false,
    source: '',
    moduleUrl: '',
    exportName: '',
    baseDir: '',
  };
  const base: SpecBase = {
    kind: TaskKind.Task,
    fnId: def.fnId,
    name,
    numReturns: 1,
    demand: { CPU: 1 },
    maxRetries: opts.maxRetries ?? 3,
    retryExceptions: false,
    actorId: ZERO_ACTOR,
    concurrencyGroup: '',
    method: '',
    maxConcurrency: 1,
    strategy: '',
    retryOn: '',
    stream: '',
    runtimeEnv: '',
  };
  return { def, base };
}
