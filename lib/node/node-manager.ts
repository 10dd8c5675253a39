// The node manager (Ray's "raylet"), embedded in the driver or run by `sunray start`. It
// owns the node's object store, resources and completion ring, and wires its parts:
//   worker-pool.ts         the worker processes (start, idle, reap, cap)
//   local-task-manager.ts  task queues, leases, dispatch
//   actor-manager.ts       actors: placement, calls, restarts, names
//   owner-router.ts        where results, failures and ownership ops go
//   requests.ts            answers to the processes' requests
//   channel-broker.ts      direct channels between callers and actors
// Workers reach it through one shared completion ring: onFrame hands each frame to the
// part it concerns. It reaches each worker through that worker's inbox ring.
//
// The path of a task: submit() -> LocalTaskManager.enqueue -> dispatch (a lease, a worker)
// -> Msg.Execute -> the worker runs it -> Msg.Done -> onDone -> its owner's ResultSink.

import { randomBytes } from 'node:crypto';
import { native } from '../base/addon.js';
import type { Reader } from '../base/codec.js';
import { SunrayError, type WorkerStartError } from '../base/errors.js';
import { warn } from '../base/warnings.js';
import { checkMaxWorkerProcesses } from '../protocol/channel.js';
import {
  type FunctionDef,
  NO_DEF,
  readDef,
  SpecView,
  specKey,
  TaskKind,
  type TaskSpec,
} from '../protocol/spec.js';
import { type DoneStatus, Msg, type ReturnKind } from '../protocol/worker-messages.js';
import { ObjectStore } from '../store/index.js';
import type { NodeRequests } from '../worker/backend.js';
import type { MemoryRow } from '../worker/ownership/summary.js';
import { ActorManager } from './actor-manager.js';
import { ownedFrom } from './actor-record.js';
import { ChannelBroker } from './channel-broker.js';
import type { ClusterHooks } from './cluster-hooks.js';
import { CompletionRing } from './completion-ring.js';
import { type LocalBundles, nodeGroupParts } from './local-bundles.js';
import { type HandedOver, LocalTaskManager } from './local-task-manager.js';
import { LogRouter } from './log-router.js';
import { MemoryQueries, type MemoryReport } from './memory-queries.js';
import { NodeMetrics } from './metrics.js';
import { metricsSources, observedFrames } from './metrics-sources.js';
import type { NodeManagerOptions } from './node-options.js';
import { type LoadSnapshot, loadSnapshot, type NodeStats, nodeStats } from './node-stats.js';
import { type DriverCore, EMPTY, OwnerRouter, type ResultSink } from './owner-router.js';
import type { PlacementGroups } from './placement-groups.js';
import { nodeRequestHandlers, RequestServer } from './requests.js';
import { NodeResources, type ResourcePool } from './resource-pool.js';
import { RuntimeEnvs } from './runtime-envs.js';
import { LocalState, usageRow } from './state-rows.js';
import { TaskCancels } from './task-cancel.js';
import { type DoneParts, onDone } from './task-done.js';
import { checkTaskEventsLimit, TaskEventRecorder, taskRef } from './task-events.js';
import { TaskStreams } from './task-streams.js';
import { newTask, TaskTable } from './task-table.js';
import { describeDeath, ownedElsewhere, reportWorkerExit, taskCrashError } from './worker-deaths.js';
import { WorkerPool } from './worker-pool.js';
import { WorkerProcess, workerArgv } from './worker-process.js';

/** Bytes of the node id at the start of every owner id of this node's processes. */
export const OWNER_NODE_PREFIX = 6;

export type { NodeManagerOptions, NodeStats };

type W = WorkerProcess;

/** The node (Ray's raylet): builds its parts, hands each worker frame to the part it concerns. */
export class NodeManager {
  readonly nodeId = randomBytes(16).toString('hex');
  /** The start of every owner id of this node's processes (hex): see newOwnerId. */
  readonly nodePrefix = this.nodeId.slice(0, OWNER_NODE_PREFIX * 2);
  /** The node's object store (shared memory every process of the node maps). */
  readonly store: ObjectStore;
  /** The node's resources (native/sched). */
  readonly pool: ResourcePool;
  /** Worker processes at most (NodeManagerOptions.maxWorkerProcesses). */
  readonly maxWorkers: number;
  private readonly completion: CompletionRing;
  private readonly resources: NodeResources;
  private readonly tasks: TaskTable<W>;
  private readonly workers: WorkerPool<W>;
  private readonly taskManager: LocalTaskManager<W>;
  private readonly actors: ActorManager<W>;
  private readonly router: OwnerRouter;
  private readonly requests: RequestServer;
  private readonly cancels: TaskCancels<W>;
  private readonly streams: TaskStreams<W>;
  /** Direct channels between calling workers and actors (direct/). */
  private readonly broker = new ChannelBroker();
  private readonly memory = new MemoryQueries();
  private readonly defs = new Map<string, FunctionDef>();
  private clusterHooks: ClusterHooks | undefined;
  private closed = false;
  /** What a Msg.Done reaches (task-done.ts). */
  private readonly doneParts: DoneParts<W>;
  /** The owner of tasks the driver submits (its CoreWorker: see `driver`). */
  readonly driverOwner: ResultSink;
  /** This node's rows of the state API (listActors, listWorkers). */
  readonly localState: LocalState;
  /** The owner of tasks other nodes forwarded here. */
  readonly remoteOwner: ResultSink;
  /** The records of tasks that pass through this node (task-events.ts): the cluster's when it is the head. */
  readonly taskEvents: TaskEventRecorder;
  /** Its Prometheus metrics (metrics.ts), served by a MetricsServer when asked for. */
  readonly metrics: NodeMetrics;
  /** Task records and metrics from its processes (metrics-sources.ts). */
  private readonly observed: (r: Reader, type: number) => void;
  /** Its workers' log files, and where their lines go (to their job's driver). */
  readonly logs: LogRouter;
  /** Bundles of placement groups reserved here (local-bundles.ts), and the groups it keeps alone or as head. */
  readonly bundles: LocalBundles;
  readonly placementGroups: PlacementGroups;
  /** The runtime envs set up here (working directories, npm packages). */
  readonly envs: RuntimeEnvs;

  constructor(readonly opts: NodeManagerOptions) {
    this.maxWorkers = checkMaxWorkerProcesses(opts.maxWorkerProcesses);
    const taskEventsLimit = checkTaskEventsLimit(opts.taskEventsLimit); // before anything is made
    this.store = ObjectStore.create({
      capacity: opts.objectStoreMemory,
      ...(opts.objectStoreWarmAhead !== undefined ? { warmAhead: opts.objectStoreWarmAhead } : {}),
      ...(opts.spillDir ? { spillDir: opts.spillDir } : {}),
      ...(opts.spillLimit ? { spillLimit: opts.spillLimit } : {}),
    });
    const totals: Record<string, number> = { CPU: opts.numCpus, ...opts.resources };
    if (opts.numGpus > 0) totals.GPU = opts.numGpus;
    this.pool = new native.ResourcePool(totals) as ResourcePool;
    this.resources = new NodeResources(this.pool, this.nodeId);
    this.completion = new CompletionRing(this.store, (r, t) => this.onFrame(r, t));
    this.router = new OwnerRouter(this.store, this.nodePrefix);
    this.driverOwner = this.router.driverOwner;
    this.remoteOwner = this.router.remoteOwner;
    this.taskEvents = new TaskEventRecorder(this.nodeId, opts.taskEvents !== false, taskEventsLimit, (o) =>
      o.kind === 'driver' ? process.pid : this.workers.get(o.workerIndex)?.pid,
    );
    this.tasks = new TaskTable<W>(() => this.updateRef(), this.taskEvents);
    this.logs = new LogRouter(this.nodeId, opts, () => this.clusterHooks);
    this.envs = new RuntimeEnvs(
      this.nodeId,
      async (hash) => this.clusterHooks?.getPackage(hash),
      () => this.scheduleDispatch(),
    );
    const envReady = (text: string) => this.envs.state(text);
    this.workers = new WorkerPool<W>(
      { spawn: (i, env) => this.startProcess(i, env), command: () => [process.execPath, ...workerArgv()] },
      { numCpus: opts.numCpus, idleWorkerTimeoutMs: opts.idleWorkerTimeoutMs, maxWorkers: this.maxWorkers },
      {
        started: (w) => {
          this.router.attach(w);
          this.updateRef();
        },
        exited: (w, code, signal) => this.onWorkerExit(w, code, signal),
        mayStartAgain: () => this.scheduleDispatch(),
        hasWork: () => this.tasks.size > 0,
      },
    );
    const defOf = (spec: TaskSpec) => this.defOf(spec);
    this.actors = new ActorManager<W>(this.tasks, this.workers, this.resources, {
      defOf,
      scheduleDispatch: () => this.scheduleDispatch(),
      busyChanged: () => this.updateRef(),
      resubmit: (spec, def, owner, retriesLeft) => this.submit(spec, def, owner, retriesLeft),
      envReady,
    });
    const shared = [this.tasks, this.workers, this.resources] as const;
    this.taskManager = new LocalTaskManager<W>(...shared, defOf, () => this.actors.placeWaiting(), envReady);
    ({ bundles: this.bundles, placementGroups: this.placementGroups } = nodeGroupParts(
      this.nodeId,
      this.resources,
      {
        failGroup: (pg) => this.taskManager.failGroup(pg),
        failActors: (pg) => this.actors.failGroup(pg),
        releaseIdle: () => this.taskManager.releaseIdle(),
        dispatch: () => this.scheduleDispatch(),
      },
    ));
    this.localState = new LocalState(
      this.nodeId,
      this.actors,
      this.workers,
      () => this.driver?.ownerHex,
      () => this.taskEvents.live(this.tasks.values()),
      async () => (await this.memoryReport()).rows as MemoryRow[],
      () => usageRow(this.metrics.sources, this.pool.total(), this.loadSnapshot()),
      this.logs.files,
    );
    const handlers = nodeRequestHandlers({
      actors: this.actors,
      store: this.store,
      cluster: () => this.clusterHooks,
      cancelTask: (taskId, force, recursive) => this.cancelTask(taskId, force, recursive),
      childrenCancelled: (taskId) => this.cancels.childrenCancelled(taskId),
      streamConsumed: (taskId, taken) => this.streamConsumed(taskId, taken),
      available: () => this.taskManager.available(),
      total: () => this.pool.total(),
      nodeId: this.nodeId,
      labels: this.opts.labels ?? {},
      driverJob: this.opts.driverJob,
      localState: this.localState,
      taskEvents: this.taskEvents,
      tasks: this.tasks,
      placementGroups: this.placementGroups,
    });
    this.requests = new RequestServer(handlers, (index) => this.workers.get(index));
    const { nodeId, tasks, actors, workers, store } = this;
    const parts = { nodeId, tasks, actors, workers, store, recorder: this.taskEvents };
    this.metrics = new NodeMetrics(metricsSources({ ...parts, cluster: () => this.clusterHooks }));
    this.observed = observedFrames({ ...parts, metrics: this.metrics });
    this.cancels = new TaskCancels(this.tasks, this.taskManager, this.actors, () => this.clusterHooks);
    this.streams = new TaskStreams(this.tasks, this.router, () => this.clusterHooks);
    this.doneParts = {
      ...{ tasks: this.tasks, workers: this.workers, taskManager: this.taskManager, actors: this.actors },
      taskEvents: this.taskEvents,
      scheduleDispatch: () => this.scheduleDispatch(),
      updateRef: () => this.updateRef(),
    };
    this.completion.start();
    process.on('exit', this.drainOnExit);
  }

  /** The driver's CoreWorker, when this node is embedded in a driver: it owns the driver's tasks. */
  get driver(): DriverCore | undefined {
    return this.router.driver;
  }
  set driver(core: DriverCore | undefined) {
    this.router.driver = core;
  }

  /** Set when this node is part of a cluster (lib/cluster attaches it). */
  get cluster(): ClusterHooks | undefined {
    return this.clusterHooks;
  }
  set cluster(hooks: ClusterHooks | undefined) {
    this.clusterHooks = hooks;
    this.router.cluster = hooks;
    this.actors.cluster = hooks;
  }

  /** The process exits without shutdown(): workers' stderr is passed on, and they are killed. */
  private readonly drainOnExit = () => this.workers.processExiting();

  /** Starts one worker per CPU in the background so the first tasks find them warm. */
  prestart(): void {
    const n = Math.min(Math.max(1, Math.floor(this.opts.numCpus)), this.maxWorkers);
    for (let i = 0; i < n; i++) this.workers.spawn();
  }

  /** The pool's spawner: a worker process with the node's rings and store, in runtime env `env`. */
  private startProcess(index: number, env: string): W {
    const runtimeEnv = env === '' ? undefined : this.envs.prepared(env);
    return new WorkerProcess(
      index,
      this.newOwnerId().toString('hex'),
      { store: this.store.fd, completion: this.completion.fd, completionBell: this.completion.bellFd },
      this.store,
      // driverDir, namespace, jobId: the worker's config; its output to its files and its job's driver.
      { ...this.opts, nodeId: this.nodeId, taskEvents: this.taskEvents.enabled, logs: this.logs, runtimeEnv },
    );
  }

  /**
   * An owner id for a process of this node: its first bytes are the node's, so any
   * object id says which node its owner (and the owner's copy) is on.
   */
  newOwnerId(): Buffer {
    const id = randomBytes(16);
    Buffer.from(this.nodeId, 'hex').copy(id, 0, 0, OWNER_NODE_PREFIX);
    return id;
  }

  /** The driver stays alive while work is outstanding, and may exit when idle. */
  private updateRef(): void {
    const busy = this.tasks.size > 0 || this.actors.anyAlive();
    this.workers.setRef(busy);
    this.completion.setRef(busy);
  }

  private scheduleDispatch(): void {
    if (!this.closed) this.taskManager.scheduleDispatch();
  }

  // ------------------------------------------------------------ submission

  /** Keeps a function's definition, so tasks that name it can be sent to workers that lack it. */
  define(def: FunctionDef): void {
    if (def.fnId !== '' && !this.defs.has(def.fnId)) this.defs.set(def.fnId, def);
  }

  /** The function of a task submitted here (actor calls have none: their process has the class). */
  private defOf(spec: TaskSpec): FunctionDef {
    return (spec.fnId === '' ? undefined : this.defs.get(spec.fnId)) ?? NO_DEF;
  }

  /**
   * A task, actor creation or actor call, from `owner`. retriesLeft: a direct call whose
   * actor died, retried with what it has left (direct/actor-links.ts).
   */
  submit(spec: TaskSpec, def: FunctionDef, owner: ResultSink, retriesLeft = spec.maxRetries): void {
    if (this.closed) throw new SunrayError('the node manager is shut down');
    this.define(def);
    const cluster = this.clusterHooks;
    if (cluster && owner.kind !== 'remote' && spec.kind !== TaskKind.ActorCall) {
      // Tasks forwarded here run here (no ping-pong); our own may go to another node.
      const where = cluster.place(spec);
      if (where instanceof Promise) {
        // Its placement group is not placed yet: submitted again once it is (or failed).
        const again = () => this.submit(spec, def, owner, retriesLeft);
        where.then(again, (err: Error) => this.closed || this.notifyFailed(spec, owner, err));
        return;
      }
      if (where instanceof Error) {
        this.taskEvents.failed(taskRef(spec, owner), where);
        owner.failed(spec, where);
        return;
      }
      if (where !== undefined) {
        this.taskEvents.forwarded(taskRef(spec, owner));
        cluster.forward(where, spec, def, owner);
        return;
      }
    }
    if (spec.kind === TaskKind.ActorCall) {
      const refused = this.actors.refusal(spec);
      if (refused) {
        this.taskEvents.failed(taskRef(spec, owner), refused);
        owner.failed(spec, refused);
        return;
      }
      const there = cluster && this.actors.elsewhere(spec);
      if (there) {
        if (cluster.routeActorCall(there, owner)) {
          this.taskEvents.forwarded(taskRef(spec, owner));
          return;
        }
        spec = there;
      }
    }
    const entry = newTask<W>(spec, specKey(spec), owner, retriesLeft, this.taskEvents.enabled);
    this.tasks.set(entry);
    if (this.tasks.size === 1) this.updateRef();
    if (spec.kind === TaskKind.ActorCreate) this.actors.create(entry);
    else if (spec.kind === TaskKind.ActorCall) this.actors.route(entry);
    else this.taskManager.enqueue(entry, false);
  }

  // ------------------------------------------------------------ frames from workers

  private onFrame(r: Reader, type: number): void {
    switch (type) {
      case Msg.Ready: {
        const index = r.u32();
        const heapLimit = r.remaining >= 8 ? r.f64() : undefined;
        if (this.workers.ready(index, heapLimit)) this.scheduleDispatch();
        return;
      }
      case Msg.Done:
        onDone(this.doneParts, r);
        return;
      case Msg.Submit: {
        const index = r.u32();
        const spec = SpecView.read(r);
        // Actor calls carry no function (and reading fnId would decode the whole spec).
        const def = spec.kind === TaskKind.ActorCall || spec.fnId === '' ? NO_DEF : this.defs.get(spec.fnId);
        if (!def) throw new Error(`worker ${index} submitted ${spec.name} without defining it first`);
        this.submit(spec, def, this.router.workerOwner(index));
        return;
      }
      case Msg.SubmitRetry: {
        const owner = this.router.workerOwner(r.u32());
        const retriesLeft = r.u32();
        this.submit(SpecView.read(r), NO_DEF, owner, retriesLeft);
        return;
      }
      case Msg.ChannelOpen: {
        const caller = this.workers.get(r.u32());
        const asked = r.copy(16);
        if (caller) this.broker.open(caller, asked, this.actors.localActor(asked));
        return;
      }
      case Msg.RelayResult:
        this.router.relayResult(r.u32(), r.raw(r.remaining));
        return;
      case Msg.GeneratorItem:
        this.streams.onItem(r);
        return;
      case Msg.DefineUp: {
        r.u32();
        this.define(readDef(r));
        return;
      }
      case Msg.Blocked:
      case Msg.Unblocked: {
        const w = this.workers.get(r.u32());
        if (w) this.taskManager.onBlocked(w, type === Msg.Blocked);
        return;
      }
      case Msg.Request:
        this.requests.onFrame(r);
        return;
      case Msg.HeldByOthers: {
        const w = this.workers.get(r.u32());
        if (w) w.setHeldByOthers(r.u8() === 1);
        return;
      }
      case Msg.MemoryReport:
        this.memory.onReport(r);
        return;
      case Msg.UserMetrics:
      case Msg.TaskEvents:
      case Msg.DirectCallsRan:
        this.observed(r, type);
        return;
      case Msg.RefOps: {
        const sender = this.router.workerOwner(r.u32());
        this.router.routeRefOps(sender, Buffer.from(r.raw(r.remaining)));
        return;
      }
      default:
        warn('SUNRAY_UNKNOWN_MESSAGE', `node manager got an unknown message type ${type}; ignored`);
    }
  }

  private onWorkerExit(w: W, code: number | null, signal: NodeJS.Signals | null): void {
    // What it sent before it died comes first (its Ready above all: a worker that was ready
    // did not fail to start, whatever it did next).
    if (!w.ready && !this.closed) this.completion.pump();
    this.workers.forget(w);
    // From here, what would go to it is dropped; the refs it owned are unreadable.
    const owner = this.router.workerExited(w);
    if (this.closed) return;
    this.completion.recover(w.pid);
    try {
      this.store.reapDeadClients();
    } catch {
      // store closed
    }
    const death = describeDeath(w, code, signal);
    const elsewhere = ownedElsewhere(w.inflight, (key) => this.tasks.get(key)?.owner);
    const start = this.workers.startFailed(w, code, signal);
    this.taskManager.workerExited(w, (t) => taskCrashError(death, w, t.spec.name, t.spec.maxRetries));
    this.actors.workerExited(w, owner, start.failed, death.how, death.hint);
    // Direct channels to and from it (after the actor's fate is known: its callers are told).
    const hosted = this.actors.hostedBy(w);
    this.broker.onExit(
      w,
      hosted && {
        restarting: hosted.state === 'restarting',
        how: death.how,
        death: hosted.state === 'dead' ? this.actors.diedError(hosted).message : '',
      },
    );
    reportWorkerExit(this.nodeId, w, { code, signal, death, hosted, elsewhere }, this.clusterHooks);
    if (start.error) this.failWaitingForWorkers(start.error);
    this.scheduleDispatch();
    this.updateRef();
  }

  /** Starts keep failing: the work that waits for a worker fails with the reason, rather than wait forever. */
  private failWaitingForWorkers(err: WorkerStartError): void {
    this.taskManager.failWaiting(err);
    this.actors.failWaiting(err);
  }

  // ------------------------------------------------------------ what the cluster and the driver call

  /** Hands a result to its owner on this node (results that came back from another node). */
  deliver(owner: ResultSink, objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload?: Buffer): void {
    owner.deliver(objectId, status, kind, payload ?? EMPTY);
  }

  /** Fails every return of a task for its owner on this node (or its origin node). */
  notifyFailed(spec: TaskSpec, owner: ResultSink, err: Error): void {
    this.taskEvents.failed(taskRef(spec, owner), err);
    owner.failed(spec, err);
  }

  /** Ownership ops from a process of this node (the driver's come here directly). */
  routeRefOps(sender: ResultSink, ops: Buffer): void {
    this.router.routeRefOps(sender, ops);
  }

  /** Ownership ops another node sent for owners here; returns the owners (hex) that are gone. */
  routeRemoteRefOps = (ops: Buffer): string[] => this.router.routeRemoteRefOps(ops);

  /** Owners whose ids start with `prefix` are gone (a dead node's, or one owner's): their refs, actors and tasks here. */
  ownersDied = (prefix: string): void => {
    this.router.ownersDied(prefix);
    this.actors.ownerGone(ownedFrom(prefix));
    this.cancels.ownersGone(prefix);
  };

  /** Tells one process of this node that an owner is gone. */
  tellOwnerDied = (to: ResultSink, ownerHex: string): void => this.router.tellOwnerDied(to, ownerHex);

  /** Cancels a task: queued here, running here (force kills its worker), or on the node it went to. */
  cancelTask = (taskId: Buffer, force: boolean, recursive = true): void =>
    this.cancels.cancel(taskId, force, recursive);

  /** The owner of a streaming task took `consumed` of its items (from a worker here, or another node). */
  streamConsumed = (taskId: Buffer, consumed: number): void => this.streams.consumed(taskId, consumed);

  /** sunray.kill(): kills an actor (here, or on its node); it restarts within its budget unless noRestart. */
  killActor = (actorId: Buffer, noRestart: boolean): void => this.actors.kill(actorId, noRestart);

  /** The owner dropped its last handle: end the actor once its calls are done (unless detached). */
  releaseActor = (actorId: Buffer): void => this.actors.release(actorId);

  /** Answers a request of the driver (workers' come as Msg.Request frames). */
  handleRequest<K extends keyof NodeRequests>(
    kind: K,
    args: Parameters<NodeRequests[K]>,
  ): ReturnType<NodeRequests[K]> {
    return this.requests.handle(kind, args);
  }

  /** `sunray memory` for this node: the driver's rows and every live worker's (1 s to answer). */
  memoryReport(): Promise<MemoryReport> {
    return this.memory.report(this.workers.values(), this.driver?.memorySummary() ?? [], this.store);
  }

  /** What this node holds and has queued, for heartbeats and the hybrid policy. */
  loadSnapshot(): LoadSnapshot {
    return loadSnapshot(this.pool, this.taskManager, this.actors);
  }

  /** Queued tasks this node cannot run at all: the cluster may place them elsewhere now (see room). */
  takeInfeasible(room?: (demand: Record<string, number>) => boolean): HandedOver[] {
    const out = this.taskManager.takeInfeasible(room);
    if (out.length > 0 && this.tasks.size === 0) this.updateRef();
    return out;
  }

  /** Pids of live worker processes (for tests and `sunray status`). */
  workerPids(): number[] {
    return [...this.workers.values()].filter((w) => !w.exited).map((w) => w.pid);
  }

  /** Counts of the node's workers, tasks, actors and channels, for status and tests. */
  stats(): NodeStats {
    return nodeStats(this.workers.values(), this.tasks.size, this.taskManager, this.actors);
  }

  // ------------------------------------------------------------ shutdown

  /**
   * Stops the node: the driver's tasks still here fail, workers get 1 s to stop before they
   * are killed, and the store closes.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.taskManager.close();
    this.placementGroups.close();
    this.taskEvents.close();
    await this.metrics.close();
    this.router.close();
    this.workers.close();
    process.removeListener('exit', this.drainOnExit);
    await this.clusterHooks?.close();
    this.cluster = undefined;
    const err = new SunrayError('sunray was shut down before this task finished');
    for (const t of this.tasks.values()) if (t.owner.kind === 'driver') t.owner.failed(t.spec, err);
    this.tasks.clear();
    await this.workers.shutdown(1000);
    this.envs.close();
    this.logs.close();
    this.completion.close();
    this.store.close();
  }
}
