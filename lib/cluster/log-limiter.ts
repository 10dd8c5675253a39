// Log lines that a peer can cause (refused handshakes, bad frames) at most once a
// second per cause: anyone who can reach a node's port could otherwise fill its
// log (40k bad hellos wrote 4 MB). Lines of one cause within the second after a
// logged one are counted, and the count comes with the next line of that cause
// or, if none comes, a second later on its own.

/** Lines of one cause, at most one per interval. */
interface Cause {
  last: number;
  suppressed: number;
  /** The latest line suppressed: the summary shows it, so a real peer is named. */
  latest: string;
  timer: NodeJS.Timeout | undefined;
}

/** Causes tracked at once; lines of any further cause share one entry. */
const MAX_CAUSES = 64;

/** Writes lines at most once per interval per cause, counting the ones it holds back (see above). */
export class LogLimiter {
  private readonly causes = new Map<string, Cause>();

  /**
   * @param log where lines go
   * @param intervalMs the least time between two lines of one cause
   * @param now the clock (tests pass a fake one)
   */
  constructor(
    private readonly log: (line: string) => void,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `text` unless a line of `cause` was logged less than an interval ago (then counts it). */
  line(cause: string, text: string): void {
    let key = cause;
    if (!this.causes.has(key) && this.causes.size >= MAX_CAUSES) key = '(other causes)';
    const t = this.now();
    const c = this.causes.get(key);
    if (!c) {
      this.causes.set(key, { last: t, suppressed: 0, latest: '', timer: undefined });
      this.log(text);
      return;
    }
    if (t - c.last >= this.intervalMs) {
      const more = c.suppressed;
      this.reset(c, t);
      this.log(`${text}${this.tail(more)}`);
      return;
    }
    c.suppressed++;
    c.latest = text;
    c.timer ??= setTimeout(() => this.flush(key), c.last + this.intervalMs - t).unref();
  }

  /** The count of a cause's suppressed lines, a second after its last logged one. */
  private flush(key: string): void {
    const c = this.causes.get(key);
    if (!c) return;
    c.timer = undefined;
    // A timer can run late, after a line of this cause was logged on time (which moved `last`):
    // then wait out that line's interval, or its count would follow it at once.
    const wait = c.last + this.intervalMs - this.now();
    if (wait > 0) {
      c.timer = setTimeout(() => this.flush(key), wait).unref();
      return;
    }
    if (c.suppressed === 0) {
      this.causes.delete(key); // quiet for a whole interval: forget it
      return;
    }
    const { suppressed, latest } = c;
    this.reset(c, this.now());
    this.log(`${latest}${this.tail(suppressed - 1)}`);
    c.timer = setTimeout(() => this.flush(key), this.intervalMs).unref();
  }

  private reset(c: Cause, t: number): void {
    c.last = t;
    c.suppressed = 0;
    c.latest = '';
  }

  /** What is said of the lines of a cause that were not logged. */
  private tail(more: number): string {
    return more > 0 ? ` (and ${more} more like it, not logged: at most one line a second per cause)` : '';
  }

  /** Stops the timers (the node is closing). */
  close(): void {
    for (const c of this.causes.values()) if (c.timer) clearTimeout(c.timer);
    this.causes.clear();
  }
}

/** A cause from a line: its text with numbers and addresses taken out. */
export function causeOf(reason: string): string {
  return reason.replace(/[0-9a-f]*\d[0-9a-f.:]*/gi, '#');
}
