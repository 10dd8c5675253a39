// How many calls an actor (or a task worker) runs at once, per concurrency group (Ray's
// concurrency groups): the default group, limited by maxConcurrency, and the named groups
// an actor declared (`concurrencyGroups: { io: 10 }`), each with its own limit and queue.
// A group's calls start in the order they arrived; groups do not wait for each other.
// The executor (executor.ts) owns the jobs; this decides which may start.

import { Deque } from '../base/deque.js';
import { InvalidArgumentError } from '../base/errors.js';

/** One group: its limit, its calls running and waiting, and those of its running calls that wait in get(). */
export class ConcurrencyGroup<J> {
  running = 0;
  /** Running calls that wait in get()/wait(): they do not count against the limit meanwhile. */
  blocked = 0;
  readonly queue = new Deque<J>();
  /** Set while start() runs for this group (a call that ends at once re-enters it). */
  pumping = false;

  constructor(
    /** '' for the default group. */
    readonly name: string,
    public limit: number,
  ) {}

  /** Whether one more of its calls may start now. */
  hasRoom(): boolean {
    return this.running - this.blocked < this.limit;
  }
}

/** The default group and an actor's named groups. */
export class ConcurrencyGroups<J> {
  readonly default: ConcurrencyGroup<J>;
  private named: Map<string, ConcurrencyGroup<J>> | undefined;

  constructor(limit = 1) {
    this.default = new ConcurrencyGroup<J>('', limit);
  }

  /** Sets the limits an actor was created with: its default group's, and its named groups'. */
  configure(maxConcurrency: number, groups: Readonly<Record<string, number>> | undefined): void {
    this.default.limit = Math.max(1, maxConcurrency);
    if (!groups) return;
    for (const [name, limit] of Object.entries(groups)) {
      (this.named ??= new Map()).set(name, new ConcurrencyGroup<J>(name, Math.max(1, limit)));
    }
  }

  /** The group of that name ('' for the default one), or undefined if the actor has none of that name. */
  get(name: string): ConcurrencyGroup<J> | undefined {
    return name === '' ? this.default : this.named?.get(name);
  }

  /** Names of the declared groups (for error messages). */
  names(): string[] {
    return this.named ? [...this.named.keys()] : [];
  }

  /**
   * Starts g's waiting calls while it has room, in order. A call that ends at once calls
   * this again from inside start: the outer loop takes its successor, so the stack stays flat.
   */
  pump(g: ConcurrencyGroup<J>, start: (job: J) => void): void {
    if (g.pumping) return;
    g.pumping = true;
    try {
      while (g.hasRoom()) {
        const job = g.queue.shift();
        if (job === undefined) break;
        g.running++;
        start(job);
      }
    } finally {
      g.pumping = false;
    }
  }

  /** Calls waiting in every group. */
  queued(): number {
    let n = this.default.queue.length;
    if (this.named) for (const g of this.named.values()) n += g.queue.length;
    return n;
  }

  /** Calls running in every group. */
  running(): number {
    let n = this.default.running;
    if (this.named) for (const g of this.named.values()) n += g.running;
    return n;
  }

  /** Drops every waiting call (their actor is gone; its node answers for them). */
  clear(): void {
    while (this.default.queue.shift() !== undefined);
    if (this.named) for (const g of this.named.values()) while (g.queue.shift() !== undefined);
  }

  /** Takes the first waiting call that matches out of whichever group holds it. */
  remove(match: (job: J) => boolean): J | undefined {
    const found = this.default.queue.remove(match);
    if (found !== undefined || !this.named) return found;
    for (const g of this.named.values()) {
      const j = g.queue.remove(match);
      if (j !== undefined) return j;
    }
    return undefined;
  }
}

/** The error for a call in a group its actor does not declare. */
export function unknownGroup(name: string, declared: string[], call: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `${call} was called in concurrency group '${name}', which its actor does not declare ` +
      `(${declared.length > 0 ? `it has ${declared.map((n) => `'${n}'`).join(', ')}` : 'it declares none'}): ` +
      "use one of the names given in the actor's concurrencyGroups option, or none for the default group",
  );
}
