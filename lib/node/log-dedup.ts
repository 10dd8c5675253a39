// Ray's log deduplication, for the driver that prints its workers' lines: a line that many
// processes print (the same words once those with digits or long hex are left out, so
// "step 12 on worker 9a1f..." and "step 13 on worker 77c2..." are one) is printed the first
// time, and copies from other processes within the next DEDUP_WINDOW_MS are held back and
// counted; when the window ends the last copy is printed once with
// `[repeated Nx across cluster]`. Lines a process repeats itself are all printed (a loop's
// progress is not cluster noise). init({ logDedup: false }) switches it off.
import type { LogLine } from '../protocol/log-lines.js';

/** How long copies of a printed line are held back and counted. */
export const DEDUP_WINDOW_MS = 5000;
/** Distinct lines remembered at once: past it the oldest windows end early. */
const MAX_TRACKED = 10_000;

/** A line to print, and the node it came from (none: this node). */
export interface PrintLine extends LogLine {
  node?: string;
}

interface Seen {
  firstAt: number;
  /** The process whose copy was printed. */
  source: string;
  /** Copies held back since. */
  count: number;
  last: PrintLine;
}

/** Words that differ between processes of the same program: left out of the comparison. */
const VARYING = /\d|[0-9a-f]{16,}/i;

/** The line as lines are compared: the words without digits or long hex. */
export function dedupKey(l: Pick<LogLine, 'err' | 'text'>): string {
  const words = l.text.split(/\s+/).filter((w) => w !== '' && !VARYING.test(w));
  return words.length === 0 ? '' : `${l.err ? 'e' : 'o'}${words.join(' ')}`;
}

/** Decides which lines print now and which are folded (see the file comment). */
export class LogDedup {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly windowMs = DEDUP_WINDOW_MS,
  ) {}

  /** The lines to print now; copies from other processes within a window are held back. */
  take(lines: readonly PrintLine[]): PrintLine[] {
    const out: PrintLine[] = [];
    const now = this.now();
    for (const l of lines) {
      const key = dedupKey(l);
      if (key === '') {
        out.push(l);
        continue;
      }
      const source = `${l.node ?? ''}:${l.pid}`;
      const s = this.seen.get(key);
      if (s && now - s.firstAt < this.windowMs) {
        if (s.source === source) out.push(l);
        else {
          s.count++;
          s.last = l;
        }
        continue;
      }
      if (s) {
        const folded = repeated(s);
        if (folded) out.push(folded);
        this.seen.delete(key);
      }
      this.seen.set(key, { firstAt: now, source, count: 0, last: l });
      out.push(l);
      if (this.seen.size > MAX_TRACKED) out.push(...this.end(1));
    }
    return out;
  }

  /** The folded lines of windows that have ended (all of them with everything: at shutdown). */
  flush(everything = false): PrintLine[] {
    const now = this.now();
    const out: PrintLine[] = [];
    for (const [key, s] of this.seen) {
      if (!everything && now - s.firstAt < this.windowMs) continue;
      this.seen.delete(key);
      const folded = repeated(s);
      if (folded) out.push(folded);
    }
    return out;
  }

  /** Ends the n oldest windows. */
  private end(n: number): PrintLine[] {
    const out: PrintLine[] = [];
    for (const [key, s] of this.seen) {
      if (n-- <= 0) break;
      this.seen.delete(key);
      const folded = repeated(s);
      if (folded) out.push(folded);
    }
    return out;
  }
}

function repeated(s: Seen): PrintLine | undefined {
  if (s.count === 0) return undefined;
  return { ...s.last, text: `${s.last.text} [repeated ${s.count}x across cluster]` };
}
