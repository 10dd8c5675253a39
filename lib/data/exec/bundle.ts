// A bundle: one block in the store as the executor tracks it (its ref, its metadata, the
// operator that made it) and why it is alive. A bundle lives while whoever holds it (a queue,
// a running task, the consumer) has not let go, and while a block made from it by a task is
// alive: sunray keeps a task's arguments for as long as its result may have to be rebuilt
// (lineage). When nothing holds it, its producer's share of the budget is given back and the
// driver's handle is released, so the store frees the block at once.
import type { ObjectRef } from '../../index.js';
import type { TaskMeta } from '../tasks.js';

/** Told when a bundle it produced is gone. */
export interface BundleOwner {
  bundleFreed(bytes: number): void;
}

export class Bundle {
  private holders = 1;

  constructor(
    readonly ref: ObjectRef<Uint8Array>,
    readonly meta: TaskMeta | { rows: number; bytes: number },
    /** The operator whose budget it counts against (none for input blocks). */
    private producer: BundleOwner | undefined,
    /** Bundles kept alive by this one (the arguments of the task that made it). */
    readonly holds: readonly Bundle[],
    /** Whether the executor owns the ref (input blocks belong to their dataset). */
    readonly owned: boolean,
  ) {}

  get rows(): number {
    return this.meta.rows;
  }

  get bytes(): number {
    return this.meta.bytes;
  }

  /**
   * Stops counting against its producer's budget now (an all-to-all operator holds every block
   * until all have come; its inputs must not stop the operators before it).
   */
  detach(): this {
    this.producer?.bundleFreed(this.bytes);
    this.producer = undefined;
    return this;
  }

  /**
   * The ref, kept by the caller from now on (materialize): the bundle stops counting and lets
   * go of what it held, but the block stays.
   */
  keep(): ObjectRef<Uint8Array> {
    if (this.holders > 0) {
      this.holders = 0;
      this.producer?.bundleFreed(this.bytes);
      for (const h of this.holds) h.release();
    }
    return this.ref;
  }

  /** One more holder. */
  retain(): this {
    this.holders++;
    return this;
  }

  /** One holder lets go; the last frees the block (and lets go of what it held). */
  release(): void {
    if (this.holders <= 0) return;
    if (--this.holders > 0) return;
    this.producer?.bundleFreed(this.bytes);
    // keepViews: the consumer may still hold batches that are views of this block (iterBatches).
    if (this.owned) this.ref.release({ keepViews: true });
    for (const h of this.holds) h.release();
  }
}
