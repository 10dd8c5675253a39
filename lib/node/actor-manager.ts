// The actors hosted on this node (Ray's actor management in the raylet and GCS, for one
// node): their records (names and aliases: actor-names.ts), placing them (an actor is a
// worker process of its own, or one of many in a shared host: shared-hosts.ts; it waits
// for room under the process cap and for its placement resources), routing calls to them,
// restarting them within their budget, and their end: killed, released by their owner
// (once idle), or their owner gone.

import { Deque } from '../base/deque.js';
import { ActorDiedError, type RemoteErrorInfo } from '../base/errors.js';
import { deserialize } from '../base/serialization.js';
import { debug, warn } from '../base/warnings.js';
import type { ActorRegistration } from '../protocol/actor-options.js';
import { type OwnedWorkEvent, reportEvent, type SunrayEventMap } from '../protocol/events.js';
import { specKey, type TaskSpec, withSpec } from '../protocol/spec.js';
import type { ActorStateRow } from '../protocol/state-rows.js';
import { DoneStatus } from '../protocol/worker-messages.js';
import type { ActorCreateReply } from '../worker/backend.js';
import type { ActorManagerHooks, ActorWorkers } from './actor-hooks.js';
import { type WaitingActorsLoad, waitingActorsLoad } from './actor-load.js';
import { ActorNames } from './actor-names.js';
import { type ActorRec, namedOf, newActorRec } from './actor-record.js';
import { SPILL_CHECK_MS, spillWaitingActors } from './actor-spillback.js';
import type { ClusterHooks } from './cluster-hooks.js';
import { GroupActors } from './group-actors.js';
import type { ResultSink } from './owner-router.js';
import type { NodeResources } from './resource-pool.js';
import { SharedHosts } from './shared-hosts.js';
import { actorRow } from './state-rows.js';
import { newTask, type TaskEntry, type TaskTable } from './task-table.js';
import { NO_GPUS, type WorkerSlot } from './worker-slot.js';

/** Calls a restarted actor's calls may be retried at most when its budget is without end. */
const MAX_WIRE_RETRIES = 2 ** 31 - 1;

const RESOLVED = Promise.resolve();

/**
 * The node's actors (Ray's GCS actor manager and the raylet's part of it): their records,
 * names and aliases, placement in processes of their own, calls, restarts within their
 * budget, kill and release.
 */
export class ActorManager<W extends WorkerSlot> {
  private readonly actors = new Map<string, ActorRec<W>>();
  /** Those placed in a placement group's bundles, by group: its removal ends them. */
  private readonly groupActors = new GroupActors<ActorRec<W>>();
  /** Their names, and the aliases getIfExists handed out. */
  private readonly names = new ActorNames(
    (hex) => this.actors.get(hex),
    () => this.cluster,
  );
  /** Actors waiting for a process and their placement resources, in order. */
  private readonly waiting = new Deque<ActorRec<W>>();
  /** Set when this node is part of a cluster. */
  cluster: ClusterHooks | undefined;
  /** The processes that host shared actors. */
  private readonly hosts: SharedHosts<W>;
  private spillTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tasks: TaskTable<W>,
    private readonly workers: ActorWorkers<W>,
    private readonly resources: NodeResources,
    private readonly hooks: ActorManagerHooks,
  ) {
    this.hosts = new SharedHosts(workers, () => Math.max(1, Math.floor(resources.total().CPU ?? 1)));
  }

  // ------------------------------------------------------------ names and ids

  /** The actor an id stands for (hex): itself, or the actor a getIfExists handle names. */
  private resolve(hex: string): string {
    return this.names.resolve(hex);
  }

  /** The job field (protocol/job.ts) of an actor of this node ('' when it has none here). */
  jobOf(hex: string): string {
    return this.actors.get(hex)?.createSpec.job ?? '';
  }

  /** The actor a handle's id names, if it lives on this node (aliases resolved). */
  localActor(id: Buffer): ActorRec<W> | undefined {
    return this.actors.get(this.resolve(id.toString('hex')));
  }

  /**
   * An actor call for an actor this node does not host: its spec addressed to the actor
   * itself (a getIfExists handle names an actor elsewhere). undefined if it lives here.
   */
  elsewhere(spec: TaskSpec): TaskSpec | undefined {
    const hex = spec.actorId.toString('hex');
    const real = this.resolve(hex);
    if (this.actors.has(real)) return undefined;
    return real === hex ? spec : withSpec(spec, { actorId: Buffer.from(real, 'hex') });
  }

  /** Why calls to the actor of `spec` fail at once: the cluster refused its name. */
  refusal(spec: TaskSpec): Error | undefined {
    return this.names.refusal(spec);
  }

  /** Registers a new actor's name before it is created (actor-names.ts). */
  register(
    actorId: Buffer,
    o: ActorRegistration,
    methods: string[],
    className: string,
  ): ActorCreateReply | Promise<ActorCreateReply> {
    return this.names.register(actorId, o, methods, className);
  }

  /** The live actor of that name on this node, if any. */
  getActor(name: string, namespace: string): ActorCreateReply | null {
    return this.names.getActor(name, namespace);
  }

  /** An actor's state, restarts and pid (for tests and `sunray status`); null if not hosted here. */
  actorState(actorId: Buffer): { state: string; restarts: number; pid: number } | null {
    const a = this.localActor(actorId);
    if (!a) return null;
    return { state: a.state, restarts: a.restarts, pid: a.worker?.pid ?? -1 };
  }

  // ------------------------------------------------------------ creation and placement

  /** An ActorCreate submitted here (its entry is in the task table): the actor waits to be placed. */
  create(t: TaskEntry<W>): void {
    const hex = t.spec.actorId.toString('hex');
    if (this.names.isAlias(hex) || this.actors.has(hex)) {
      // getIfExists found one: nothing to create.
      this.tasks.delete(t.hex);
      return;
    }
    const a = newActorRec(t, this.hooks.defOf(t.spec));
    this.actors.set(hex, a);
    this.cluster?.actorHere(hex, a.name ? namedOf(a) : undefined);
    if (a.name) this.names.add(a.namespace, a.name, hex);
    this.tasks.set(t);
    this.waiting.push(a);
    const group = a.group;
    if (group !== undefined && this.resources.bundles.removed(group)) this.end(a, groupGone(group), true);
    else if (group !== undefined) this.groupActors.add(group, a);
    else if (!this.resources.feasible(a.placeDemand)) {
      warn(
        'SUNRAY_INFEASIBLE',
        `actor ${a.className} needs ${JSON.stringify(a.placeDemand)} to be placed but this node has ` +
          `${JSON.stringify(this.resources.total())} in all: it is infeasible and waits.`,
      );
      const { nodeId } = this.resources;
      const ev = { kind: 'actor', name: a.className, demand: { ...a.placeDemand }, nodeId } as const;
      reportEvent('infeasible', { ...ev, nodeResources: this.resources.total() });
    }
    this.hooks.scheduleDispatch();
  }

  /**
   * Places the waiting actors that can be, with their resources: each in a process of its own
   * (a warm idle worker when there is one, else a new one), or a shared one in a host.
   */
  placeWaiting(): void {
    this.spillSoon();
    for (let n = this.waiting.length; n > 0; n--) {
      const a = this.waiting.shift();
      if (!a) break;
      if (a.state === 'dead') continue;
      const env = a.createSpec.runtimeEnv;
      const envState = env === '' ? 'ready' : (this.hooks.envReady?.(env) ?? 'ready');
      if (envState !== 'ready') {
        if (envState === 'pending') this.waiting.push(a);
        else {
          this.tasks.delete(specKey(a.createSpec));
          this.markDead(a, `its runtime env could not be set up: ${envState.message}`, envState);
        }
        continue;
      }
      const grant = this.resources.tryAcquire(a.placeDemand);
      if (!grant) {
        this.waiting.push(a);
        continue;
      }
      let w = a.shared ? this.hosts.place(a.perHost) : this.workers.hostWarm(a.hex, env);
      if (w === undefined) {
        if (a.shared || !this.workers.mayStart(env)) {
          // Each actor is a process: at the cap, with no idle one to take, it waits, in order,
          // for one to exit or free up (as Ray's pending actors do).
          this.resources.release(grant);
          this.waiting.unshift(a);
          if (this.workers.atCap()) this.workers.warnAtCap(`actor ${a.className}`);
          return;
        }
        w = this.workers.spawn(env);
        this.workers.hostActor(w, a.hex);
      }
      a.grant = grant;
      a.worker = w;
      debug(
        'actor %s (%s) placed in pid %d%s',
        a.className,
        a.hex.slice(0, 12),
        w.pid,
        a.shared ? ' (shared host)' : '',
      );
      const t = this.tasks.get(specKey(a.createSpec));
      w.ensureDefined(a.def);
      w.execute(a.createSpec, a.owner.workerIndex, grant.gpuIds ?? NO_GPUS);
      if (t) {
        t.worker = w;
        w.taskSent(t.hex);
        this.tasks.events.sent(t, w, true);
      }
    }
  }

  /** Its constructor finished (Done of its ActorCreate): alive, or dead if it threw. */
  created(t: TaskEntry<W>, status: DoneStatus, payload: Buffer | undefined): void {
    const a = this.actors.get(t.spec.actorId.toString('hex'));
    this.tasks.delete(t.hex);
    if (!a) return;
    if (status !== DoneStatus.Ok) {
      const info = payload ? (deserialize(payload) as RemoteErrorInfo) : undefined;
      a.cause = info;
      this.markDead(
        a,
        `the actor ${a.className}'s constructor threw ${info ? `${info.name}: ${info.message}` : 'an error'}`,
      );
      this.stopActorProcess(a);
      return;
    }
    a.state = 'alive';
    // Placement resources (1 CPU by default) are only for placing; keep what was asked for explicitly.
    if (a.grant && Object.keys(a.holdDemand).length === 0) {
      this.resources.release(a.grant);
      a.grant = null;
    }
    const w = a.worker;
    // Its worker ran the constructor, so it is there; the calls go to it in order.
    if (w) for (let c = a.pending.shift(); c; c = a.pending.shift()) this.send(a, w, c);
    this.hooks.scheduleDispatch();
  }

  /** A shared actor leaves its host, which runs on (it was killed, released, or exited). */
  private leaveHost(a: ActorRec<W>, w: W): void {
    w.dropActor(a.id);
    // Its constructor, if still running there, answers no one now.
    w.taskDone(specKey(a.createSpec));
    this.hosts.left(w);
  }

  /** Its process exited before it was ready: placed again (not a restart: it never ran). */
  placeAgain(a: ActorRec<W>): void {
    a.worker = undefined;
    if (a.grant) {
      this.resources.release(a.grant);
      a.grant = null;
    }
    this.waiting.unshift(a);
  }

  // ------------------------------------------------------------ calls

  /** An actor call (or one to retry) for an actor of this node: sent, queued, or failed. */
  route(t: TaskEntry<W>): void {
    const hex = this.resolve(t.spec.actorId.toString('hex'));
    const a = this.actors.get(hex);
    if (a && a.maxTaskRetries !== 0 && t.retriesLeft === 0 && t.spec.maxRetries === 0 && !t.cancelled) {
      // Calls take their retry budget from the actor's maxTaskRetries, once.
      t.retriesLeft = a.maxTaskRetries;
      t.spec = withSpec(t.spec, {
        maxRetries: Number.isFinite(a.maxTaskRetries) ? a.maxTaskRetries : MAX_WIRE_RETRIES,
      });
    }
    if (!a) {
      this.tasks.fail(
        t,
        new ActorDiedError(`the actor ${hex.slice(0, 12)}… is unknown to this node (never created, or gone)`),
      );
      return;
    }
    if (a.state === 'dead') {
      this.tasks.fail(t, this.diedError(a));
      return;
    }
    if (a.state === 'alive' && a.worker?.ready) this.send(a, a.worker, t);
    else a.pending.push(t);
  }

  private send(a: ActorRec<W>, w: W, t: TaskEntry<W>): void {
    t.worker = w;
    t.actor = a;
    this.tasks.events.sent(t, w, a.running === 0);
    a.running++;
    // Calls to an alias carry the real actor id, so the worker finds its instance.
    if (!t.spec.actorId.equals(a.id)) t.spec = withSpec(t.spec, { actorId: a.id });
    w.execute(t.spec, t.owner.workerIndex, NO_GPUS);
  }

  /** A call sent to an actor is done: it no longer runs there (its actor may end now if released). */
  callDone(t: TaskEntry<W>): void {
    const a = t.actor;
    t.actor = undefined;
    if (!a) return;
    a.running--;
    if (a.terminateWhenIdle) RESOLVED.then(() => this.maybeTerminate(a));
  }

  /** Takes a call that waits for its actor out of the queue (it was cancelled). */
  removePending(t: TaskEntry<W>): void {
    this.localActor(t.spec.actorId)?.pending.remove((x) => x === t);
  }

  /** The calls sent to a's process and not done, in the order they were submitted; no longer counted as running. */
  private takeRunningCalls(a: ActorRec<W>): TaskEntry<W>[] {
    const out: TaskEntry<W>[] = [];
    if (a.running === 0) return out;
    for (const t of this.tasks.values()) {
      if (t.actor !== a) continue;
      t.actor = undefined;
      t.worker = undefined;
      out.push(t);
    }
    a.running = 0;
    return out;
  }

  // ------------------------------------------------------------ death and restarts

  /** The error calls to a dead actor fail with. */
  diedError(a: ActorRec<W>): ActorDiedError {
    const cause = a.cause ? `\n  cause: ${a.cause.name}: ${a.cause.message}\n${a.cause.stack}` : '';
    return new ActorDiedError(
      `the actor ${a.className} (${a.hex.slice(0, 12)}…) is dead: ${a.deathMessage}${cause}`,
    );
  }

  /** `failWith`: what its waiting calls fail with (default: ActorDiedError with the message). */
  private markDead(a: ActorRec<W>, message: string, failWith?: Error): void {
    a.state = 'dead';
    a.deathMessage = message;
    this.report(a, 'actorDied', { actorId: a.hex, className: a.className, name: a.name, reason: message });
    if (a.name) this.cluster?.nameGone(namedOf(a));
    if (a.grant) {
      this.resources.release(a.grant);
      a.grant = null;
    }
    const err = failWith ?? this.diedError(a);
    for (let t = a.pending.shift(); t; t = a.pending.shift()) this.tasks.fail(t, err);
    for (const t of this.takeRunningCalls(a)) this.tasks.fail(t, err);
    this.hooks.busyChanged();
  }

  /**
   * a's process died (after it started): restarted in a fresh process if its budget allows,
   * with the calls it was running retried if theirs does; else dead. hint: what to do about
   * the death, said after how it died (out of memory: how to raise the limit).
   */
  processDied(a: ActorRec<W>, pid: number, how: string, hint = '', who = `its process (pid ${pid})`): void {
    a.worker = undefined;
    if (a.state === 'dead') return;
    // A death while constructing counts as a restart like any other.
    if (a.grant) {
      this.resources.release(a.grant);
      a.grant = null;
    }
    if (a.restartsLeft <= 0) {
      const usedUp = `maxRestarts (${a.restarts}) is used up${hint ? `. ${hint}` : ''}`;
      // The calls it was running are named: one of them may be why it died.
      for (const t of this.takeRunningCalls(a)) {
        this.tasks.fail(
          t,
          new ActorDiedError(
            `the actor ${a.className} (${a.hex.slice(0, 12)}…) is dead: ${who} ${how} ` +
              `while running ${t.spec.name}, and ${usedUp}`,
          ),
        );
      }
      this.markDead(a, `${who} ${how} and ${usedUp}`);
      return;
    }
    a.restartsLeft--;
    a.restarts++;
    a.state = 'restarting';
    const reason = `${who} ${how}`;
    this.report(a, 'actorRestarted', {
      actorId: a.hex,
      className: a.className,
      name: a.name,
      restarts: a.restarts,
      reason,
    });
    // Calls that were running: retry those that may be retried, in order, ahead of queued ones.
    const retry: TaskEntry<W>[] = [];
    for (const t of this.takeRunningCalls(a)) {
      if (t.retriesLeft > 0) {
        this.tasks.retry(
          t,
          new ActorDiedError(`the actor ${a.className}: ${who} ${how} while running ${t.spec.name}`),
        );
        retry.push(t);
      } else {
        this.tasks.fail(
          t,
          new ActorDiedError(
            `the actor ${a.className}: ${who} ${how} while running ${t.spec.name}; ` +
              `it is restarting. Set maxTaskRetries to retry calls that were running.${hint ? ` ${hint}` : ''}`,
          ),
        );
      }
    }
    for (const t of retry.reverse()) a.pending.unshift(t);
    // Re-run the constructor in a fresh process.
    this.tasks.set(newTask(a.createSpec, specKey(a.createSpec), a.owner, 0));
    this.waiting.push(a);
    this.hooks.scheduleDispatch();
  }

  /**
   * w exited: the actor it hosted is placed again (startFailed) or restarted or dead; the
   * actors `owner` (w's own sink) owned end, unless detached.
   */
  workerExited(w: W, owner: ResultSink, startFailed: boolean, how: string, hint: string): void {
    for (const a of this.actors.values()) {
      if (a.worker === w && startFailed) this.placeAgain(a);
      else if (a.worker === w) this.processDied(a, w.pid, how, hint);
    }
    this.ownerGone((a) => a.owner === owner);
  }

  /**
   * Owners are gone: the actors `owns` picks end, unless detached. (A worker here that
   * exited; processes or whole nodes elsewhere: ownedBy.)
   */
  ownerGone(owns: (a: ActorRec<W>) => boolean): void {
    for (const a of this.actors.values()) {
      if (owns(a) && !a.detached && a.state !== 'dead') this.end(a, 'its owner exited', true);
    }
  }

  /** Reports an event about actor a: here, and on its owner's node when that is another. */
  private report<K extends OwnedWorkEvent>(a: ActorRec<W>, name: K, ...args: SunrayEventMap[K]): void {
    reportEvent(name, ...args);
    if (a.owner.kind === 'remote') this.cluster?.sendEvent([a.createSpec.taskId], name, ...args);
  }

  /** The actor w hosts (or hosted), if any. */
  hostedBy(w: W): ActorRec<W> | undefined {
    return w.actorHex !== undefined ? this.actors.get(w.actorHex) : undefined;
  }

  /** Kills an actor (sunray.kill()); one on another node through the cluster. */
  kill(actorId: Buffer, noRestart: boolean): void {
    const hex = this.resolve(actorId.toString('hex'));
    const a = this.actors.get(hex);
    if (!a) {
      this.cluster?.killActor(Buffer.from(hex, 'hex'), noRestart);
      return;
    }
    this.end(a, 'it was killed with sunray.kill()', noRestart);
  }

  /**
   * Kills a's process (a shared actor: takes it out of its host): it restarts unless
   * noRestart (then it is dead at once, for `why`).
   */
  private end(a: ActorRec<W>, why: string, noRestart: boolean): void {
    if (a.state === 'dead') return;
    const w = a.worker;
    if (noRestart) {
      a.worker = undefined;
      this.markDead(a, why);
      if (a.shared && w) this.leaveHost(a, w);
      else w?.kill();
      this.waiting.remove((x) => x === a);
      return;
    }
    if (!a.shared) w?.kill();
    else if (w) {
      // Its neighbours run on: it alone restarts, as if its own process had been killed.
      this.leaveHost(a, w);
      this.processDied(a, w.pid, 'was killed with sunray.kill()', '', `it (a shared actor in pid ${w.pid})`);
    }
  }

  /**
   * Stops the process a dead actor ran in, or for a shared actor takes it out of its host.
   * finishDirect: calls that came straight from callers (direct/) are finished first.
   */
  private stopActorProcess(a: ActorRec<W>, finishDirect = false): void {
    const w = a.worker;
    a.worker = undefined;
    if (!w) return;
    if (a.shared) this.leaveHost(a, w);
    else if (finishDirect && w.callers.size > 0) void w.stop(Number.POSITIVE_INFINITY, true);
    else void w.stop();
  }

  /**
   * The actor's own process ends it (sunray.exitActor() in one of its methods, once the calls it
   * was running ended): dead for good whatever maxRestarts says, its waiting calls fail with
   * ActorDiedError saying so, and its process is stopped.
   */
  exited(actorId: Buffer): void {
    const a = this.localActor(actorId);
    if (!a || a.state === 'dead') return;
    this.markDead(a, 'it exited intentionally (sunray.exitActor() was called in one of its methods)');
    this.waiting.remove((x) => x === a);
    this.stopActorProcess(a);
  }

  /** The owner dropped its last handle: end the actor once its calls are done (unless detached). */
  release(actorId: Buffer): void {
    const hex = actorId.toString('hex');
    // A handle from getIfExists is not the owner's: dropping it ends nothing.
    if (this.names.isAlias(hex)) return;
    const a = this.actors.get(hex);
    if (!a) {
      this.cluster?.releaseActor(actorId);
      return;
    }
    if (a.detached || a.state === 'dead') return;
    a.terminateWhenIdle = true;
    this.maybeTerminate(a);
  }

  private maybeTerminate(a: ActorRec<W>): void {
    if (!a.terminateWhenIdle || a.state !== 'alive' || a.running > 0 || a.pending.length > 0) return;
    this.markDead(a, 'all handles to it were dropped');
    this.stopActorProcess(a, true);
  }

  /** While actors wait and the node is in a cluster: another node may take them (actor-spillback.ts). */
  private spillSoon(): void {
    if (this.spillTimer || this.waiting.length === 0 || !this.cluster) return;
    this.spillTimer = setTimeout(() => {
      this.spillTimer = undefined;
      const cluster = this.cluster;
      if (!cluster || this.waiting.length === 0) return;
      const { waiting, actors, hooks } = this;
      const parts = { waiting, actors, forget: (key: string) => this.tasks.delete(key) };
      const place = (s: TaskSpec) => {
        const where = cluster.place(s);
        return where instanceof Promise ? undefined : where; // a group's actor stays (it never spills)
      };
      spillWaitingActors({ ...parts, place, resubmit: hooks.resubmit });
      hooks.scheduleDispatch(); // and so the next check, while actors still wait
    }, SPILL_CHECK_MS).unref();
  }

  /** Worker starts keep failing: actors not placed yet are dead, with err. */
  failWaiting(err: Error): void {
    for (let n = this.waiting.length; n > 0; n--) {
      const a = this.waiting.shift();
      if (!a) break;
      if (a.state === 'dead') continue;
      this.tasks.delete(specKey(a.createSpec));
      this.markDead(a, `its process could not start: ${err.message}`, err);
    }
  }

  // ------------------------------------------------------------ figures

  /** Whether an actor lives (or will): the process stays alive for it. */
  anyAlive(): boolean {
    for (const a of this.actors.values()) if (a.state !== 'dead') return true;
    return false;
  }

  /** A state API row per actor of this node, dead ones included (node/state-rows.ts). */
  stateRows(nodeId: string): ActorStateRow[] {
    return [...this.actors.values()].map((a) => actorRow(a, nodeId));
  }

  /** Actors alive (or starting) and those waiting to be placed. */
  counts(): { actors: number; waiting: number } {
    let actors = 0;
    for (const a of this.actors.values()) if (a.state !== 'dead') actors++;
    let waiting = 0;
    for (const a of this.waiting) if (a.state !== 'dead') waiting++;
    return { actors, waiting };
  }

  /**
   * Waiting actors: how many, those the node can never place and those it could (the
   * autoscaler's demand), and those held back by maxWorkerProcesses (actor-load.ts).
   */
  waitingLoad(): WaitingActorsLoad {
    return waitingActorsLoad(this.waiting, this.resources, this.workers.atCap());
  }

  /** Placement group `pg` was removed: its actors here die for good (PlacementGroupRemovedError). */
  failGroup(pg: string): void {
    for (const a of this.groupActors.take(pg)) this.end(a, groupGone(pg), true);
  }
}

/** Why an actor of a removed placement group died. */
function groupGone(pg: string): string {
  return `its placement group ${pg.slice(0, 12)}… was removed`;
}
