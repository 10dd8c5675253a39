// Progress of a running execution and the report of a finished one. On a TTY, one bar per
// operator (rows, blocks, bytes, elapsed), redrawn in place on stderr; elsewhere, a plain line
// per operator every progressIntervalMs (nothing for executions shorter than that). stats()
// formats the per-operator figures afterwards.
import { at } from './checked.js';
import type { DataContext } from './context.js';
import type { OpStats } from './exec/op-state.js';

/** Bytes in a short human form. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function line(s: OpStats, elapsedMs: number, expectedBlocks?: number): string {
  return `${s.name}: ${s.rows.toLocaleString('en-US')} rows, ${s.blocks}${expectedBlocks ? `/${expectedBlocks}` : ''} blocks, ${formatBytes(s.bytes)}, ${(elapsedMs / 1000).toFixed(1)} s`;
}

function bar(s: OpStats, elapsedMs: number, expectedBlocks: number | undefined, width: number): string {
  const frac = expectedBlocks ? Math.min(1, s.blocks / expectedBlocks) : 0;
  const cells = 20;
  const full = Math.round(frac * cells);
  const text = `${'█'.repeat(full)}${'░'.repeat(cells - full)} ${line(s, elapsedMs, expectedBlocks)}`;
  return text.length > width ? text.slice(0, width - 1) : text;
}

/** Shows an execution's progress while it runs. */
export class Progress {
  private readonly mode: 'bars' | 'lines' | 'off';
  private readonly t0 = performance.now();
  private last = 0;
  private drawn = 0;

  constructor(
    private readonly ctx: DataContext,
    private readonly stats: () => OpStats[],
    private readonly expected: () => Array<number | undefined>,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    const m = ctx.progress;
    this.mode = m === 'auto' ? (out.isTTY ? 'bars' : 'lines') : m;
  }

  /** Called often: draws when the interval has passed. */
  tick(): void {
    if (this.mode === 'off') return;
    const now = performance.now();
    const every =
      this.mode === 'bars' ? Math.min(250, this.ctx.progressIntervalMs) : this.ctx.progressIntervalMs;
    if (now - this.t0 < this.ctx.progressIntervalMs && this.mode === 'lines') return;
    if (now - this.last < every) return;
    this.last = now;
    this.draw(now);
  }

  private draw(now: number): void {
    const stats = this.stats();
    const expected = this.expected();
    const elapsed = now - this.t0;
    if (this.mode === 'lines') {
      for (let i = 0; i < stats.length; i++)
        this.out.write(`sunray.data ${line(at(stats, i), elapsed, expected[i])}\n`);
      return;
    }
    const width = this.out.columns ?? 100;
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (let i = 0; i < stats.length; i++)
      text += `\x1b[2K${bar(at(stats, i), elapsed, expected[i], width)}\n`;
    this.out.write(text);
    this.drawn = stats.length;
  }

  /** The execution ended: bars are drawn a last time (full), lines say nothing more. */
  end(): void {
    if (this.mode === 'bars' && this.drawn > 0) this.draw(performance.now());
  }
}

/** The report of stats(): one paragraph per operator, as Ray's Dataset.stats(). */
export function formatStats(ops: OpStats[], totalMs: number): string {
  const out: string[] = [];
  ops.forEach((s, i) => {
    out.push(
      `Operator ${i} ${s.name}: ${s.tasks} tasks, ${s.blocks} blocks produced in ${(s.wallMs / 1000).toFixed(2)} s`,
      `* Rows output: ${s.rows.toLocaleString('en-US')}`,
      `* Bytes output: ${formatBytes(s.bytes)}`,
      `* Task time: ${(s.taskMs / 1000).toFixed(2)} s in all${s.tasks > 0 ? `, ${(s.taskMs / s.tasks).toFixed(1)} ms per task` : ''}`,
      `* Peak store bytes held: ${formatBytes(s.peakBytes)}`,
      '',
    );
  });
  out.push(`Dataset executed in ${(totalMs / 1000).toFixed(2)} s`);
  return out.join('\n');
}
