// The actor behind a Queue: the items, and the callers blocked in put (queue full) or get
// (queue empty), served first come first served. Its methods are async and run concurrently
// (the Queue sets maxConcurrency), so a blocked get waits here while puts come in. A timeout
// is kept here too, so that a caller that gave up leaves no waiter behind. Misses are values
// (false, null), not throws: the Queue turns them into QueueFullError and QueueEmptyError.
import { Deque } from '../base/deque.js';

interface Getter {
  resolve(got: { item: unknown } | null): void;
  timer: NodeJS.Timeout | undefined;
}

interface Putter {
  item: unknown;
  resolve(ok: boolean): void;
  timer: NodeJS.Timeout | undefined;
}

/** The actor class of Queue (see lib/util/queue.ts). */
export class SunrayQueueActor {
  private readonly items = new Deque<{ item: unknown }>();
  private readonly getters = new Deque<Getter>();
  private readonly putters = new Deque<Putter>();

  /** maxsize 0: no bound. */
  constructor(private readonly maxsize: number) {}

  /** Items held now. */
  size(): number {
    return this.items.length;
  }

  /** No item held now. */
  empty(): boolean {
    return this.items.length === 0;
  }

  /** maxsize items held now (never with no bound). */
  full(): boolean {
    return this.maxsize > 0 && this.items.length >= this.maxsize;
  }

  /** Adds item if there is room now; false if the queue is full. */
  putNowait(item: unknown): boolean {
    if (this.full()) return false;
    this.add(item);
    return true;
  }

  /** Adds item, waiting up to timeoutMs (null: forever) for room; false if none came. */
  put(item: unknown, timeoutMs: number | null): Promise<boolean> | boolean {
    if (this.putNowait(item)) return true;
    if (timeoutMs === 0) return false;
    return new Promise<boolean>((resolve) => {
      const p: Putter = { item, resolve, timer: undefined };
      if (timeoutMs !== null) {
        p.timer = setTimeout(() => {
          this.putters.remove((x) => x === p);
          resolve(false);
        }, timeoutMs);
      }
      this.putters.push(p);
    });
  }

  /** The first item if there is one now, else null. */
  getNowait(): { item: unknown } | null {
    const got = this.items.shift();
    if (got === undefined) return null;
    this.admitPutter();
    return got;
  }

  /** The first item, waiting up to timeoutMs (null: forever) for one; null if none came. */
  get(timeoutMs: number | null): Promise<{ item: unknown } | null> | { item: unknown } | null {
    const got = this.getNowait();
    if (got !== null || timeoutMs === 0) return got;
    return new Promise((resolve) => {
      const g: Getter = { resolve, timer: undefined };
      if (timeoutMs !== null) {
        g.timer = setTimeout(() => {
          this.getters.remove((x) => x === g);
          resolve(null);
        }, timeoutMs);
      }
      this.getters.push(g);
    });
  }

  /** An item goes straight to the first blocked getter, or to the end of the queue. */
  private add(item: unknown): void {
    const g = this.getters.shift();
    if (g) {
      clearTimeout(g.timer);
      g.resolve({ item });
    } else this.items.push({ item });
  }

  /** Room was made: the first blocked put goes in. */
  private admitPutter(): void {
    if (this.full()) return;
    const p = this.putters.shift();
    if (!p) return;
    clearTimeout(p.timer);
    this.add(p.item);
    p.resolve(true);
  }
}
