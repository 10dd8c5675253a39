// Progress output while an experiment runs (Ray's CLIReporter). verbose 1: one status line
// (trials running / terminated / errored / pending, the best so far), at most every few
// seconds; verbose 2: a table of trials as Ray prints it; verbose 3: also a line per result.
// On a TTY the status is redrawn in place; otherwise each report is printed as new lines.
import type { Mode, TrialResult } from './result.js';
import type { TrialStatus } from './scheduler.js';
import type { Trial } from './trial.js';
import { getPath, type Leaf } from './variants.js';

/** What a reporter reads from the running experiment. */
export interface ProgressSource {
  getTrials(): readonly Trial[];
  readonly elapsedS: number;
}

/** Options of the progress reporter. */
export interface ProgressReporterOptions {
  /** 0: silent, 1: status line, 2: table, 3: table and every result (default 1). */
  verbose?: 0 | 1 | 2 | 3;
  /** Where to write (default process.stdout). */
  out?: NodeJS.WritableStream & {
    /** A terminal: the status line is redrawn in place. */
    isTTY?: boolean;
  };
  /** Milliseconds between reports at most (default 1000 on a TTY, where it redraws, else 5000). */
  intervalMs?: number;
  /** Rows of the table at most (default 20). */
  maxRows?: number;
}

const pad = (s: string, w: number) => (s.length >= w ? s : s + ' '.repeat(w - s.length));

function fmt(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    return Number(v.toPrecision(5)).toString();
  }
  if (v === undefined) return '';
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** Prints an experiment's progress. */
export class ProgressReporter {
  private readonly verbose: 0 | 1 | 2 | 3;
  private readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly redraw: boolean;
  private readonly interval: number;
  private readonly maxRows: number;
  private last = -Infinity;
  private drawnLines = 0;

  constructor(
    opts: ProgressReporterOptions,
    private readonly metric: string | undefined,
    private readonly mode: Mode | undefined,
    private readonly leaves: readonly Leaf[],
    /** Trials the experiment will have, when known (grid x numSamples). */
    private readonly total: number | undefined,
    private readonly experimentPath: string,
  ) {
    this.verbose = opts.verbose ?? 1;
    this.out = opts.out ?? process.stdout;
    this.redraw = this.out.isTTY === true && this.verbose < 3;
    this.interval = opts.intervalMs ?? (this.redraw ? 1000 : 5000);
    this.maxRows = opts.maxRows ?? 20;
  }

  start(src: ProgressSource): void {
    if (this.verbose === 0) return;
    this.write(`sunray/tune: experiment ${this.experimentPath}\n`);
    this.report(src);
  }

  /** After each event: reports if the interval has passed. */
  update(src: ProgressSource): void {
    if (this.verbose === 0) return;
    if (performance.now() - this.last < this.interval) return;
    this.report(src);
  }

  /** verbose 3: a line per result. */
  result(trial: Trial, r: TrialResult): void {
    if (this.verbose < 3) return;
    const rec = r as Record<string, unknown>;
    const m = this.metric && rec[this.metric] !== undefined ? ` ${this.metric}=${fmt(rec[this.metric])}` : '';
    this.write(
      `Result for ${trial.name}: iter ${fmt(rec.training_iteration)}${m} time ${fmt(rec.time_total_s)} s\n`,
    );
  }

  end(src: ProgressSource): void {
    if (this.verbose === 0) return;
    this.report(src, true);
    const best = this.best(src.getTrials());
    const lines = [
      `sunray/tune: ${src.getTrials().length} trials in ${src.elapsedS.toFixed(1)} s; results in ${this.experimentPath}`,
    ];
    if (best) {
      lines.push(
        `best trial ${best.t.name}: ${this.metric}=${fmt(best.v)} config ${JSON.stringify(best.t.config)}`,
      );
    }
    this.write(`${lines.join('\n')}\n`);
  }

  private best(trials: readonly Trial[]): { t: Trial; v: number } | undefined {
    if (!this.metric || !this.mode) return undefined;
    let best: { t: Trial; v: number } | undefined;
    for (const t of trials) {
      const v = t.metricValue(this.metric, this.mode, 'last');
      if (v === undefined) continue;
      if (!best || (this.mode === 'max' ? v > best.v : v < best.v)) best = { t, v };
    }
    return best;
  }

  private counts(trials: readonly Trial[]): Record<TrialStatus, number> {
    const c: Record<TrialStatus, number> = { PENDING: 0, RUNNING: 0, PAUSED: 0, TERMINATED: 0, ERROR: 0 };
    for (const t of trials) c[t.status]++;
    return c;
  }

  /** The status line: counts, the best trial so far, the time. */
  statusLine(src: ProgressSource): string {
    const trials = src.getTrials();
    const c = this.counts(trials);
    const notYet = this.total !== undefined ? Math.max(this.total - trials.length, 0) : 0;
    const parts = [`${c.RUNNING} RUNNING`, `${c.TERMINATED} TERMINATED`, `${c.ERROR} ERROR`];
    if (c.PAUSED) parts.push(`${c.PAUSED} PAUSED`);
    parts.push(`${c.PENDING + notYet} PENDING`);
    let line = `[tune ${src.elapsedS.toFixed(1)} s] ${parts.join(', ')}${this.total !== undefined ? ` of ${this.total}` : ''}`;
    const best = this.best(trials);
    if (best) line += ` | best ${this.metric}=${fmt(best.v)} (${best.t.trialId}: ${this.paramText(best.t)})`;
    return line;
  }

  private paramText(t: Trial): string {
    return this.leaves.map((l) => `${l.key}=${fmt(getPath(t.config, l.path))}`).join(', ');
  }

  /** The table of trials (Ray's layout: name, status, location, parameters, metric, iterations, time). */
  table(src: ProgressSource): string {
    const trials = src.getTrials();
    const order: TrialStatus[] = ['RUNNING', 'PAUSED', 'PENDING', 'ERROR', 'TERMINATED'];
    const sorted = [...trials].sort(
      (a, b) => order.indexOf(a.status) - order.indexOf(b.status) || a.index - b.index,
    );
    const shown = sorted.slice(0, this.maxRows);
    const head = ['Trial name', 'status', 'loc', ...this.leaves.map((l) => l.key)];
    if (this.metric) head.push(this.metric);
    head.push('iter', 'total time (s)');
    const rows = shown.map((t) => {
      const r = t.lastResult as Record<string, unknown> | undefined;
      const row = [
        t.name,
        t.status,
        r ? `${fmt(r.hostname)}:${fmt(r.pid)}` : '',
        ...this.leaves.map((l) => fmt(getPath(t.config, l.path))),
      ];
      if (this.metric) row.push(fmt(r?.[this.metric]));
      row.push(fmt(r?.training_iteration), r ? (r.time_total_s as number).toFixed(2) : '');
      return row;
    });
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => pad(c, widths[i] ?? 0))
        .join('  ')
        .trimEnd();
    const out = [this.statusLine(src), line(head), ...rows.map(line)];
    if (sorted.length > shown.length) {
      const rest = this.counts(sorted.slice(shown.length));
      const what = (Object.keys(rest) as TrialStatus[])
        .filter((k) => rest[k] > 0)
        .map((k) => `${rest[k]} ${k}`);
      out.push(`... ${sorted.length - shown.length} more trials not shown (${what.join(', ')})`);
    }
    return out.join('\n');
  }

  private report(src: ProgressSource, final = false): void {
    this.last = performance.now();
    const text = this.verbose >= 2 ? this.table(src) : this.statusLine(src);
    if (this.redraw) {
      // Back to where the previous report began, clear, draw anew.
      const up = this.drawnLines > 1 ? `\x1b[${this.drawnLines - 1}F` : '\r';
      this.out.write(`${this.drawnLines > 0 ? up : ''}\x1b[0J${text}${final ? '\n' : ''}`);
      this.drawnLines = final ? 0 : text.split('\n').length;
    } else this.out.write(`${text}\n`);
  }

  private write(text: string): void {
    if (this.redraw && this.drawnLines > 0) {
      this.out.write('\n');
      this.drawnLines = 0;
    }
    this.out.write(text);
  }
}
