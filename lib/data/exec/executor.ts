// The streaming executor: runs a physical plan as a pipeline of operators and yields the final
// operator's blocks as they come. Each turn of its loop moves finished blocks to the next
// operator, starts the work that the memory rule allows (budget.ts; the operators nearest the
// output first, so that data drains before more is read), hands ready blocks to the consumer,
// and then sleeps until a task finishes. The consumer pulls: while it works on a block, no new
// work starts beyond what the budget holds, so a slow consumer slows the reads (backpressure).

import * as sunray from '../../index.js';
import { mayStart, shareOf } from '../budget.js';
import { at, must } from '../checked.js';
import type { DataContext } from '../context.js';
import { dataErrorFrom } from '../errors.js';
import { type PhysicalOp, topoOrder } from '../fusion.js';
import { Progress } from '../progress.js';
import { AllToAllOp } from './all-to-all-op.js';
import { Bundle } from './bundle.js';
import { MapOp } from './map-op.js';
import { type ExecCtx, InputOp, LimitOp, type OpState, type OpStats, UnionOp } from './op-state.js';
import { remoteFns } from './remote.js';

/** The figures of an execution (Dataset.stats()). */
export interface ExecutionStats {
  ops: OpStats[];
  totalMs: number;
}

/** A wake-up for the loop: set by task completions, awaited when there is nothing to do. */
class Signal {
  private waiter: (() => void) | undefined;
  private pending = false;

  notify(): void {
    this.pending = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiter = () => {
        this.pending = false;
        resolve();
      };
    });
  }
}

export class StreamingExecutor {
  private readonly signal = new Signal();
  private readonly states: OpState[] = [];
  private readonly consumers = new Map<OpState, Array<[OpState, number]>>();
  private readonly doneSent = new Set<OpState>();
  private readonly t0 = performance.now();
  private ended = false;
  private closed = false;
  /** The figures so far (final once the generator has finished). */
  readonly stats: ExecutionStats = { ops: [], totalMs: 0 };

  constructor(
    private readonly root: PhysicalOp,
    private readonly context: DataContext,
  ) {}

  private build(cpus: number): OpState {
    const ctx: ExecCtx = { context: this.context, cpus, notify: () => this.signal.notify() };

    const made = new Map<PhysicalOp, OpState>();
    for (const p of topoOrder(this.root)) {
      let s: OpState;
      switch (p.kind) {
        case 'map':
          s = new MapOp(p, ctx);
          break;
        case 'input':
          s = new InputOp(p.name, p.blocks, ctx);
          break;
        case 'limit': {
          const upstream = must(made.get(p.input));
          s = new LimitOp(
            p.name,
            p.n,
            ctx,
            (b, rows) => this.slice(b, rows),
            () => this.stopUpstream(upstream),
          );
          break;
        }
        case 'union':
          s = new UnionOp(p.name, p.inputs.length, ctx);
          break;
        case 'allToAll':
        case 'zip':
          s = new AllToAllOp(p, ctx);
          break;
      }
      const ins =
        p.kind === 'map'
          ? p.input
            ? [p.input]
            : []
          : p.kind === 'input'
            ? []
            : 'inputs' in p
              ? p.inputs
              : [p.input];
      ins.forEach((inp, i) => {
        const up = must(made.get(inp));
        const list = this.consumers.get(up) ?? [];
        list.push([s, i]);
        this.consumers.set(up, list);
      });
      made.set(p, s);
      this.states.push(s);
    }
    this.stats.ops = this.states.map((s) => s.stats);
    return must(made.get(this.root));
  }

  /** The first `rows` rows of a bundle, as a new bundle (a task). */
  private async slice(b: Bundle, rows: number): Promise<Bundle> {
    const [metaRef, blockRef] = remoteFns()
      .map.options({ numReturns: 2, name: 'data:limit' })
      .remote({ transforms: [{ op: 'slice', start: 0, end: rows }] }, 0, null, b.ref) as unknown as [
      sunray.ObjectRef<{ rows: number; bytes: number }>,
      sunray.ObjectRef<Uint8Array>,
    ];
    try {
      const meta = await sunray.get(metaRef as sunray.ObjectRef<{ rows: number; bytes: number }>);
      return new Bundle(blockRef, meta, undefined, [b], true);
    } catch (err) {
      b.release();
      (blockRef as sunray.ObjectRef<unknown>).release();
      throw err;
    } finally {
      (metaRef as sunray.ObjectRef<unknown>).release();
    }
  }

  /** A limit was reached: the operators feeding it (and theirs) stop. */
  private stopUpstream(op: OpState): void {
    const visit = (s: OpState) => {
      s.stop();
      for (const [up, list] of this.consumers) if (list.some(([c]) => c === s)) visit(up);
    };
    visit(op);
  }

  private readonly ready: Bundle[] = [];
  private loopDone = false;
  private failure: unknown = undefined;
  private consumerWaiter: (() => void) | undefined;

  private wakeConsumer(): void {
    const w = this.consumerWaiter;
    this.consumerWaiter = undefined;
    w?.();
  }

  /**
   * Runs the plan; yields the final blocks as they come (the consumer must release each). The
   * loop runs on while the consumer works on a block: the budget, not the consumer's pace,
   * bounds what is in flight, and blocks the consumer still holds count against it.
   */
  async *run(): AsyncGenerator<Bundle> {
    const loop = this.loop().then(
      () => {
        this.loopDone = true;
        this.wakeConsumer();
      },
      (err) => {
        this.failure = err;
        this.loopDone = true;
        this.wakeConsumer();
      },
    );
    try {
      for (;;) {
        if (this.ready.length > 0) {
          yield must(this.ready.shift());
          continue;
        }
        if (this.failure !== undefined) throw this.failure;
        if (this.loopDone) break;
        await new Promise<void>((resolve) => {
          this.consumerWaiter = resolve;
        });
      }
    } finally {
      for (const b of this.ready.splice(0)) b.release();
      this.ended = true;
      this.signal.notify();
      await loop;
      await this.close();
    }
  }

  private async loop(): Promise<void> {
    const res = await sunray.clusterResourcesAsync();
    const final = this.build(Math.max(1, res.CPU ?? 1));
    // Operators share 60% of the budget: the rest covers what the store still holds after the
    // executor counts it free (deletes on their way to the owner, views awaiting collection).
    const share = shareOf(Math.floor(this.context.budgetBytes() * 0.6), this.states.length);
    const progress = new Progress(
      this.context,
      () => this.states.map((s) => s.stats),
      () => this.states.map(() => undefined),
    );
    try {
      for (const s of this.states) await s.setup();
      const out: Bundle[] = [];
      while (!this.ended) {
        // Operators that pass blocks on at once (input, union, limit) may enable others: repeat.
        let busy = false;
        while (this.moveOutputs(final, out) || this.startWork(share)) busy = true;
        const failed = this.states.find((s) => s.error !== undefined);
        if (failed) throw dataErrorFrom(failed.error);
        progress.tick();
        if (out.length > 0) {
          this.ready.push(...out.splice(0));
          this.wakeConsumer();
        }
        if (this.doneSent.has(final)) break;
        if (!busy) await this.signal.wait();
      }
      progress.end();
    } finally {
      this.stats.totalMs = performance.now() - this.t0;
      if (this.ended) for (const b of this.ready.splice(0)) b.release();
    }
  }

  /** Moves finished blocks downstream; whether anything moved. */
  private moveOutputs(final: OpState, out: Bundle[]): boolean {
    let any = false;
    let moved = true;
    while (moved) {
      moved = false;
      for (const s of this.states) {
        const cons = this.consumers.get(s) ?? [];
        while (s.outputs.length > 0) {
          const b = must(s.outputs.shift());
          moved = true;
          if (s === final) out.push(b);
          else {
            cons.forEach(([c, i], k) => {
              c.addInput(k === 0 ? b : b.retain(), i);
            });
            if (cons.length === 0) b.release();
          }
        }
        if (s.finished() && s.outputs.length === 0 && !this.doneSent.has(s)) {
          this.doneSent.add(s);
          for (const [c, i] of cons) c.inputDone(i);
          moved = true;
        }
      }
      any ||= moved;
    }
    return any;
  }

  /** Starts what the budget allows, output side first; whether anything started. */
  private startWork(share: number): boolean {
    let any = false;
    let started = true;
    while (started) {
      started = false;
      for (let i = this.states.length - 1; i >= 0; i--) {
        const s = at(this.states, i);
        if (s.canStart() && mayStart(s.usage(), share)) {
          s.start();
          started = any = true;
        }
      }
    }
    return any;
  }

  /** Stops every operator and frees what they hold (early exit, error or end). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = this.ended = true;
    for (const s of this.states) s.stop();
    await Promise.all(this.states.map((s) => s.teardown().catch(() => {})));
  }
}
