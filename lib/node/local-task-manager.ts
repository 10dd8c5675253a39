// Runs the node's tasks on its workers (Ray's local_task_manager). Tasks wait in one queue
// per resource shape (scheduling class, protocol/resources.ts); a worker is leased for a
// class with that class's resources held and runs its tasks back to back, pipelined
// (several in flight) only when no more leases can be had. A lease whose queue ran dry is
// given back at the end of the loop turn. A worker blocked in get() lends its lease's
// resources back until it goes on. Also: cancelling queued tasks, and demand this node can
// never meet (infeasible: warned once, reported to the cluster, handed over when asked).
//
// One dispatch pass serves the whole node: it runs each class's queue, then `afterDispatch`
// (the actor manager places waiting actors). Passes are coalesced to one per microtask turn.

import { Deque } from '../base/deque.js';
import { PlacementGroupRemovedError, TaskCancelledError } from '../base/errors.js';
import { warn } from '../base/warnings.js';
import { reportEvent } from '../protocol/events.js';
import { groupOfDemand } from '../protocol/placement-group.js';
import { classKey, type Demand, PIPELINE_DEPTH } from '../protocol/resources.js';
import { type FunctionDef, TaskKind, type TaskSpec } from '../protocol/spec.js';
import type { ResultSink } from './owner-router.js';
import type { Grant, NodeResources } from './resource-pool.js';
import type { TaskEntry, TaskTable } from './task-table.js';
import type { WorkerPool } from './worker-pool.js';
import { NO_GPUS, type WorkerSlot } from './worker-slot.js';

/** A worker taken for one scheduling class, with that class's resources. */
export interface Lease<W extends WorkerSlot = WorkerSlot> {
  key: string;
  demand: Demand;
  worker: W;
  /** null while lent out (blocked), or when they could not be taken back (running over). */
  grant: Grant | null;
  /** Tasks sent under it and not done. */
  inflight: number;
  /** Its worker is blocked in get(): its resources are lent to others. */
  suspended: boolean;
}

interface ClassQueue<W extends WorkerSlot> {
  demand: Demand;
  /** The runtime env its tasks run in ('' none): its workers are started for it. */
  env: string;
  tasks: Deque<TaskEntry<W>>;
  leases: Lease<W>[];
  warnedInfeasible: boolean;
  /** The resources' epoch when a lease last failed to get resources: no retry until something is released. */
  exhaustedAt: number;
  checkedFeasible: boolean;
  /** The placement group whose bundle resources it asks for, if any (they come and go). */
  group: string | undefined;
}

/** What the task manager needs of the worker pool (worker-pool.ts). */
export type LeaseWorkers<W extends WorkerSlot> = Pick<
  WorkerPool<W>,
  'takeIdle' | 'mayStart' | 'warnAtCap' | 'spawn' | 'lease' | 'giveBack'
>;

/** A queued task handed to the cluster, to run on a node that can. */
export interface HandedOver {
  spec: TaskSpec;
  def: FunctionDef;
  owner: ResultSink;
}

/** Whether a runtime env is ready on this node (runtime-envs.ts): 'pending' while it is set up. */
export type EnvReady = (envText: string) => 'ready' | 'pending' | Error;

/** The queue of a task: its resource shape, and its runtime env when it has one. */
function queueKey(spec: TaskSpec): string {
  const key = classKey(spec.demand);
  return spec.runtimeEnv === '' ? key : `${key}\0${spec.runtimeEnv}`;
}

/** Queue figures for heartbeats and the hybrid policy (NodeManager.loadSnapshot). */
export interface QueueLoad {
  /** Tasks queued. */
  pending: number;
  /** Queued tasks by the class this node can never run. */
  infeasible: Record<string, number>;
}

const RESOLVED = Promise.resolve();

/**
 * Ray's local task manager: queues by scheduling class, leases of workers with their
 * resources, dispatch and pipelining, cancel, infeasible demand and retries.
 */
export class LocalTaskManager<W extends WorkerSlot> {
  private readonly classes = new Map<string, ClassQueue<W>>();
  private dispatchScheduled = false;
  private releaseScheduled = false;
  private closed = false;

  constructor(
    private readonly tasks: TaskTable<W>,
    private readonly workers: LeaseWorkers<W>,
    private readonly resources: NodeResources,
    /** The function of a task (the worker is sent it before its first task). */
    private readonly defOf: (spec: TaskSpec) => FunctionDef,
    /** Run at the end of each dispatch pass (the actor manager places waiting actors). */
    private readonly afterDispatch: () => void,
    /** Whether a runtime env is set up here (its setup starts on the first ask). */
    private readonly envReady: EnvReady = () => 'ready',
  ) {}

  /** Queues a task of its class (front: a retry, ahead of the others). */
  enqueue(t: TaskEntry<W>, front: boolean): void {
    const key = queueKey(t.spec);
    let q = this.classes.get(key);
    if (!q) {
      q = {
        demand: t.spec.demand,
        env: t.spec.runtimeEnv,
        tasks: new Deque(),
        leases: [],
        warnedInfeasible: false,
        exhaustedAt: -1,
        checkedFeasible: false,
        group: groupOfDemand(t.spec.demand),
      };
      this.classes.set(key, q);
    }
    if (q.group !== undefined && this.resources.bundles.removed(q.group)) {
      this.tasks.fail(t, groupRemoved(t.spec.name, q.group));
      return;
    }
    // Asked once per class (a native call): a node's totals do not change while it runs (but
    // for bundles of placement groups, which a task waits for until they are reserved here).
    if (
      !q.warnedInfeasible &&
      !q.checkedFeasible &&
      q.group === undefined &&
      !this.resources.feasible(t.spec.demand)
    ) {
      q.warnedInfeasible = true;
      warn(
        'SUNRAY_INFEASIBLE',
        `task ${t.spec.name} needs ${JSON.stringify(t.spec.demand)} but this node has ` +
          `${JSON.stringify(this.resources.total())} in all: it is infeasible and waits until a node that can run it ` +
          'joins. Lower its resource demand, or start sunray with those resources (init({ numCpus, numGpus, resources })).',
      );
      const { nodeId } = this.resources;
      const ev = { kind: 'task', name: t.spec.name, demand: { ...t.spec.demand }, nodeId } as const;
      reportEvent('infeasible', { ...ev, nodeResources: this.resources.total() });
    }
    q.checkedFeasible = true;
    if (front) q.tasks.unshift(t);
    else q.tasks.push(t);
    this.scheduleDispatch();
  }

  /** A dispatch pass at the end of this microtask turn (one however often asked). */
  readonly scheduleDispatch = (): void => {
    if (this.dispatchScheduled || this.closed) return;
    this.dispatchScheduled = true;
    // A resolved promise rather than queueMicrotask, which makes an AsyncResource per call.
    RESOLVED.then(this.runDispatch);
  };

  private readonly runDispatch = () => {
    this.dispatchScheduled = false;
    if (!this.closed) this.dispatch();
  };

  /** Sends what can run now: each class's queue, then afterDispatch. */
  dispatch(): void {
    for (const q of this.classes.values()) this.dispatchClass(q);
    this.afterDispatch();
  }

  private dispatchClass(q: ClassQueue<W>): void {
    for (let t = q.tasks.peek(); t !== undefined; t = q.tasks.peek()) {
      if (t.cancelled) {
        q.tasks.shift();
        continue;
      }
      let lease = q.leases.find((l) => l.inflight === 0 && l.worker.ready && !l.suspended);
      if (!lease) {
        const fresh = this.newLease(q);
        if (fresh === 'starting') break;
        lease = fresh;
      }
      if (!lease) {
        // No new lease possible: pipeline onto the least loaded one.
        const depth = Math.min(PIPELINE_DEPTH, Math.ceil(q.tasks.length / Math.max(1, q.leases.length)));
        let best: Lease<W> | undefined;
        for (const l of q.leases) {
          if (!l.worker.ready || l.suspended) continue;
          if (l.inflight < depth && (!best || l.inflight < best.inflight)) best = l;
        }
        if (!best) break;
        lease = best;
      }
      q.tasks.shift();
      this.sendTask(t, lease);
    }
    // Leases with nothing to do give their worker and resources back (at the end of the turn).
    if (q.tasks.length === 0 && q.leases.some((l) => l.inflight === 0)) this.scheduleLeaseRelease();
  }

  /** A lease with fresh resources, 'starting' if its worker is still booting, or undefined if none fit. */
  private newLease(q: ClassQueue<W>): Lease<W> | 'starting' | undefined {
    if (q.leases.some((l) => !l.worker.ready)) return 'starting';
    // With every lease busy, each task would ask the pool again and fail: ask
    // once, then again only after some resources were given back.
    if (q.exhaustedAt === this.resources.epoch) return undefined;
    if (q.env !== '') {
      // Its workers start once the env is set up here (a dispatch pass follows when it is).
      const env = this.envReady(q.env);
      if (env instanceof Error) this.failQueue(q, env);
      if (env !== 'ready') return undefined;
    }
    let w = this.workers.takeIdle(q.env);
    if (!w && !this.workers.mayStart(q.env)) {
      // At the process cap, or starts are failing: the tasks wait (never an error from here).
      this.workers.warnAtCap(`task ${q.tasks.peek()?.spec.name ?? ''}`);
      return undefined;
    }
    const grant = this.resources.tryAcquire(q.demand);
    if (!grant) {
      q.exhaustedAt = this.resources.epoch;
      return undefined;
    }
    w ??= this.workers.spawn(q.env);
    this.workers.lease(w);
    const lease: Lease<W> = {
      key: classKey(q.demand),
      demand: q.demand,
      worker: w,
      grant,
      inflight: 0,
      suspended: false,
    };
    q.leases.push(lease);
    return w.ready ? lease : 'starting';
  }

  private sendTask(t: TaskEntry<W>, lease: Lease<W>): void {
    const w = lease.worker;
    t.worker = w;
    t.lease = lease;
    this.tasks.events.sent(t, w, lease.inflight === 0);
    lease.inflight++;
    w.taskSent(t.hex);
    w.ensureDefined(this.defOf(t.spec));
    w.execute(t.spec, t.owner.workerIndex, lease.grant?.gpuIds ?? NO_GPUS);
  }

  /** A task sent under a lease is done, or its worker died: it no longer counts against the lease. */
  taskEnded(t: TaskEntry<W>): void {
    if (t.lease) t.lease.inflight--;
    t.worker = undefined;
    t.lease = undefined;
  }

  /**
   * Leases whose queue ran dry are given back at the end of the loop turn, not
   * at once: a caller that gets a result and submits the next task in the same
   * turn (a sync loop) finds its worker still leased, with no release and
   * re-acquire in between.
   */
  private scheduleLeaseRelease(): void {
    if (this.releaseScheduled || this.closed) return;
    this.releaseScheduled = true;
    setImmediate(this.releaseIdleLeases);
  }

  private readonly releaseIdleLeases = () => {
    if (!this.releaseScheduled) return;
    this.releaseScheduled = false;
    if (!this.closed) this.releaseIdle();
  };

  /** Gives back the leases with nothing to do (and dispatches, if any was). */
  releaseIdle(): void {
    let released = false;
    for (const q of this.classes.values()) {
      if (q.tasks.length > 0) continue;
      for (let i = q.leases.length - 1; i >= 0; i--) {
        const l = q.leases[i];
        if (l && l.inflight === 0 && l.worker.blockedDepth === 0 && l.worker.ready) {
          q.leases.splice(i, 1);
          if (l.grant && !l.suspended) this.resources.release(l.grant);
          this.workers.giveBack(l.worker);
          released = true;
        }
      }
    }
    if (released) this.dispatch();
  }

  /** Resources not in use: leases kept to the end of the turn (scheduleLeaseRelease) count as free. */
  available(): Record<string, number> {
    if (!this.closed) this.releaseIdle();
    return this.resources.available();
  }

  /**
   * Msg.Blocked/Unblocked from w: while its task waits in get(), its lease's resources are
   * lent to others, so the tasks it waits for can run.
   */
  onBlocked(w: W, blocked: boolean): void {
    const depth = w.blocked(blocked);
    const lease = this.leaseOf(w);
    if (!lease) return;
    if (blocked && depth === 1 && !lease.suspended) {
      if (lease.grant) this.resources.release(lease.grant);
      lease.suspended = true;
      this.scheduleDispatch();
    } else if (!blocked && depth === 0 && lease.suspended) {
      lease.suspended = false;
      // Take them back; if others hold them now, run over for a while rather than stall.
      lease.grant = this.resources.tryAcquire(lease.demand);
    }
  }

  private leaseOf(w: W): Lease<W> | undefined {
    for (const q of this.classes.values()) for (const l of q.leases) if (l.worker === w) return l;
    return undefined;
  }

  /**
   * w exited: the tasks it was running or had queued are retried (ahead of the others) while
   * their budget lasts, else fail with crashError (cancelled ones: as cancelled); its lease
   * ends and its resources come back. Actor creations and calls are left to their actor.
   */
  workerExited(w: W, crashError: (t: TaskEntry<W>) => Error): void {
    for (const hex of w.takeInflight()) {
      const t = this.tasks.get(hex);
      if (!t) continue;
      this.taskEnded(t);
      if (t.spec.kind === TaskKind.ActorCall || t.spec.kind === TaskKind.ActorCreate) continue;
      if (t.cancelled) {
        this.tasks.fail(
          t,
          new TaskCancelledError(`task ${t.spec.name} was cancelled (force: its worker was killed)`),
        );
      } else if (t.retriesLeft > 0) {
        this.tasks.retry(t, crashError(t));
        this.enqueue(t, true);
      } else {
        this.tasks.fail(t, crashError(t));
      }
    }
    for (const q of this.classes.values()) {
      const i = q.leases.findIndex((l) => l.worker === w);
      if (i >= 0) {
        const [lease] = q.leases.splice(i, 1);
        if (lease?.grant && !lease.suspended) this.resources.release(lease.grant);
      }
    }
  }

  /**
   * Cancels a task of this node: one not sent yet is taken out of its queue and fails now.
   * One running fails for its owner now and its result is dropped when it comes (JS cannot
   * interrupt it); with force, a task's worker is killed instead (its other tasks are
   * retried at no cost to their budget).
   */
  cancel(t: TaskEntry<W>, force: boolean): void {
    if (t.cancelled) return;
    t.cancelled = true;
    if (!t.worker) {
      this.classes.get(queueKey(t.spec))?.tasks.remove((x) => x === t);
      this.tasks.fail(t, new TaskCancelledError(`task ${t.spec.name} was cancelled before it ran`));
      return;
    }
    if (force && t.spec.kind === TaskKind.Task) {
      const w = t.worker;
      for (const other of w.inflight) {
        const o = this.tasks.get(other);
        if (o && o !== t) o.retriesLeft++;
      }
      w.kill();
      return;
    }
    // The entry stays, to free the lease when the worker reports.
    t.owner.failed(
      t.spec,
      new TaskCancelledError(`task ${t.spec.name} was cancelled while running; its result will be discarded`),
    );
  }

  /**
   * Starts keep failing: queued tasks that no ready worker runs fail with err, rather than
   * wait forever.
   */
  failWaiting(err: Error): void {
    for (const q of this.classes.values()) {
      if (q.leases.some((l) => l.worker.ready)) continue; // a worker runs them
      this.failQueue(q, err);
    }
  }

  /** Every task queued in q fails with err (its runtime env could not be set up, or workers cannot start). */
  private failQueue(q: ClassQueue<W>, err: Error): void {
    for (let t = q.tasks.shift(); t !== undefined; t = q.tasks.shift()) {
      if (!t.cancelled) this.tasks.fail(t, err);
    }
  }

  /** Tasks queued (sent to no worker yet). */
  queued(): number {
    let n = 0;
    for (const q of this.classes.values()) n += q.tasks.length;
    return n;
  }

  /**
   * Adds what the queued tasks ask for to `load`; returns how many wait, and by class those
   * this node can never run.
   */
  addQueueLoad(load: Record<string, number>): QueueLoad {
    let pending = 0;
    const infeasible: Record<string, number> = {};
    for (const q of this.classes.values()) {
      const n = q.tasks.length;
      if (n === 0) continue;
      pending += n;
      for (const [k, v] of Object.entries(q.demand)) load[k] = (load[k] ?? 0) + v * n;
      // A group's task waits for its bundle, which the group's own demand already counts.
      if (q.group === undefined && !this.resources.feasible(q.demand))
        infeasible[classKey(q.demand) || '{}'] = n;
    }
    return { pending, infeasible };
  }

  /**
   * Queued tasks this node cannot run at all, taken out of the node for the cluster to place
   * elsewhere now (those forwarded here stay: their origin placed them); with `room`, only
   * while it says another node has room for the next one.
   */
  takeInfeasible(room?: (demand: Demand) => boolean): HandedOver[] {
    const out: HandedOver[] = [];
    for (const q of this.classes.values()) {
      if (q.tasks.length === 0 || q.group !== undefined || this.resources.feasible(q.demand)) continue;
      for (let t = q.tasks.shift(); t !== undefined; t = q.tasks.shift()) {
        if (t.owner.kind === 'remote') {
          q.tasks.push(t); // forwarded here: stays (its origin placed it)
          break;
        }
        if (room && !room(q.demand)) {
          q.tasks.unshift(t); // no node has room for it now: it waits here, the cluster's demand
          break;
        }
        this.tasks.delete(t.hex);
        out.push({ spec: t.spec, def: this.defOf(t.spec), owner: t.owner });
      }
      if (q.tasks.length === 0) q.warnedInfeasible = false;
    }
    return out;
  }

  /**
   * Placement group `pg` was removed: its queued tasks fail; the workers running its tasks are
   * returned for the node to stop (their tasks then fail the same way when retried).
   */
  failGroup(pg: string): W[] {
    const running: W[] = [];
    for (const q of this.classes.values()) {
      if (q.group !== pg) continue;
      for (let t = q.tasks.shift(); t !== undefined; t = q.tasks.shift()) {
        if (!t.cancelled) this.tasks.fail(t, groupRemoved(t.spec.name, pg));
      }
      for (const l of q.leases) if (l.inflight > 0) running.push(l.worker);
    }
    return running;
  }

  /** The node shuts down: no more passes. */
  close(): void {
    this.closed = true;
  }
}

/** The error of a task whose placement group is gone. */
function groupRemoved(name: string, pg: string): PlacementGroupRemovedError {
  return new PlacementGroupRemovedError(
    `task ${name} cannot run: its placement group ${pg.slice(0, 12)}… was removed`,
  );
}
