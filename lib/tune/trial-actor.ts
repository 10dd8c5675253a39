// The trial actor: a worker process that runs trials one after another (reuseActors), so a
// trial costs a call, not a process. A function trainable runs inside a session; each
// tune.report() hands a result to the pending call and waits for the next one (lockstep, so
// a scheduler's stop lands before the next iteration). A class trainable gets one step per call.
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize } from 'node:v8';
import * as sunray from '../index.js';
import {
  Checkpoint,
  type CheckpointPayload,
  checkpointPayload,
  DICT_FILE,
  isCheckpoint,
  readTree,
  writePayload,
} from './checkpoint.js';
import type { Metrics } from './result.js';
import { type ReportOptions, type Session, sessionStorage, type TrialContext } from './session.js';
import type { Trainable } from './trainable.js';
import { loadTrainable } from './trainable-loader.js';
import type {
  ActorSetup,
  StartRequest,
  StepCommand,
  StepRecord,
  StepReply,
  TrialErrorInfo,
  WorkerWhere,
} from './trial-protocol.js';

function nodeIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

let where: WorkerWhere | undefined;
function workerFields(): WorkerWhere {
  where ??= {
    pid: process.pid,
    hostname: hostname(),
    node_ip: nodeIp(),
    node_id: sunray.getRuntimeContext().nodeId,
  };
  return where;
}

function errorInfo(err: unknown): TrialErrorInfo {
  if (err instanceof Error)
    return { name: err.name, message: err.message, stack: err.stack ?? `${err.name}: ${err.message}` };
  return { name: 'Error', message: String(err), stack: `thrown value: ${String(err)}` };
}

function isPlainMetrics(m: unknown): m is Metrics {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
  const p = Object.getPrototypeOf(m);
  return p === Object.prototype || p === null;
}

/** A restored checkpoint as the trainable sees it: a value, or files in a private temporary directory. */
function materialize(p: CheckpointPayload): { checkpoint: Checkpoint; dir: string | undefined } {
  const [only, ...rest] = p.files;
  if (only && rest.length === 0 && only[0] === DICT_FILE) {
    return { checkpoint: Checkpoint.fromDict(deserialize(only[1])), dir: undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'sunray-tune-restore-'));
  writePayload(dir, p);
  return { checkpoint: Checkpoint.fromDirectory(dir), dir };
}

/** Timing and numbering of a trial's results (Ray's automatic fields). */
class Clock {
  private iters = 0;
  private last = performance.now();
  private readonly start = this.last;
  private trained = 0;
  constructor(
    private readonly startIteration: number,
    private readonly timeOffset: number,
  ) {}
  /** Resets the iteration timer (a step starts now: time waiting for the controller is not training). */
  resume(): void {
    this.last = performance.now();
  }
  /** A result: the metrics with this iteration's number and times. */
  stamp(metrics: Metrics): StepRecord {
    const now = performance.now();
    const thisIter = (now - this.last) / 1000;
    this.trained += thisIter;
    this.last = now;
    this.iters++;
    return [
      metrics,
      this.startIteration + this.iters,
      thisIter,
      this.timeOffset + this.trained,
      (now - this.start) / 1000,
    ];
  }
  get iteration(): number {
    return this.startIteration + this.iters;
  }
}

interface Run {
  next(cmd: StepCommand): Promise<StepReply>;
}

/** A function trainable's trial: the function runs on its own; calls collect what it reported. */
class FunctionRun implements Run {
  private queue: StepRecord[] = [];
  private state: 'running' | 'done' | 'error' | 'stopped' = 'running';
  private error: TrialErrorInfo | undefined;
  private wake: (() => void) | undefined;
  private resumers: (() => void)[] = [];
  private readonly clock: Clock;

  constructor(
    fn: Function,
    req: StartRequest,
    context: TrialContext,
    checkpoint: Checkpoint | undefined,
    private readonly cleanupDir: string | undefined,
  ) {
    this.clock = new Clock(req[5], req[6]);
    const session: Session = { context, checkpoint, report: (m, o) => this.report(m, o) };
    const config = req[3];
    sessionStorage().run(session, () => {
      (async () => fn(config))().then(
        (v) => this.finish(v),
        (err) => this.fail(err),
      );
    });
  }

  private report(metrics: Metrics, opts: ReportOptions | undefined): Promise<void> {
    // A stopped trial's function stays suspended here and is collected with its closure.
    if (this.state !== 'running') return new Promise<void>(() => {});
    if (!isPlainMetrics(metrics)) {
      throw new sunray.InvalidArgumentError(
        `tune.report() takes an object of metrics, got ${metrics === null ? 'null' : typeof metrics}`,
      );
    }
    const c = opts?.checkpoint;
    if (c !== undefined && !isCheckpoint(c)) {
      throw new sunray.InvalidArgumentError(
        'tune.report(metrics, { checkpoint }): checkpoint must be a Checkpoint (Checkpoint.fromDict(value) or Checkpoint.fromDirectory(dir))',
      );
    }
    const rec = this.clock.stamp(metrics);
    if (c) rec[5] = checkpointPayload(c);
    this.queue.push(rec);
    this.wake?.();
    return new Promise<void>((resolve) => this.resumers.push(resolve));
  }

  private finish(v: unknown): void {
    if (this.state !== 'running') return;
    if (v !== undefined && v !== null) {
      if (!isPlainMetrics(v)) {
        this.fail(
          new sunray.InvalidArgumentError(
            `a function trainable returns an object of metrics (or nothing), got ${typeof v}`,
          ),
        );
        return;
      }
      this.queue.push(this.clock.stamp(v));
    }
    this.state = 'done';
    this.end();
  }

  private fail(err: unknown): void {
    if (this.state !== 'running') return;
    this.error = errorInfo(err);
    this.state = 'error';
    this.end();
  }

  private end(): void {
    if (this.cleanupDir) rmSync(this.cleanupDir, { recursive: true, force: true });
    this.wake?.();
  }

  async next(cmd: StepCommand): Promise<StepReply> {
    if (cmd.stop) {
      if (this.state === 'running') {
        this.state = 'stopped';
        this.resumers = [];
        this.end();
      }
      return [[], true];
    }
    const resumers = this.resumers;
    this.resumers = [];
    this.clock.resume();
    for (const r of resumers) r();
    return this.collect();
  }

  /** Waits until something was reported or the function ended. */
  async collect(): Promise<StepReply> {
    while (this.queue.length === 0 && this.state === 'running') {
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    const results = this.queue;
    this.queue = [];
    return this.error ? [results, true, { error: this.error }] : [results, this.state !== 'running'];
  }
}

/** A class trainable's trial: one step() per call. */
class ClassRun implements Run {
  private readonly clock: Clock;
  private ended = false;

  constructor(
    private readonly inst: Trainable,
    private readonly req: StartRequest,
    private readonly setup: ActorSetup,
    private readonly cleanupDir: string | undefined,
  ) {
    this.clock = new Clock(req[5], req[6]);
  }

  async begin(checkpoint: Checkpoint | undefined): Promise<StepReply> {
    try {
      const t = this.inst;
      const [, trialId, , config, , startIteration] = this.req;
      t.config = config;
      t.trialId = trialId;
      t.trialName = `${this.setup.def.name}_${trialId}`;
      t.iteration = startIteration;
      await t.setup(config);
      if (checkpoint) await t.loadCheckpoint(checkpoint);
      t.iteration = startIteration;
    } catch (err) {
      return this.failed(err);
    }
    return this.next({});
  }

  private async failed(err: unknown): Promise<StepReply> {
    await this.close();
    return [[], true, { error: errorInfo(err) }];
  }

  private async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.cleanupDir) rmSync(this.cleanupDir, { recursive: true, force: true });
    try {
      await this.inst.cleanup();
    } catch {
      // the trial is over either way
    }
  }

  private async save(): Promise<CheckpointPayload | undefined> {
    const dir = mkdtempSync(join(tmpdir(), 'sunray-tune-save-'));
    try {
      const v = await this.inst.saveCheckpoint(dir);
      if (v === undefined) {
        const files = readTree(dir);
        return files.length > 0 ? { files } : undefined;
      }
      return checkpointPayload(isCheckpoint(v) ? v : Checkpoint.fromDict(v));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async next(cmd: StepCommand): Promise<StepReply> {
    if (this.ended) return [[], true];
    try {
      if (cmd.stop) {
        const saved = cmd.save ? await this.save() : undefined;
        await this.close();
        return saved ? [[], true, { saved }] : [[], true];
      }
      this.clock.resume();
      const m = await this.inst.step();
      if (!isPlainMetrics(m)) {
        throw new sunray.InvalidArgumentError(
          `Trainable.step() returns an object of metrics, got ${m === null ? 'null' : typeof m}`,
        );
      }
      const done = (m as { done?: unknown }).done === true;
      const rec = this.clock.stamp(m);
      this.inst.iteration = this.clock.iteration;
      const f = this.setup.checkpointFrequency;
      if ((f > 0 && this.clock.iteration % f === 0) || (done && this.setup.checkpointAtEnd)) {
        const saved = await this.save();
        if (saved) rec[5] = saved;
      }
      if (done) await this.close();
      return [[rec], done];
    } catch (err) {
      return this.failed(err);
    }
  }
}

/** The actor that runs trials (one at a time) in a worker process. */
export class TuneTrialActor {
  private readonly setups = new Map<number, ActorSetup>();
  private readonly runs = new Map<string, Run>();

  /** Where this actor runs (and that it is up). */
  ping(): WorkerWhere {
    return workerFields();
  }

  /** Starts a trial: runs it until its first result (or its end). setup: with an actor's first trial. */
  async start(req: StartRequest, setup?: ActorSetup): Promise<StepReply> {
    if (setup) this.setups.set(setup.id, setup);
    const s = this.setups.get(req[0]);
    if (!s) return [[], false, { needSetup: true }];
    const reply = await this.begin(req, s);
    if (setup) (reply[2] ??= {}).where = workerFields();
    return reply;
  }

  private async begin(req: StartRequest, setup: ActorSetup): Promise<StepReply> {
    const [, trialId, dirName, config, ckpt] = req;
    // A restart of the same trial (retry, PBT) replaces its previous session.
    this.runs.delete(trialId);
    let trainable: Function;
    let restored: { checkpoint: Checkpoint; dir: string | undefined } | undefined;
    try {
      trainable = await loadTrainable(setup.def);
      restored = ckpt ? materialize(ckpt) : undefined;
    } catch (err) {
      return [[], true, { error: errorInfo(err) }];
    }
    if (setup.def.kind === 'class') {
      let inst: Trainable;
      try {
        inst = new (trainable as new () => Trainable)();
      } catch (err) {
        return [[], true, { error: errorInfo(err) }];
      }
      const run = new ClassRun(inst, req, setup, restored?.dir);
      this.runs.set(trialId, run);
      return this.settle(trialId, await run.begin(restored?.checkpoint));
    }
    const context: TrialContext = Object.freeze({
      trialId,
      trialName: `${setup.def.name}_${trialId}`,
      experimentName: setup.experimentName,
      trialDir: join(setup.experimentPath, dirName),
      config,
    });
    const run = new FunctionRun(trainable, req, context, restored?.checkpoint, restored?.dir);
    this.runs.set(trialId, run);
    return this.settle(trialId, await run.collect());
  }

  /** Lets a trial go on to its next result, or stops it. */
  async next(trialId: string, cmd: StepCommand = {}): Promise<StepReply> {
    const run = this.runs.get(trialId);
    if (!run) return [[], true];
    return this.settle(trialId, await run.next(cmd));
  }

  private settle(trialId: string, reply: StepReply): StepReply {
    if (reply[1]) this.runs.delete(trialId);
    return reply;
  }
}
