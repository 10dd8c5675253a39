// Where a driver prints the lines of its job's workers, from its own node and from every
// other node of the cluster: `(task pid=N[, node=xxxxxxxx]) text` on its stdout or stderr
// as the worker wrote it, folded by log-dedup.ts unless init({ logDedup: false }).
import { linePrefix } from '../protocol/log-lines.js';
import { LogDedup, type PrintLine } from './log-dedup.js';

/** Writes a string to the driver's stdout or stderr. */
export type PrintTo = (err: boolean, text: string) => void;

const toProcess: PrintTo = (err, text) => {
  (err ? process.stderr : process.stdout).write(text);
};

/** A driver's printer of worker lines. */
export class LogPrinter {
  private readonly dedup: LogDedup | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    dedup: boolean,
    private readonly to: PrintTo = toProcess,
  ) {
    this.dedup = dedup ? new LogDedup() : undefined;
    if (this.dedup) this.timer = setInterval(() => this.write(this.dedup?.flush() ?? []), 1000).unref();
  }

  /** Prints lines (node: the node they came from, when it is not this one). */
  print(lines: readonly PrintLine[]): void {
    this.write(this.dedup ? this.dedup.take(lines) : lines);
  }

  /** Prints what dedup still holds back, and stops. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.write(this.dedup?.flush(true) ?? []);
  }

  private write(lines: readonly PrintLine[]): void {
    let out = '';
    let err = '';
    for (const l of lines) {
      const text = `${linePrefix(l, l.node)}${l.text}\n`;
      if (l.err) err += text;
      else out += text;
    }
    if (out) this.to(false, out);
    if (err) this.to(true, err);
  }
}
