// A fused map operator at run time: each task (or actor call) runs the stage on one read task
// or one bundle of input blocks and gives one block. Tasks go to sunray's scheduler with the
// operator's resources; with a class, calls go to a pool of actors (least busy first). Outputs
// leave in input order when DataContext.preserveOrder is set. Concurrency: at most
// tasksInFlightPerCpu tasks per CPU of the cluster, or maxTasksInFlightPerActor calls per actor.

import * as sunray from '../../index.js';
import { at, must } from '../checked.js';
import type { PhysicalOp } from '../fusion.js';
import type { PlannedRead, ReadTask } from '../sources/read-plan.js';
import type { StageSpec, TaskMeta } from '../tasks.js';
import type { Bundle } from './bundle.js';
import { type ExecCtx, OpState } from './op-state.js';
import { remoteFns } from './remote.js';

type MapPhys = Extract<PhysicalOp, { kind: 'map' }>;

interface Running {
  inputs: Bundle[];
  est: number;
  inBytes: number;
  actor?: number;
  ref?: sunray.ObjectRef<unknown>;
}

export class MapOp extends OpState {
  private readonly queue: Bundle[] = [];
  private queuedRows = 0;
  private nextRead = 0;
  private seq = 0;
  private nextEmit = 0;
  private readonly done = new Map<number, Bundle | null>();
  private readonly inFlight = new Map<number, Running>();
  private readonly stage: StageSpec;
  private actors: sunray.ActorHandle<import('../tasks.js').DataMapActor>[] = [];
  private actorLoad: number[] = [];
  private readonly maxRunning: number;

  constructor(
    private readonly phys: MapPhys,
    ctx: ExecCtx,
  ) {
    super(phys.name, phys.reads ? 0 : 1, ctx);
    this.stage = { transforms: phys.transforms, ...(phys.write ? { write: phys.write } : {}) };
    const c = phys.compute;
    this.maxRunning =
      c.kind === 'actors'
        ? Math.max(1, c.size) * ctx.context.maxTasksInFlightPerActor
        : Math.max(
            1,
            Math.ceil((ctx.cpus / Math.max(c.numCpus ?? 1, 0.001)) * ctx.context.tasksInFlightPerCpu),
          );
  }

  override async setup(): Promise<void> {
    const c = this.phys.compute;
    if (c.kind !== 'actors') return;
    const Actor = remoteFns().actor.options({
      ...(c.numCpus !== undefined ? { numCpus: c.numCpus } : {}),
      ...(c.numGpus !== undefined ? { numGpus: c.numGpus } : {}),
      // A pool actor that dies is made again and its calls re-run there (stages are pure).
      maxRestarts: -1,
      maxTaskRetries: 3,
      // The user's class instance sees one block at a time (calls queue at the actor), as
      // before async actors defaulted to 1000 concurrent calls: its methods need not be re-entrant.
      maxConcurrency: 1,
    });
    this.actors = Array.from({ length: c.size }, () => Actor.remote(this.stage));
    this.actorLoad = this.actors.map(() => 0);
    await sunray.get(this.actors.map((a) => a.ready.remote()));
  }

  override async teardown(): Promise<void> {
    for (const r of this.inFlight.values()) if (r.ref) this.cancelQuietly(r.ref);
    for (const a of this.actors) {
      try {
        sunray.kill(a);
      } catch {
        // already gone
      }
    }
    this.actors = [];
  }

  private cancelQuietly(ref: sunray.ObjectRef<unknown>): void {
    try {
      sunray.cancel(ref);
    } catch {
      // finished meanwhile
    }
  }

  protected accept(b: Bundle): void {
    this.queue.push(b);
    this.queuedRows += b.rows;
  }

  private readsLeft(): boolean {
    return this.phys.reads !== undefined && this.nextRead < this.phys.reads.length;
  }

  canStart(): boolean {
    if (this.stopped || this.inFlight.size >= this.maxRunning) return false;
    if (
      this.phys.compute.kind === 'actors' &&
      !this.actorLoad.some((l) => l < this.ctx.context.maxTasksInFlightPerActor)
    ) {
      return false;
    }
    if (this.readsLeft()) return true;
    if (this.queue.length === 0) return false;
    return this.queuedRows >= this.phys.minRows || this.allInputsDone;
  }

  nextTaskBytes(): number {
    if (this.readsLeft()) return this.estimator.estimate(at(this.phys.reads ?? [], this.nextRead).estBytes);
    const head = this.queue[0];
    return this.estimator.estimate(head ? head.bytes : 0);
  }

  /** Takes the next unit of input: a read task, or bundles up to minRows rows. */
  private takeInput(): { read: PlannedRead | null; inputs: Bundle[] } {
    if (this.readsLeft()) return { read: at(this.phys.reads ?? [], this.nextRead++), inputs: [] };
    const inputs: Bundle[] = [];
    let rows = 0;
    do {
      const b = must(this.queue.shift());
      inputs.push(b);
      rows += b.rows;
      this.queuedRows -= b.rows;
    } while (this.queue.length > 0 && rows < this.phys.minRows);
    return { read: null, inputs };
  }

  start(): void {
    const { read, inputs } = this.takeInput();
    const seq = this.seq++;
    const inBytes = read ? read.estBytes : inputs.reduce((a, b) => a + b.bytes, 0);
    const est = this.estimator.estimate(inBytes);
    const run: Running = { inputs, est, inBytes };
    this.inFlight.set(seq, run);
    this.running++;
    this.noteStart();
    const refs = inputs.map((b) => b.ref);
    const readTask: ReadTask | null = read ? read.task : null;
    let pair: [sunray.ObjectRef<TaskMeta>, sunray.ObjectRef<Uint8Array>];
    const c = this.phys.compute;
    if (c.kind === 'actors') {
      let best = 0;
      for (let i = 1; i < this.actors.length; i++)
        if (at(this.actorLoad, i) < at(this.actorLoad, best)) best = i;
      this.actorLoad[best] = at(this.actorLoad, best) + 1;
      run.actor = best;
      pair = at(this.actors, best)
        .process.options({ numReturns: 2 })
        .remote(seq, readTask, ...refs) as unknown as [
        sunray.ObjectRef<TaskMeta>,
        sunray.ObjectRef<Uint8Array>,
      ];
    } else {
      pair = remoteFns()
        .map.options({
          numReturns: 2,
          name: `data:${this.name}`,
          ...(c.numCpus !== undefined ? { numCpus: c.numCpus } : {}),
          ...(c.numGpus !== undefined ? { numGpus: c.numGpus } : {}),
        })
        .remote(this.stage, seq, readTask, ...refs) as unknown as [
        sunray.ObjectRef<TaskMeta>,
        sunray.ObjectRef<Uint8Array>,
      ];
    }
    run.ref = pair[1];
    sunray.get(pair[0]).then(
      (meta) => {
        pair[0].release();
        this.finishTask(seq, run, meta, pair[1]);
      },
      (err) => {
        pair[0].release();
        pair[1].release();
        this.inFlight.delete(seq);
        this.running--;
        if (run.actor !== undefined) this.actorLoad[run.actor] = at(this.actorLoad, run.actor) - 1;
        for (const b of run.inputs) b.release();
        if (!this.stopped) this.error = err;
        this.ctx.notify();
      },
    );
  }

  private finishTask(seq: number, run: Running, meta: TaskMeta, block: sunray.ObjectRef<Uint8Array>): void {
    this.inFlight.delete(seq);
    this.running--;
    if (run.actor !== undefined) this.actorLoad[run.actor] = at(this.actorLoad, run.actor) - 1;
    this.estimator.observe(run.inBytes, meta.bytes);
    this.stats.taskMs += meta.ms;
    // Task results keep their arguments (lineage); actor results do not.
    const holds = this.phys.compute.kind === 'tasks' ? run.inputs : [];
    if (this.phys.compute.kind !== 'tasks') for (const b of run.inputs) b.release();
    const out = this.produce(block, meta, holds);
    if (this.stopped) out.release();
    else if (!this.ctx.context.preserveOrder) this.emit(out);
    else {
      this.done.set(seq, out);
      while (this.done.has(this.nextEmit)) {
        const b = must(this.done.get(this.nextEmit));
        this.done.delete(this.nextEmit++);
        if (b) this.emit(b);
      }
    }
    this.ctx.notify();
  }

  finished(): boolean {
    if (this.stopped) return this.inFlight.size === 0;
    return (
      !this.readsLeft() &&
      this.allInputsDone &&
      this.queue.length === 0 &&
      this.inFlight.size === 0 &&
      this.done.size === 0
    );
  }

  override stop(): void {
    super.stop();
    this.nextRead = this.phys.reads?.length ?? 0;
    for (const b of this.queue.splice(0)) b.release();
    this.queuedRows = 0;
    for (const b of this.done.values()) b?.release();
    this.done.clear();
    for (const r of this.inFlight.values()) if (r.ref) this.cancelQuietly(r.ref);
  }
}
