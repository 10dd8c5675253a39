// Peak resident memory of the driver and of the node's worker processes.
// VmHWM (/proc/<pid>/status) is each process's own high-water mark, so sampling it
// now and then and keeping the maximum per pid catches workers that exit later.
// Note: pages of the shared-memory arena a process touched count in its RSS.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

export function vmHwmKiB(pid: number, field = 'VmHWM'): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(s);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resets a process's VmHWM to its current RSS (Linux: write 5 to clear_refs); false if not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Descendant pids of pid (via /proc/<pid>/stat ppid). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(e), Number(after[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [c, pp] of parent) {
      if (pp === p) {
        out.push(c);
        frontier.push(c);
      }
    }
  }
  return out;
}

/** Samples peak RSS of this process and its descendants (or the pids listWorkers returns). */
export class PeakRss {
  private readonly peaks = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  workersFound = false;

  constructor(private readonly listWorkers?: () => number[]) {}

  private pids(): number[] {
    let pids: number[] = [];
    try {
      pids = this.listWorkers?.() ?? [];
    } catch {
      pids = [];
    }
    return pids.length ? pids : descendants(process.pid);
  }

  sample(): void {
    const pids = this.pids();
    if (pids.length) this.workersFound = true;
    for (const pid of [process.pid, ...pids]) {
      const kib = vmHwmKiB(pid);
      if (kib !== undefined) this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, kib));
    }
  }

  /** Resets the high-water marks first (so earlier benchmarks don't count), then samples every everyMs. */
  /** The driver's resident memory when start() was called (MiB): what earlier work left behind. */
  driverStartMiB = 0;

  start(everyMs = 200): this {
    (globalThis as { gc?: () => void }).gc?.();
    this.driverStartMiB = Math.round((vmHwmKiB(process.pid, 'VmRSS') ?? 0) / 1024);
    resetPeak(process.pid);
    for (const pid of this.pids()) resetPeak(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    return this;
  }

  stop(): { driverMiB: number; workersMaxMiB: number; workersSumMiB: number; workers: number } {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const driver = this.peaks.get(process.pid) ?? 0;
    const workers = [...this.peaks.entries()].filter(([p]) => p !== process.pid).map(([, v]) => v);
    const mib = (k: number) => Math.round(k / 1024);
    return {
      driverMiB: mib(driver),
      workersMaxMiB: mib(Math.max(0, ...workers)),
      workersSumMiB: mib(workers.reduce((a, b) => a + b, 0)),
      workers: workers.length,
    };
  }
}
