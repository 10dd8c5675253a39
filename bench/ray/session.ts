// One Ray session: a Python process of bench/ray/python/ with Ray started in it, asked for one
// test at a time (`run <name>`; a test whose load runs on Node's side says `ready` and is
// answered `runs <json>`) and stopped when its last row is done. Ray's processes are
// ours alone: a private RAY_TMPDIR, a new local instance (never one already running here),
// and when the session ends every process it started is gone: Ray's shutdown first, then
// SIGKILL for the Python process and, by pid, any Ray process still alive.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { figureOf, parseMarker, type RayFigure, RayTestError } from './parse.js';

export interface SessionOptions {
  python: string;
  /** Absolute path of the session script. */
  script: string;
  /** Every test the bench will ask this session for, in order. */
  rows: readonly string[];
  /** Seconds Ray's timeit sleeps before each test (its warmup_time_sec). */
  settleSec: number;
  /** Bytes of Ray's object store (ray.init's object_store_memory), or Ray's default. */
  objectStoreBytes?: number;
  /** Each line the session prints on stdout (Ray's output and the markers). */
  onLine?: (line: string) => void;
}

interface Proc {
  pid: number;
  start: string;
}

interface Stat {
  ppid: number;
  start: string;
  /** utime + stime, in clock ticks. */
  ticks: number;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
export const TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat we use; undefined if gone or a zombie. */
function procStat(pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') return undefined;
    return { ppid: Number(f[1]), start: f[19]!, ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** pid and the processes below it, now, except the subtree of `skip`. */
function tree(pid: number, skip?: number): (Proc & { ticks: number })[] {
  const children = new Map<number, (Proc & { ticks: number })[]>();
  let self: (Proc & { ticks: number }) | undefined;
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    const st = procStat(p);
    if (!st) continue;
    const proc = { pid: p, start: st.start, ticks: st.ticks };
    if (p === pid) self = proc;
    const list = children.get(st.ppid) ?? [];
    list.push(proc);
    children.set(st.ppid, list);
  }
  if (!self) return [];
  const out = [self];
  const todo = [pid];
  while (todo.length) {
    for (const c of children.get(todo.pop()!) ?? []) {
      if (c.pid === skip) continue;
      out.push(c);
      todo.push(c.pid);
    }
  }
  return out;
}

/** The processes below pid, now (Ray's GCS, raylet, workers...). */
const descendants = (pid: number): Proc[] => tree(pid).slice(1);

/** CPU time (clock ticks) used so far by each living process of a tree, by pid and start time. */
export type CpuSnapshot = Map<string, number>;

/** A reading of pid's tree (the subtree of `skip` left out), for cpuBetween(). */
export function cpuSnapshot(pid: number, skip?: number): CpuSnapshot {
  return new Map(tree(pid, skip).map((p) => [`${p.pid}:${p.start}`, p.ticks]));
}

/**
 * Clock ticks the tree used between two readings: what each process alive at the second
 * used since the first (all of it if it started since). A process that ended in between
 * counts for nothing: its last moments are not seen, so this is a lower bound.
 */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): number {
  let sum = 0;
  for (const [k, t] of b) sum += Math.max(0, t - (a.get(k) ?? 0));
  return sum;
}

export class RaySession {
  private readonly child: ChildProcess;
  private readonly tmp: string;
  private readonly seen = new Map<number, Proc>();
  private readonly stderrTail: string[] = [];
  private current?: {
    name: string;
    lines: string[];
    settle(err?: Error): void;
    ready(setup: Record<string, unknown>): void;
  };
  private exitCode: number | null | undefined;
  private exitSignal: NodeJS.Signals | null = null;
  private killedByUs = false;
  private readonly exited: Promise<void>;

  constructor(opts: SessionOptions) {
    // Short (Ray's unix socket paths live under it) and private (mkdtemp: 0700).
    this.tmp = mkdtempSync(join(tmpdir(), 'sunray-ray-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RAY_TMPDIR: this.tmp,
      RAY_USAGE_STATS_ENABLED: '0',
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONNOUSERSITE: '1',
    };
    delete env.RAY_ADDRESS; // never join a cluster named by the environment
    this.child = spawn(
      opts.python,
      [
        opts.script,
        '--rows',
        JSON.stringify(opts.rows),
        '--settle',
        String(opts.settleSec),
        ...(opts.objectStoreBytes ? ['--object-store-memory', String(opts.objectStoreBytes)] : []),
      ],
      { env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        this.current?.settle(this.endedError());
        resolve();
      });
      this.child.once('error', (e) => {
        this.stderrTail.push(e.message);
        this.exitCode = -1;
        this.current?.settle(this.endedError());
        resolve();
      });
    });
    this.child.stdin!.on('error', () => undefined); // a session that died: its exit says why
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      opts.onLine?.(line);
      const cur = this.current;
      if (!cur) return;
      cur.lines.push(line);
      const m = parseMarker(line);
      if ((m?.kind === 'done' || m?.kind === 'error') && m.name === cur.name) cur.settle();
      else if (m?.kind === 'ready' && m.name === cur.name) cur.ready(m.setup);
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      if (!line.trim()) return;
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
    });
  }

  /** The session's Python process (its tree is Ray's processes). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** The last error-looking line Python wrote, for a one-line reason ('' if none). */
  private lastError(): string {
    const lines = this.stderrTail.filter(
      (l) => !/\bINFO\b/.test(l) && /error|exception|failed|killed|cannot|no module/i.test(l),
    );
    return (lines.at(-1) ?? '').trim().slice(0, 300);
  }

  private endedError(): RayTestError {
    const why = this.lastError();
    const how =
      this.exitSignal === null
        ? `exit ${this.exitCode}`
        : this.exitSignal === 'SIGKILL' && !this.killedByUs
          ? 'killed by SIGKILL, not from the bench: the kernel, if memory ran out'
          : `killed by ${this.exitSignal}`;
    return new RayTestError(`Ray session ended (${how})${why ? `: ${why}` : ''}`);
  }

  private remember(): void {
    if (this.child.pid === undefined || !this.alive) return;
    for (const p of descendants(this.child.pid)) this.seen.set(p.pid, p);
  }

  /**
   * Measures one test: Ray's figure as printed, or RayTestError / RayOutputError. A test
   * that says it is set up and waits for its load (`ready`) gets `drive`'s figures (`runs
   * <json>`), or `fail <why>` when there is no drive or it failed; the timeout covers it all.
   */
  run(
    name: string,
    timeoutMs: number,
    drive?: (setup: Record<string, unknown>) => Promise<number[]>,
  ): Promise<RayFigure> {
    if (!this.alive) return Promise.reject(this.endedError());
    if (this.current) return Promise.reject(new Error(`Ray session busy with ${this.current.name}`));
    return new Promise<RayFigure>((resolve, reject) => {
      const lines: string[] = [];
      // Processes are noted while the test runs (and when it ends), so none outlives the session unseen.
      const poll = setInterval(() => this.remember(), 2000);
      const timer = setTimeout(
        () => cur.settle(new RayTestError(`Ray: ${name}: no figure after ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      const answer = (line: string) => {
        if (this.current === cur && this.alive) this.child.stdin!.write(`${line}\n`);
      };
      const cur = {
        name,
        lines,
        ready: (setup: Record<string, unknown>) => {
          if (!drive) return answer(`fail the bench has no load for "${name}"`);
          drive(setup).then(
            (runs) => answer(`runs ${JSON.stringify(runs)}`),
            (e: unknown) =>
              answer(`fail ${(e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300)}`),
          );
        },
        settle: (err?: Error) => {
          if (this.current !== cur) return;
          this.current = undefined;
          clearTimeout(timer);
          clearInterval(poll);
          this.remember();
          if (err) return reject(err);
          try {
            resolve(figureOf(lines, name));
          } catch (e) {
            reject(e);
          }
        },
      };
      this.current = cur;
      this.child.stdin!.write(`run ${name}\n`);
    });
  }

  /**
   * Ends the session: `stop` (Ray shuts itself down), SIGKILL for Python after timeoutMs,
   * then SIGKILL for each Ray process seen during the session that is still alive (same
   * pid and start time, so never a stranger that reused the pid); the temp dir goes last.
   */
  async stop(timeoutMs = 60_000): Promise<void> {
    this.remember();
    if (this.alive) {
      this.child.stdin!.end('stop\n');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      if (this.alive) {
        this.killedByUs = true;
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    await killLeftovers([...this.seen.values()]);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** SIGKILL for each process still alive as the same process; waits (bounded) until they are gone. */
async function killLeftovers(procs: Proc[]): Promise<void> {
  const same = (p: Proc) => procStat(p.pid)?.start === p.start;
  // Ray's own shutdown may still be ending its workers: give it a moment first.
  for (let i = 0; i < 20 && procs.some(same); i++) await new Promise((r) => setTimeout(r, 100));
  for (const p of procs) {
    if (!same(p)) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (let i = 0; i < 50 && procs.some(same); i++) await new Promise((r) => setTimeout(r, 100));
}
