// The memory rule of the streaming executor, as pure decisions (unit-tested with fakes): each
// operator may hold at most its share of the execution's budget in the store, counting the
// blocks it produced that are still alive (queued for the next operator, being read by it, or
// kept for a lineage rebuild of a later block) and the blocks its running tasks will produce
// (estimated from the sizes of its finished outputs). An operator over its share starts no
// task; one that holds nothing may always start one, so that every operator makes progress
// even when a single block is larger than its share.

/** What the executor knows of one operator, for the budget. */
export interface OpUsage {
  /** Bytes of this operator's outputs still alive. */
  aliveBytes: number;
  /** Tasks (or actor calls) running. */
  running: number;
  /** Expected bytes of one task's output. */
  estTaskBytes: number;
  /**
   * Whether a task of this operator has finished, so estTaskBytes is measured. Until then the
   * estimate is a guess (output = input), and a task that widens its rows would overshoot the
   * share many times over if a whole wave started on it: one task runs alone first.
   */
  measured?: boolean;
}

/** Each operator's share of a budget (equal shares, at least 1 byte). */
export function shareOf(budgetBytes: number, ops: number): number {
  return Math.max(1, Math.floor(budgetBytes / Math.max(1, ops)));
}

/** Whether the operator may start one more task under its share. */
export function mayStart(u: OpUsage, share: number): boolean {
  if (u.aliveBytes === 0 && u.running === 0) return true;
  if (u.measured === false && u.running > 0) return false;
  return u.aliveBytes + (u.running + 1) * u.estTaskBytes <= share;
}

/**
 * The expected output bytes of a task: the mean of the outputs seen so far, or before any, its
 * input bytes times the ratio of output to input seen so far (1 at first).
 */
export class OutputEstimator {
  private outBytes = 0;
  private inBytes = 0;
  private tasks = 0;

  /** Whether any task has finished (the estimate is measured, not guessed). */
  get measured(): boolean {
    return this.tasks > 0;
  }

  /** Records a finished task. */
  observe(inputBytes: number, outputBytes: number): void {
    this.outBytes += outputBytes;
    this.inBytes += inputBytes;
    this.tasks++;
  }

  /** The estimate for a task reading `inputBytes`. */
  estimate(inputBytes: number): number {
    if (this.tasks === 0) return inputBytes;
    if (this.inBytes > 0 && inputBytes > 0) return Math.ceil(inputBytes * (this.outBytes / this.inBytes));
    return Math.ceil(this.outBytes / this.tasks);
  }
}
