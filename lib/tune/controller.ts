// The trial runner (Ray's TuneController): a loop in the driver that asks the searcher for
// trials, runs each on an actor of the pool, writes every result to disk, feeds results to the
// searcher, the scheduler and the stop criteria, and acts on their decisions (stop, pause, PBT's
// exploit), retrying failed trials up to maxFailures. Replies from the actors arrive as events;
// each run of a trial has an epoch, so a reply from a run that was stopped or replaced is ignored.
// Files are written once a turn's calls have gone out (flushWrites): a reply's handling ends in
// the next trial's call, which leaves at the end of the turn, so writing the finished trial's
// results before it would keep the actor idle for the length of the writes.

import { rm } from 'node:fs/promises';
import * as sunray from '../index.js';
import type { ActorPool, PoolActor } from './actor-pool.js';
import type { CheckpointPayload } from './checkpoint.js';
import { TrialFailedError, TuneError } from './errors.js';
import type { ProgressReporter } from './progress.js';
import type { Config, Mode, TrialResult } from './result.js';
import type { SchedulerDecision, TrialRunnerView, TrialScheduler, TrialView } from './scheduler.js';
import { isPlainObject } from './search-space.js';
import { FINISHED, type Searcher } from './searcher.js';
import type { Stopper } from './stoppers.js';
import type { ExperimentStorage } from './storage.js';
import { TrialLogger } from './storage.js';
import type { TrainableDef } from './trainable-def.js';
import { Trial } from './trial.js';
import type { ActorSetup, StartRequest, StepCommand, StepRecord, StepReply } from './trial-protocol.js';
import { formatVars, type Leaf } from './variants.js';

/** Checkpoint settings (Ray's CheckpointConfig). */
export interface CheckpointConfig {
  /** Checkpoints kept per trial (default: all); the latest is always kept. */
  numToKeep?: number;
  /** The result field that ranks checkpoints for numToKeep (default: keep the most recent). */
  checkpointScoreAttribute?: string;
  /** Whether a higher ('max', default) or lower score is better. */
  checkpointScoreOrder?: Mode;
  /** Class trainables: save every n iterations (default 0: never). */
  checkpointFrequency?: number;
  /** Class trainables: save when the trial ends (default false). */
  checkpointAtEnd?: boolean;
}

/** What the controller needs to run an experiment. */
export interface ControllerOptions {
  def: TrainableDef;
  searcher: Searcher;
  scheduler: TrialScheduler;
  storage: ExperimentStorage;
  pool: ActorPool;
  experimentName: string;
  experimentId: string;
  /** The first part of every trial id (5 hex digits). */
  idPrefix: string;
  numSamples: number;
  maxConcurrent: number;
  maxFailures: number;
  /** End the experiment at the first trial that ends in ERROR. */
  failFast: boolean;
  stopper: Stopper | undefined;
  checkpointConfig: CheckpointConfig;
  reporter: ProgressReporter;
  /** The search space's domains (for trial directory names). */
  leaves: readonly Leaf[];
  /** Seconds the experiment may take; then running trials stop and no more start. */
  timeBudgetS: number | undefined;
  /** Trials of a restored experiment (waiting ones PENDING), in creation order. */
  restored: Trial[];
}

interface RunState {
  actor: PoolActor;
  epoch: number;
  /** A stop-with-save is in flight; what to do when its checkpoint arrives. */
  saving?: 'PAUSE' | 'TERMINATED';
}

/** A step's outcome: its reply, or what it failed with (which may be any value, undefined too). */
type Event = { trial: Trial; epoch: number } & (
  | { ok: true; reply: StepReply }
  | { ok: false; error: unknown }
);

/** Counters of what the experiment cost, for the overhead figures (bench/suites/tune.ts). */
export interface ControllerStats {
  /** Trials started (restarts of paused or exploited trials included). */
  trialsStarted: number;
  /** Calls made to trial actors. */
  actorCalls: number;
  /** Trial actors started. */
  actorsStarted: number;
  /** Milliseconds the driver spent handling replies and starting trials (its bookkeeping). */
  driverMs: number;
  /** Milliseconds from the experiment's start to its end. */
  wallMs: number;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

let dateCache = { s: -1, text: '' };
/** Ray's date format in results: 2024-05-01_13-04-05 (formatted once a second). */
function dateStr(): string {
  const s = Math.floor(Date.now() / 1000);
  if (s !== dateCache.s) dateCache = { s, text: formatDate(new Date(s * 1000)) };
  return dateCache.text;
}

function formatDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1, 2)}-${pad(d.getDate(), 2)}_${pad(d.getHours(), 2)}-${pad(d.getMinutes(), 2)}-${pad(d.getSeconds(), 2)}`;
}

/** Runs an experiment's trials to their end. */
export class TuneController implements TrialRunnerView {
  /** Every trial, in creation order. */
  readonly trials: Trial[] = [];
  readonly stats: ControllerStats = {
    trialsStarted: 0,
    actorCalls: 0,
    actorsStarted: 0,
    driverMs: 0,
    wallMs: 0,
  };
  private readonly o: ControllerOptions;
  private readonly byId = new Map<string, Trial>();
  private readonly waiting = new Map<string, Trial>();
  private readonly running = new Map<Trial, RunState>();
  private readonly loggers = new Map<Trial, TrialLogger>();
  /** Loggers written to since the last flushWrites, and those of ended trials, to close then. */
  private readonly unflushed = new Set<TrialLogger>();
  private ended: TrialLogger[] = [];
  private readonly epochs = new Map<Trial, number>();
  private readonly inflight = new Set<Promise<unknown>>();
  private events: Event[] = [];
  private wake: (() => void) | undefined;
  private nextIndex = 0;
  private created = 0;
  private searchDone = false;
  private stopAll = false;
  private startedAt = 0;
  private readonly setup: ActorSetup;
  /** training_iteration each running trial started from (for iterations_since_restore). */
  private readonly startIteration = new Map<Trial, number>();

  constructor(o: ControllerOptions) {
    this.o = o;
    this.setup = {
      id: Math.floor(Math.random() * 2 ** 31),
      def: o.def,
      experimentName: o.experimentName,
      experimentId: o.experimentId,
      experimentPath: o.storage.path,
      checkpointFrequency: o.checkpointConfig.checkpointFrequency ?? 0,
      checkpointAtEnd: o.checkpointConfig.checkpointAtEnd ?? false,
    };
    for (const t of o.restored) {
      this.trials.push(t);
      this.byId.set(t.trialId, t);
      if (t.status === 'PENDING' || t.status === 'PAUSED') this.waiting.set(t.trialId, t);
      this.nextIndex = Math.max(this.nextIndex, t.index + 1);
    }
    this.created = o.restored.length;
  }

  getTrials(): readonly Trial[] {
    return this.trials;
  }

  /** Trials waiting for a slot: PENDING first, then PAUSED, each in creation order. */
  getWaitingTrials(): readonly TrialView[] {
    const w = [...this.waiting.values()];
    return [...w.filter((t) => t.status === 'PENDING'), ...w.filter((t) => t.status === 'PAUSED')];
  }

  /** Trials running now. */
  get numRunning(): number {
    return this.running.size;
  }

  /** The experiment's seconds so far. */
  get elapsedS(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** Runs until every trial has ended (or the time budget or a Stopper ends the experiment). */
  async run(): Promise<void> {
    this.startedAt = performance.now();
    this.o.reporter.start(this);
    try {
      for (;;) {
        const t0 = performance.now();
        this.fill();
        this.stats.driverMs += performance.now() - t0;
        if (this.running.size === 0) {
          // fill() started every waiting trial it could: none runs, so none waits either.
          if (this.searchDone || this.stopAll) break;
          throw new TuneError(
            'the searcher suggests no trial while none is running, so the experiment cannot go on: ' +
              'a custom searcher that returns undefined until a trial completes must not do so when none runs',
          );
        }
        if (this.unflushed.size > 0 || this.ended.length > 0) await this.flushWrites();
        const ev = await this.nextEvent();
        const t1 = performance.now();
        this.handle(ev);
        if (this.o.timeBudgetS !== undefined && this.elapsedS > this.o.timeBudgetS) this.endAll();
        this.stats.driverMs += performance.now() - t1;
        this.o.reporter.update(this);
      }
      await Promise.allSettled([...this.inflight]);
    } finally {
      this.o.pool.shutdown();
      for (const l of this.ended) l.close();
      for (const l of this.loggers.values()) l.close();
      this.loggers.clear();
      this.o.storage.log({ e: 'done', at: new Date().toISOString() });
      this.o.storage.close();
      this.stats.wallMs = performance.now() - this.startedAt;
      this.stats.actorsStarted = this.o.pool.started;
      this.o.reporter.end(this);
    }
  }

  /** Writes the turn's results and journal lines once its calls have left (a macrotask later). */
  private async flushWrites(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    // Results first: a journal that says a trial ended has its last result on disk.
    for (const l of this.unflushed) l.flush();
    this.unflushed.clear();
    for (const l of this.ended) l.close();
    this.ended = [];
    this.o.storage.flush();
    this.stats.driverMs += performance.now() - t0;
  }

  private nextEvent(): Promise<Event> {
    const e = this.events.shift();
    if (e) return Promise.resolve(e);
    return new Promise<Event>((resolve) => {
      // wake is called by push, right after it queued an event.
      this.wake = () => resolve(this.events.shift() as Event);
    });
  }

  private push(ev: Event): void {
    this.events.push(ev);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private watch(trial: Trial, epoch: number, ref: sunray.ObjectRef<StepReply>): void {
    this.stats.actorCalls++;
    sunray.get(ref).then(
      (reply) => this.push({ trial, epoch, ok: true, reply }),
      (error) => this.push({ trial, epoch, ok: false, error }),
    );
  }

  private bump(t: Trial): number {
    const e = (this.epochs.get(t) ?? 0) + 1;
    this.epochs.set(t, e);
    return e;
  }

  /** Starts waiting trials (creating them from the searcher) while slots are free. */
  private fill(): void {
    while (this.running.size < this.o.maxConcurrent && !this.stopAll) {
      if (!this.searchDone && ![...this.waiting.values()].some((t) => t.status === 'PENDING'))
        this.createTrial();
      if (this.waiting.size === 0) return;
      const t = this.o.scheduler.chooseTrialToRun(this) as Trial | undefined;
      if (!t || !this.waiting.has(t.trialId)) return;
      this.launch(t, this.o.pool.acquire());
    }
  }

  private createTrial(): void {
    if (!this.o.searcher.handlesNumSamples && this.created >= this.o.numSamples) {
      this.searchDone = true;
      return;
    }
    const index = this.nextIndex;
    const id = `${this.o.idPrefix}_${pad(index, 5)}`;
    const s = this.o.searcher.suggest(id);
    if (s === FINISHED) {
      this.searchDone = true;
      return;
    }
    if (s === undefined) return;
    if (!isPlainObject(s))
      throw new TuneError(`the searcher suggested a config that is not an object for trial ${id}`);
    this.nextIndex++;
    this.created++;
    const config = s as Config;
    const tag = `${index}_${formatVars(config, this.o.leaves)}`.replace(/[^\w=.,+-]/g, '_').slice(0, 100);
    const dirName = `${this.o.def.name}_${id}_${tag}`;
    const path = this.o.storage.makeTrialDir(dirName);
    const t = new Trial(id, index, config, `${this.o.def.name}_${id}`, dirName, path);
    const logger = new TrialLogger(path, true);
    logger.writeParams(config);
    this.unflushed.add(logger);
    this.loggers.set(t, logger);
    this.o.storage.log({ e: 'trial', id, index, config, dir: dirName });
    this.trials.push(t);
    this.byId.set(id, t);
    this.waiting.set(id, t);
    this.o.scheduler.onTrialAdd(this, t);
  }

  private logger(t: Trial): TrialLogger {
    let l = this.loggers.get(t);
    if (!l) this.loggers.set(t, (l = new TrialLogger(t.path)));
    return l;
  }

  private launch(t: Trial, actor: PoolActor): void {
    this.waiting.delete(t.trialId);
    t.status = 'RUNNING';
    const epoch = this.bump(t);
    this.running.set(t, { actor, epoch });
    this.stats.trialsStarted++;
    actor.trials++;
    const ck = t.latestCheckpoint;
    const req: StartRequest = [
      this.setup.id,
      t.trialId,
      t.dirName,
      t.config,
      ck ? this.o.storage.readCheckpoint(ck.path) : undefined,
      ck?.iteration ?? 0,
      ck?.timeTotal ?? 0,
    ];
    this.startIteration.set(t, ck?.iteration ?? 0);
    const first = !actor.setups.has(this.setup.id);
    actor.setups.add(this.setup.id);
    this.watch(t, epoch, first ? actor.handle.start.remote(req, this.setup) : actor.handle.start.remote(req));
  }

  private handle(ev: Event): void {
    const t = ev.trial;
    const st = this.running.get(t);
    if (!st || st.epoch !== ev.epoch) return; // a run that was stopped or replaced
    if (!ev.ok) {
      this.fail(t, st, ev.error, true);
      return;
    }
    const [results, done, extra] = ev.reply;
    if (extra?.where) st.actor.where = extra.where;
    if (st.saving) {
      if (extra?.saved) this.persist(t, extra.saved, t.lastResult as Record<string, unknown> | undefined);
      const to = st.saving;
      this.running.delete(t);
      this.bump(t);
      this.o.pool.release(st.actor);
      if (to === 'PAUSE') this.markPaused(t);
      else this.markEnded(t, 'TERMINATED');
      return;
    }
    if (extra?.needSetup) {
      st.actor.setups.delete(this.setup.id);
      this.running.delete(t);
      this.launch(t, st.actor);
      return;
    }
    const error = extra?.error;
    const n = results.length;
    for (const [i, result] of results.entries()) {
      const final = done && !error && i === n - 1;
      const decision = this.onResult(t, st, result, final);
      if (final) break; // the trial ends by itself: no decision to act on
      if (decision !== 'CONTINUE') {
        this.act(t, st, decision);
        return;
      }
    }
    if (error) {
      this.fail(t, st, new sunray.RemoteError(error), false);
      return;
    }
    if (done) {
      this.running.delete(t);
      this.bump(t);
      this.o.pool.release(st.actor);
      this.markEnded(t, 'TERMINATED');
      return;
    }
    if (this.stopAll) {
      this.act(t, st, 'STOP');
      return;
    }
    this.call(t, st, {});
  }

  private call(t: Trial, st: RunState, cmd: StepCommand): void {
    this.watch(t, st.epoch, st.actor.handle.next.remote(t.trialId, cmd));
  }

  /** Writes a result and asks the stop criteria and the scheduler about it. */
  private onResult(t: Trial, st: RunState, rec: StepRecord, done: boolean): SchedulerDecision {
    const [metrics, iteration, thisIter, total, sinceRestore, checkpoint] = rec;
    // Ray's automatic fields, after the trainable's own (which may not override them).
    const r: Record<string, unknown> = {
      ...metrics,
      training_iteration: iteration,
      time_this_iter_s: thisIter,
      time_total_s: total,
      time_since_restore: sinceRestore,
      iterations_since_restore: iteration - (this.startIteration.get(t) ?? 0),
      timestamp: Math.floor(Date.now() / 1000),
      done,
      trial_id: t.trialId,
      experiment_id: this.o.experimentId,
      date: dateStr(),
      ...st.actor.where,
      config: t.config,
    };
    if (checkpoint) r.checkpoint_dir_name = this.persist(t, checkpoint, r);
    const logger = this.logger(t);
    logger.write(r);
    this.unflushed.add(logger);
    const result = r as TrialResult;
    t.recordResult(result);
    this.o.searcher.onTrialResult(t.trialId, result);
    this.o.reporter.result(t, result);
    let decision = this.o.scheduler.onTrialResult(this, t, result);
    const stopper = this.o.stopper;
    if (stopper) {
      if (stopper.shouldStop(t.trialId, result)) decision = 'STOP';
      if (stopper.stopAll()) this.stopAll = true;
    }
    return decision;
  }

  /** Stores a checkpoint in the trial's directory; returns its directory name. */
  private persist(t: Trial, payload: CheckpointPayload, result: Record<string, unknown> | undefined): string {
    const name = `checkpoint_${pad(t.checkpointCount++, 6)}`;
    const path = this.o.storage.saveCheckpoint(t.path, name, payload);
    const iteration = typeof result?.training_iteration === 'number' ? result.training_iteration : 0;
    const timeTotal = typeof result?.time_total_s === 'number' ? result.time_total_s : 0;
    t.checkpoints.push({ name, path, iteration, timeTotal, result });
    this.o.storage.log({ e: 'ckpt', id: t.trialId, name, iteration, timeTotal });
    this.prune(t);
    return name;
  }

  /** Deletes checkpoints beyond numToKeep: the worst by score (or the oldest), never the latest. */
  private prune(t: Trial): void {
    const keep = this.o.checkpointConfig.numToKeep;
    if (keep === undefined || t.checkpoints.length <= keep) return;
    const attr = this.o.checkpointConfig.checkpointScoreAttribute;
    const sign = this.o.checkpointConfig.checkpointScoreOrder === 'min' ? -1 : 1;
    const latest = t.checkpoints[t.checkpoints.length - 1];
    const ranked = t.checkpoints.slice(0, -1).map((c, i) => {
      const v = attr ? c.result?.[attr] : i;
      return { c, score: typeof v === 'number' ? sign * v : -Infinity };
    });
    ranked.sort((a, b) => b.score - a.score);
    const kept = new Set(ranked.slice(0, Math.max(keep - 1, 0)).map((x) => x.c));
    if (latest) kept.add(latest);
    for (const c of [...t.checkpoints]) {
      if (kept.has(c)) continue;
      t.checkpoints.splice(t.checkpoints.indexOf(c), 1);
      this.o.storage.log({ e: 'ckpt-del', id: t.trialId, name: c.name });
      this.track(rm(c.path, { recursive: true, force: true }));
    }
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => {}).finally(() => this.inflight.delete(q));
    this.inflight.add(q);
  }

  private act(t: Trial, st: RunState, d: SchedulerDecision): void {
    if (d === 'CONTINUE') return;
    if (d === 'STOP') this.stop(t, st, 'TERMINATED');
    else if (d === 'PAUSE') this.stop(t, st, 'PAUSE');
    else this.exploit(t, st, d.donorTrialId, d.config);
  }

  /** Ends a running trial's session: TERMINATED now, or PAUSED (a class trainable saves first). */
  private stop(t: Trial, st: RunState, to: 'PAUSE' | 'TERMINATED'): void {
    const save =
      this.o.def.kind === 'class' && (to === 'PAUSE' || this.o.checkpointConfig.checkpointAtEnd === true);
    if (save) {
      st.saving = to;
      st.epoch = this.bump(t);
      this.call(t, st, { stop: true, save: true });
      return;
    }
    // Calls to one actor run in order: the stop lands before the actor's next trial starts.
    st.actor.handle.next.remote(t.trialId, { stop: true });
    this.running.delete(t);
    this.bump(t);
    this.o.pool.release(st.actor);
    if (to === 'PAUSE') this.markPaused(t);
    else this.markEnded(t, 'TERMINATED');
  }

  /** PBT: restart the trial from the donor's latest checkpoint with a new config, on the same actor. */
  private exploit(t: Trial, st: RunState, donorId: string, config: Config): void {
    const ck = this.byId.get(donorId)?.latestCheckpoint;
    if (!ck) {
      this.call(t, st, {});
      return;
    }
    st.actor.handle.next.remote(t.trialId, { stop: true });
    const name = `checkpoint_${pad(t.checkpointCount++, 6)}`;
    const path = this.o.storage.copyCheckpoint(ck.path, t.path, name);
    t.checkpoints.push({ name, path, iteration: ck.iteration, timeTotal: ck.timeTotal, result: ck.result });
    this.o.storage.log({ e: 'ckpt', id: t.trialId, name, iteration: ck.iteration, timeTotal: ck.timeTotal });
    this.prune(t);
    t.config = config;
    this.o.storage.log({ e: 'config', id: t.trialId, config });
    this.running.delete(t);
    this.launch(t, st.actor);
  }

  private markPaused(t: Trial): void {
    t.status = 'PAUSED';
    this.waiting.set(t.trialId, t);
  }

  private markEnded(t: Trial, status: 'TERMINATED' | 'ERROR'): void {
    t.status = status;
    this.waiting.delete(t.trialId);
    const l = this.loggers.get(t);
    if (l) this.ended.push(l);
    this.loggers.delete(t);
    this.o.storage.log({
      e: 'status',
      id: t.trialId,
      status,
      failures: t.numFailures,
      ...(t.error ? { error: t.error.message } : {}),
    });
    this.o.searcher.onTrialComplete(t.trialId, t.lastResult, status === 'ERROR');
    if (status === 'ERROR') this.o.scheduler.onTrialError(this, t);
    else this.o.scheduler.onTrialComplete(this, t, t.lastResult);
    if (status === 'ERROR' && this.o.failFast) this.endAll();
  }

  /** A run failed: retry from the latest checkpoint within maxFailures, else ERROR. */
  private fail(t: Trial, st: RunState, err: unknown, actorLost: boolean): void {
    this.running.delete(t);
    this.bump(t);
    if (actorLost) this.o.pool.discard(st.actor);
    else this.o.pool.release(st.actor);
    t.numFailures++;
    const e = err instanceof Error ? err : new Error(String(err));
    this.logger(t).writeError(
      `Failure #${t.numFailures} (${new Date().toISOString()}):\n${e.stack ?? e.message}`,
    );
    const max = this.o.maxFailures;
    if (max < 0 || t.numFailures <= max) {
      if (this.stopAll) {
        this.markEnded(t, 'TERMINATED');
        return;
      }
      this.launch(t, this.o.pool.acquire());
      return;
    }
    t.error = new TrialFailedError(
      `trial ${t.name} failed ${t.numFailures === 1 ? 'once' : `${t.numFailures} times`}` +
        `${max > 0 ? ` (maxFailures ${max})` : ''}: ${e.name}: ${e.message} (its stack is in ${t.path}/error.txt)`,
      t.trialId,
      t.numFailures,
      { cause: e },
    );
    this.markEnded(t, 'ERROR');
  }

  /** Ends the experiment: running trials stop, no more start (time budget, Stopper.stopAll). */
  private endAll(): void {
    this.stopAll = true;
    for (const [t, st] of [...this.running]) if (!st.saving) this.stop(t, st, 'TERMINATED');
  }
}
