// The running state of one physical operator in the streaming executor: its input queue, its
// outputs waiting for the next operator, the bytes it holds in the store (for the budget) and
// its statistics. The base class and the simple operators: input blocks, limit and union.

import { type OpUsage, OutputEstimator } from '../budget.js';
import { at, must } from '../checked.js';
import type { DataContext } from '../context.js';
import { Bundle, type BundleOwner } from './bundle.js';

/** What operators share during one execution. */
export interface ExecCtx {
  context: DataContext;
  /** CPUs of the cluster when the execution started. */
  cpus: number;
  /** Wakes the executor's loop (a task finished). */
  notify(): void;
}

/** What stats() reports of an operator. */
export interface OpStats {
  name: string;
  tasks: number;
  blocks: number;
  rows: number;
  bytes: number;
  /** Milliseconds its tasks ran, summed. */
  taskMs: number;
  /** Wall-clock milliseconds from its first task to its last output. */
  wallMs: number;
  /** Most bytes it held in the store at once (its outputs alive plus its tasks' expected outputs). */
  peakBytes: number;
}

export abstract class OpState implements BundleOwner {
  readonly stats: OpStats;
  /** Outputs ready for the next operator, in order. */
  readonly outputs: Bundle[] = [];
  /** Bytes of this operator's outputs still alive. */
  aliveBytes = 0;
  running = 0;
  error: unknown = undefined;
  protected readonly inputsDone: boolean[];
  protected readonly estimator = new OutputEstimator();
  protected stopped = false;
  private firstStart = 0;
  private lastOutput = 0;

  constructor(
    readonly name: string,
    numInputs: number,
    protected readonly ctx: ExecCtx,
  ) {
    this.inputsDone = new Array(numInputs).fill(false);
    this.stats = { name, tasks: 0, blocks: 0, rows: 0, bytes: 0, taskMs: 0, wallMs: 0, peakBytes: 0 };
  }

  /** A bundle from input i (this operator now holds it). */
  addInput(b: Bundle, _input: number): void {
    if (this.stopped) b.release();
    else this.accept(b, _input);
  }

  protected abstract accept(b: Bundle, input: number): void;

  /** Input i will send nothing more. */
  inputDone(i: number): void {
    this.inputsDone[i] = true;
  }

  get allInputsDone(): boolean {
    return this.inputsDone.every(Boolean);
  }

  /** Whether it has work it could start now (the budget is checked by the executor). */
  abstract canStart(): boolean;

  /** Starts one unit of work (a task, an actor call). */
  abstract start(): void;

  /** No more outputs will come (its outputs may still be waiting to be taken). */
  abstract finished(): boolean;

  /** Expected bytes of the next unit of work's output. */
  abstract nextTaskBytes(): number;

  /** Prepares what it needs (an actor pool). */
  async setup(): Promise<void> {}

  /** Stops: starts nothing more, drops its queues (running work finishes and is discarded). */
  stop(): void {
    this.stopped = true;
    for (const b of this.outputs.splice(0)) b.release();
  }

  /** Frees what it holds when the execution ends (actors, cancelled tasks). */
  async teardown(): Promise<void> {}

  usage(): OpUsage {
    return {
      aliveBytes: this.aliveBytes,
      running: this.running,
      estTaskBytes: this.nextTaskBytes(),
      measured: this.estimator.measured,
    };
  }

  bundleFreed(bytes: number): void {
    this.aliveBytes -= bytes;
    // Room in the budget: the executor may start more.
    if (bytes > 0) this.ctx.notify();
  }

  protected noteStart(): void {
    if (this.firstStart === 0) this.firstStart = performance.now();
    this.stats.tasks++;
    this.notePeak();
  }

  private notePeak(): void {
    const held = this.aliveBytes + this.running * this.nextTaskBytes();
    if (held > this.stats.peakBytes) this.stats.peakBytes = held;
  }

  /** Hands an output to the next operator (counted against this one until freed). */
  protected emit(b: Bundle): void {
    if (this.stopped) {
      b.release();
      return;
    }
    this.outputs.push(b);
    this.stats.blocks++;
    this.stats.rows += b.rows;
    this.stats.bytes += b.bytes;
    this.lastOutput = performance.now();
    if (this.firstStart === 0) this.firstStart = this.lastOutput;
    this.stats.wallMs = this.lastOutput - this.firstStart;
    this.notePeak();
  }

  /** A bundle produced here (counted in aliveBytes until freed). */
  protected produce(ref: Bundle['ref'], meta: Bundle['meta'], holds: Bundle[]): Bundle {
    this.aliveBytes += meta.bytes;
    return new Bundle(ref, meta, this, holds, true);
  }
}

/** Blocks that exist already (fromItems, fromArrow, materialized datasets). */
export class InputOp extends OpState {
  private next = 0;

  constructor(
    name: string,
    private readonly blocks: Array<{ ref: Bundle['ref']; meta: Bundle['meta'] }>,
    ctx: ExecCtx,
  ) {
    super(name, 0, ctx);
  }

  protected accept(): void {}

  canStart(): boolean {
    return !this.stopped && this.next < this.blocks.length;
  }

  start(): void {
    const b = at(this.blocks, this.next++);
    this.noteStart();
    // Not owned: the dataset keeps its blocks for later executions.
    this.emit(new Bundle(b.ref, b.meta, undefined, [], false));
  }

  finished(): boolean {
    return this.stopped || this.next >= this.blocks.length;
  }

  nextTaskBytes(): number {
    return 0;
  }
}

/** limit(n): passes blocks until n rows went through; the block that crosses n is sliced. */
export class LimitOp extends OpState {
  private seen = 0;
  private readonly queue: Bundle[] = [];
  private slicing = false;

  constructor(
    name: string,
    private readonly n: number,
    ctx: ExecCtx,
    /** Runs a slice of a bundle as a task: the first `rows` rows. */
    private readonly slice: (b: Bundle, rows: number) => Promise<Bundle>,
    /** Told when no more input is needed. */
    private readonly upstreamDone: () => void,
  ) {
    super(name, 1, ctx);
  }

  protected accept(b: Bundle): void {
    if (this.seen >= this.n || this.slicing) {
      if (this.slicing) this.queue.push(b);
      else b.release();
      return;
    }
    this.queue.push(b);
  }

  canStart(): boolean {
    return !this.slicing && this.queue.length > 0;
  }

  start(): void {
    const b = must(this.queue.shift());
    if (this.seen >= this.n) {
      b.release();
      return;
    }
    if (this.seen + b.rows <= this.n) {
      this.seen += b.rows;
      this.emit(b);
      if (this.seen >= this.n) this.done();
      return;
    }
    this.slicing = true;
    this.running++;
    this.noteStart();
    const want = this.n - this.seen;
    this.seen = this.n;
    this.slice(b, want).then(
      (out) => {
        this.running--;
        this.slicing = false;
        this.emit(out);
        this.done();
        this.ctx.notify();
      },
      (err) => {
        this.running--;
        this.slicing = false;
        this.error = err;
        this.ctx.notify();
      },
    );
  }

  private done(): void {
    for (const q of this.queue.splice(0)) q.release();
    this.upstreamDone();
  }

  finished(): boolean {
    return (
      (this.seen >= this.n && !this.slicing) ||
      (this.allInputsDone && this.queue.length === 0 && !this.slicing)
    );
  }

  nextTaskBytes(): number {
    return 0;
  }

  override bundleFreed(): void {}
}

/** union(...): the blocks of each input in turn (all of the first input's, then the next's). */
export class UnionOp extends OpState {
  private readonly queues: Bundle[][];
  private current = 0;

  constructor(name: string, inputs: number, ctx: ExecCtx) {
    super(name, inputs, ctx);
    this.queues = Array.from({ length: inputs }, () => []);
  }

  protected accept(b: Bundle, input: number): void {
    at(this.queues, input).push(b);
  }

  canStart(): boolean {
    while (
      this.current < this.queues.length &&
      at(this.queues, this.current).length === 0 &&
      this.inputsDone[this.current]
    ) {
      this.current++;
    }
    const order = this.ctx.context.preserveOrder;
    return order ? (this.queues[this.current]?.length ?? 0) > 0 : this.queues.some((q) => q.length > 0);
  }

  start(): void {
    const q = this.ctx.context.preserveOrder
      ? at(this.queues, this.current)
      : must(this.queues.find((x) => x.length > 0));
    this.emit(must(q.shift()));
  }

  finished(): boolean {
    return this.allInputsDone && this.queues.every((q) => q.length === 0);
  }

  nextTaskBytes(): number {
    return 0;
  }

  override stop(): void {
    super.stop();
    for (const q of this.queues) for (const b of q.splice(0)) b.release();
  }

  // Union passes its inputs' bundles on: they count against the operators that made them.
  override bundleFreed(): void {}
}
