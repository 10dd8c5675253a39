// The coordinator of streamingSplit: an actor that runs the dataset's execution once and deals
// its blocks out to n consumers as they ask. Without `equal`, a block goes to whoever asks
// first. With `equal`, a consumer gets a block only while it has no more rows than any other,
// and the coordinator keeps a reserve of blocks (n times the largest block seen); when the
// execution ends, the reserve is cut so that every consumer ends with the same row count.
// Blocks stay held (counted in the budget) until their consumer asks for the next ones.

import type * as sunray from '../index.js';
import { at, must } from './checked.js';
import type { Bundle } from './exec/bundle.js';
import { planSlices } from './exec/partitioning.js';
import { execute, sliceBlock } from './exec/run.js';
import type { InputBlock, LogicalOp } from './plan.js';

/** What a consumer gets: a block, or null at the end. */
export type SplitItem = { ref: sunray.ObjectRef<Uint8Array>; rows: number } | null;

export class DataSplitCoordinator {
  private readonly gen: AsyncGenerator<Bundle>;
  private readonly reserve: Bundle[] = [];
  private reserveRows = 0;
  private maxRows = 0;
  private exhausted = false;
  private readonly rows: number[];
  private readonly held: Bundle[][];
  private readonly tails: Array<InputBlock[] | undefined>;
  private pulling: Promise<void> | undefined;
  private cutting: Promise<void> | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    plan: LogicalOp,
    private readonly n: number,
    private readonly equal: boolean,
  ) {
    this.gen = execute(plan).blocks;
    this.rows = new Array(n).fill(0);
    this.held = Array.from({ length: n }, () => []);
    this.tails = new Array(n).fill(undefined);
  }

  /** Pulls one block from the execution into the reserve. */
  private pull(): Promise<void> {
    this.pulling ??= this.gen.next().then(
      (r) => {
        this.pulling = undefined;
        if (r.done) this.exhausted = true;
        else {
          this.reserve.push(r.value);
          this.reserveRows += r.value.rows;
          this.maxRows = Math.max(this.maxRows, r.value.rows);
        }
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      },
      (err) => {
        this.pulling = undefined;
        throw err;
      },
    );
    return this.pulling;
  }

  private minRows(): number {
    return Math.min(...this.rows);
  }

  /**
   * The final cut (equal), made once: consumers that reach the end together all wait for the
   * same cut (a second cut would find the reserve already taken and give its consumer nothing).
   */
  private cutTails(): Promise<void> {
    this.cutting ??= this.cut();
    return this.cutting;
  }

  /** The reserve into slices that bring every split to the same total. */
  private async cut(): Promise<void> {
    const total = this.rows.reduce((a, b) => a + b, 0) + this.reserveRows;
    const target = Math.floor(total / this.n);
    const need = this.rows.map((r) => Math.max(0, target - r));
    const blocks = this.reserve.splice(0);
    this.reserveRows = 0;
    const slices = planSlices(
      blocks.map((b) => b.rows),
      this.n,
      need,
    );
    for (let i = 0; i < this.n; i++) {
      this.tails[i] = await Promise.all(
        at(slices, i).map((s) =>
          sliceBlock({ ref: at(blocks, s.block).ref, meta: at(blocks, s.block).meta }, s.start, s.end),
        ),
      );
    }
    for (const b of blocks) b.release();
  }

  /**
   * The next block for consumer `split`, or null when it has had all of its share. `done`:
   * how many of the blocks it was given before it has finished with (they are let go).
   */
  async next(split: number, done: number): Promise<SplitItem> {
    const held = at(this.held, split);
    for (const b of held.splice(0, done)) b.release();
    for (;;) {
      if (!this.equal) {
        if (this.reserve.length > 0) return this.give(split, must(this.reserve.shift()));
        if (this.exhausted) return null;
        await this.pull();
        continue;
      }
      const tail = this.tails[split];
      if (tail) {
        const b = tail.shift();
        if (!b) return null;
        this.rows[split] = at(this.rows, split) + b.meta.rows;
        return { ref: b.ref, rows: b.meta.rows };
      }
      if (this.exhausted) {
        await this.cutTails();
        continue;
      }
      // Keep a reserve of n of the largest blocks, so that the end can be cut equal.
      const reserveWanted = this.n * Math.max(1, this.maxRows);
      if (this.reserveRows - (this.reserve[0]?.rows ?? 0) < reserveWanted || this.reserve.length === 0) {
        await this.pull();
        continue;
      }
      if (at(this.rows, split) > this.minRows()) {
        // Ahead of another consumer: wait until it catches up (or the execution moves on).
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const b = must(this.reserve.shift());
      this.reserveRows -= b.rows;
      return this.give(split, b);
    }
  }

  private give(split: number, b: Bundle): SplitItem {
    this.rows[split] = at(this.rows, split) + b.rows;
    at(this.held, split).push(b);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    return { ref: b.ref, rows: b.rows };
  }

  /** Rows given to each consumer so far. */
  counts(): number[] {
    return [...this.rows];
  }
}
