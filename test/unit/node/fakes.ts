// Fakes for the unit tests of the node's parts (as Ray's C++ tests fake the worker pool's
// processes): workers that record the frames they are sent and exit when told, a spawner
// that makes them, a resource pool that counts, and owners that record what reaches them.
// No process, ring or addon call is made: the parts run as they do in the node manager.

import { Reader, Writer } from '../../../lib/base/codec.js';
import { IdGenerator } from '../../../lib/base/ids.js';
import type { ClusterHooks, FetchOutcome, NamedActor } from '../../../lib/node/cluster-hooks.js';
import type { OwnerKind, ResultSink } from '../../../lib/node/owner-router.js';
import type { Grant, ResourcePool } from '../../../lib/node/resource-pool.js';
import { TaskEventRecorder, type TaskRowsAnswer } from '../../../lib/node/task-events.js';
import { newTask, type TaskEntry, TaskTable } from '../../../lib/node/task-table.js';
import type { WorkerSpawner } from '../../../lib/node/worker-pool.js';
import { WorkerSlot } from '../../../lib/node/worker-slot.js';
import {
  type ActorCreateOptions,
  DEFAULT_ACTORS_PER_PROCESS,
  encodeActorOptions,
} from '../../../lib/protocol/actor-options.js';
import type { Demand } from '../../../lib/protocol/resources.js';
import { readSpec, specKey, TaskKind, type TaskSpec, ZERO_ACTOR } from '../../../lib/protocol/spec.js';
import { type DoneStatus, Msg, type ReturnKind } from '../../../lib/protocol/worker-messages.js';

/** A worker with no process: it keeps the Execute frames it is sent (decoded) and exits on demand. */
export class FakeWorker extends WorkerSlot {
  /** Specs of the Execute frames it was sent, in order. */
  readonly executed: TaskSpec[] = [];
  /** Every frame it was sent, in order. */
  readonly frames: Buffer[] = [];
  /** Their types. */
  readonly frameTypes: number[] = [];
  stopCalls = 0;
  killed = false;
  private readonly exitFns: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];

  /** The names of the tasks it was sent, in order. */
  names(): string[] {
    return this.executed.map((s) => s.name);
  }

  send(frame: Buffer): void {
    this.record(frame);
  }

  sendWith(fill: (w: Writer) => void): void {
    const w = new Writer(256);
    fill(w);
    this.record(Buffer.from(w.finish()));
  }

  private record(frame: Buffer): void {
    const r = new Reader(frame);
    const type = r.u8();
    this.frames.push(Buffer.from(frame));
    this.frameTypes.push(type);
    if (type === Msg.Execute) this.executed.push(readSpec(r));
  }

  get pid(): number {
    return 10_000 + this.index;
  }

  stop(): Promise<void> {
    this.stopWasRequested = true;
    this.stopCalls++;
    return Promise.resolve();
  }

  kill(): void {
    this.stopWasRequested = true;
    this.killed = true;
  }

  setRef(): void {}

  onExit(fn: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.exitFns.push(fn);
  }

  closeFds(): void {}

  stderrTail(): string {
    return 'fake stderr\n';
  }

  drainStderrSync(): void {}

  recoverInbox(): void {}

  /** Its process ends. */
  exit(code: number | null = 1, signal: NodeJS.Signals | null = null): void {
    this.hasExited = true;
    for (const fn of this.exitFns) fn(code, signal);
  }
}

/** Makes FakeWorkers and keeps them in order of their start. */
export class FakeSpawner implements WorkerSpawner<FakeWorker> {
  readonly spawned: FakeWorker[] = [];

  spawn(index: number): FakeWorker {
    const w = new FakeWorker(index, `owner${index}`.padEnd(32, '0'));
    this.spawned.push(w);
    return w;
  }

  command(): readonly string[] {
    return ['node', 'worker.js'];
  }
}

/** A resource pool that counts amounts, as the native one does (GPUs get device ids). */
export class FakeResources implements ResourcePool {
  private readonly free: Record<string, number>;
  private readonly held = new Map<Grant, Demand>();
  private nextGpu = 0;

  constructor(private readonly totals: Record<string, number>) {
    this.free = { ...totals };
  }

  tryAcquire(d: Demand): Grant | null {
    for (const [k, v] of Object.entries(d)) if (v > 0 && (this.free[k] ?? 0) < v - 1e-9) return null;
    for (const [k, v] of Object.entries(d)) this.free[k] = (this.free[k] ?? 0) - v;
    const grant: Grant = d.GPU ? { gpuIds: [this.nextGpu++] } : {};
    this.held.set(grant, d);
    return grant;
  }

  release(g: Grant): void {
    const d = this.held.get(g);
    if (!d) throw new Error('released a grant twice, or one never given');
    this.held.delete(g);
    for (const [k, v] of Object.entries(d)) this.free[k] = (this.free[k] ?? 0) + v;
  }

  available(): Record<string, number> {
    return { ...this.free };
  }

  total(): Record<string, number> {
    return { ...this.totals };
  }

  feasible(d: Demand): boolean {
    for (const [k, v] of Object.entries(d)) if (v > 0 && (this.totals[k] ?? 0) < v) return false;
    return true;
  }
}

/** An owner that records what reaches it. */
export class FakeOwner implements ResultSink {
  readonly returns: Array<{ taskKey: string; index: number; status: DoneStatus; kind: ReturnKind }> = [];
  readonly failures: Array<{ name: string; err: Error }> = [];
  readonly diedOwners: string[] = [];

  constructor(
    readonly kind: OwnerKind = 'driver',
    readonly workerIndex = -1,
  ) {}

  returned(taskKey: string, index: number, status: DoneStatus, kind: ReturnKind): void {
    this.returns.push({ taskKey, index, status, kind });
  }

  deliver(): void {}

  failed(spec: TaskSpec, err: Error): void {
    this.failures.push({ name: spec.name, err });
  }

  ownerDied(ownerHex: string): void {
    this.diedOwners.push(ownerHex);
  }

  /** The error the task named `name` failed with. */
  failureOf(name: string): Error | undefined {
    return this.failures.find((f) => f.name === name)?.err;
  }
}

const ids = new IdGenerator(Buffer.alloc(16, 7));

/** A task's spec: `name` asking for `demand`. */
export function taskSpec(name: string, demand: Demand = { CPU: 1 }, more: Partial<TaskSpec> = {}): TaskSpec {
  return {
    kind: TaskKind.Task,
    taskId: Buffer.from(ids.nextTaskKey(), 'latin1'),
    fnId: 'f',
    name,
    numReturns: 1,
    args: Buffer.alloc(0),
    demand,
    maxRetries: 0,
    retryExceptions: false,
    actorId: ZERO_ACTOR,
    method: '',
    maxConcurrency: 1,
    strategy: '',
    retryOn: '',
    concurrencyGroup: '',
    stream: '',
    job: '',
    runtimeEnv: '',
    ...more,
  };
}

/** An actor's creation spec, with its options. */
export function actorCreateSpec(
  actorId: Buffer,
  o: Partial<ActorCreateOptions> = {},
  demand: Demand = {},
): TaskSpec {
  const opts: ActorCreateOptions = {
    namespace: 'default',
    getIfExists: false,
    detached: false,
    maxRestarts: 0,
    maxTaskRetries: 0,
    methods: ['m'],
    className: 'Counter',
    explicitResources: Object.keys(demand).length > 0,
    isolation: 'process',
    actorsPerProcess: DEFAULT_ACTORS_PER_PROCESS,
    ...o,
  } as ActorCreateOptions;
  return taskSpec('Counter.constructor', demand, {
    kind: TaskKind.ActorCreate,
    actorId,
    method: encodeActorOptions(opts),
  });
}

/** A call of `method` on the actor `actorId`. */
export function actorCallSpec(actorId: Buffer, name: string): TaskSpec {
  return taskSpec(name, {}, { kind: TaskKind.ActorCall, actorId, fnId: '', method: 'm' });
}

/** The node's entry for a spec. */
export function entry<W extends WorkerSlot>(
  spec: TaskSpec,
  owner: ResultSink,
  retriesLeft = spec.maxRetries,
): TaskEntry<W> {
  return newTask<W>(spec, specKey(spec), owner, retriesLeft);
}

/** A cluster that records what the node hands it (results, ref ops, dead owners) and knows no other node. */
export class FakeCluster implements ClusterHooks {
  readonly results: Array<{ objectId: Buffer; status: DoneStatus; kind: ReturnKind }> = [];
  readonly refOps: Array<{ ops: Buffer; sender: ResultSink }> = [];
  readonly exitedOwners: string[] = [];
  place(): undefined {
    return undefined;
  }
  placementGroupOp(): Promise<unknown> {
    return Promise.resolve(null);
  }
  stateRows(): Promise<{ rows: unknown[]; unreachable: string[] }> {
    return Promise.resolve({ rows: [], unreachable: [] });
  }
  transfers() {
    return { objectsPulled: 0, bytesPulled: 0, chunksServed: 0, bytesServed: 0 };
  }
  sendLogs(): void {}
  readLog(): Promise<{ text: string; size: number }> {
    return Promise.resolve({ text: '', size: -1 });
  }
  requestResources(): Promise<void> {
    return Promise.resolve();
  }
  getPackage(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  putPackage(): Promise<void> {
    return Promise.resolve();
  }
  jobRows(): Promise<never[]> {
    return Promise.resolve([]);
  }
  taskRows(): Promise<TaskRowsAnswer> {
    return Promise.resolve({ rows: [], dropped: { tasks: 0, events: 0 } });
  }
  forward(): void {}
  routeActorCall(): boolean {
    return false;
  }
  sendResult(objectId: Buffer, status: DoneStatus, kind: ReturnKind): void {
    this.results.push({ objectId: Buffer.from(objectId), status, kind });
  }
  fetch(): Promise<FetchOutcome> {
    return Promise.resolve('lost');
  }
  cancel(): boolean {
    return false;
  }
  streamConsumed(): boolean {
    return false;
  }
  readonly events: Array<{ ownerTaskIds: readonly Uint8Array[]; name: string; payload: unknown }> = [];
  sendEvent(ownerTaskIds: readonly Uint8Array[], name: string, payload: unknown): void {
    this.events.push({ ownerTaskIds, name, payload });
  }
  killActor(): boolean {
    return false;
  }
  actorHere(): void {}
  claimName(): Promise<NamedActor | undefined> {
    return Promise.resolve(undefined);
  }
  nameGone(): void {}
  releaseActor(): boolean {
    return false;
  }
  /** Named actors other nodes host. */
  readonly named = new Map<string, NamedActor>();
  lookupNamed(name: string, namespace: string): Promise<NamedActor | null> {
    return Promise.resolve(this.named.get(`${namespace}/${name}`) ?? null);
  }
  sendRefOps(ops: Buffer, sender: ResultSink): void {
    this.refOps.push({ ops: Buffer.from(ops), sender });
  }
  ownerExited(ownerHex: string): void {
    this.exitedOwners.push(ownerHex);
  }
  clusterResources(): Record<string, number> {
    return {};
  }
  /** The node table this fake reports (tests fill it). */
  readonly table: ReturnType<ClusterHooks['nodes']>[number][] = [];
  nodes(): ReturnType<ClusterHooks['nodes']> {
    return this.table;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A task table whose recorder (its node 'fake-node', owners' pid 4242) keeps `capacity` records. */
export function taskTable<W extends WorkerSlot>(
  idle: () => void = () => {},
  capacity = 1000,
): { tasks: TaskTable<W>; events: TaskEventRecorder } {
  const events = new TaskEventRecorder('fake-node', true, capacity, () => 4242);
  return { tasks: new TaskTable<W>(idle, events), events };
}
