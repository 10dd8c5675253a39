// The Ray side of `--vs-ray`: measures a row's Ray counterpart right after sunray's figure
// for it. One session (bench/ray/session.ts) per source, started at its first row and stopped
// after its last, so at most one Ray instance is up; a test shared by two rows (a [store API]
// variant) is measured once. Ray failing never fails the bench: the row's Ray cell says why.

import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, Benchmark, RayCounterpart, RayHere } from '../harness/types.js';
import { isCounterpart, RAY_PERF } from './counterparts.js';
import type { RayFigure } from './parse.js';
import { type CpuSnapshot, cpuBetween, cpuSnapshot, RaySession, TICKS_PER_SECOND } from './session.js';
import type { RayEnv } from './venv.js';

const PYTHON_DIR = fileURLToPath(new URL('./python/', import.meta.url));

export interface RunnerOptions {
  env: RayEnv;
  /** The rows in the order they will run (bench/ray/order.ts): says what each session will be asked. */
  plan: readonly Benchmark[];
  /** Ray timeit's sleep before each test (its warmup_time_sec: 10 s; less with --quick). */
  settleSec: number;
  /** Bytes of Ray's object store: as many as sunray's in the same run. */
  objectStoreBytes?: number;
  /** Time one test may take on Ray's side, start of its session not counted. */
  testTimeoutMs: number;
  /** Time a session may take to start (Ray's start: 10-30 s here), added to its first test's. */
  startTimeoutMs?: number;
  /**
   * After a test, wait up to this long for Ray's processes to go quiet (under a quarter of a
   * core) before sunray's next row: Ray keeps working for a few seconds after its figure
   * (up to 1.6 cores here, e.g. actors starting). Ray's timeit pauses before each test too.
   */
  quietMs?: number;
  /** Every line the sessions print (Ray's own output). */
  onLine?: (line: string) => void;
  log?: (line: string) => void;
}

/**
 * The script a session runs, for a source name: 'ray_perf' is Ray's own, a file name is ours
 * in bench/ray/python/, an absolute path is taken as it is (tests).
 */
export const scriptOf = (source: string): string =>
  isAbsolute(source) ? source : `${PYTHON_DIR}${source === RAY_PERF ? 'ray_perf_session.py' : source}`;

const reasonOf = (e: unknown): string =>
  (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

/** Ray's figure in the row's unit: scaled, turned into µs per operation, or into the time of `scale` operations. */
export function inRowUnit(fig: RayFigure, c: RayCounterpart): { mean: number; sd: number } {
  if (c.convert === 'µs') return { mean: 1e6 / fig.perSecond, sd: (1e6 * fig.sd) / fig.perSecond ** 2 };
  const k = c.scale ?? 1;
  if (c.convert === 'per') return { mean: k / fig.perSecond, sd: (k * fig.sd) / fig.perSecond ** 2 };
  return { mean: fig.perSecond * k, sd: fig.sd * k };
}

export class RayRunner {
  private active?: { source: string; session: RaySession };
  private readonly broken = new Map<string, string>();
  /** Figures measured so far, by source and test, with the row that measured them. */
  private readonly measured = new Map<string, { fig: RayFigure; row: string }>();
  /** Per source, the tests still to be asked, in plan order. */
  private readonly pending = new Map<string, string[]>();
  /** Sessions started again after one died, by source: once each. */
  private readonly restarted = new Set<string>();
  /** CPU of Ray's processes when its last test ended (and the session went quiet). */
  private idleFrom?: { cpu: CpuSnapshot; at: number; session: RaySession };

  constructor(private readonly opts: RunnerOptions) {
    for (const b of opts.plan) {
      const c = b.vsRay;
      if (!isCounterpart(c)) continue;
      const list = this.pending.get(c.source) ?? [];
      if (!list.includes(c.test)) list.push(c.test);
      this.pending.set(c.source, list);
    }
  }

  private async session(source: string): Promise<RaySession> {
    if (this.active?.source === source && this.active.session.alive) return this.active.session;
    await this.endActive();
    this.opts.log?.(`Ray: starting a ${source} session (Ray ${this.opts.env.version})`);
    const session = new RaySession({
      python: this.opts.env.python,
      script: scriptOf(source),
      rows: this.pending.get(source) ?? [],
      settleSec: this.opts.settleSec,
      objectStoreBytes: this.opts.objectStoreBytes,
      onLine: this.opts.onLine,
    });
    this.active = { source, session };
    return session;
  }

  /** Ends the session that is up; one that hangs gets killed after timeoutMs. */
  private async endActive(timeoutMs?: number): Promise<void> {
    const a = this.active;
    this.active = undefined;
    if (a) await a.session.stop(timeoutMs);
  }

  /**
   * Ray's figure for row b, in `unit` (sunray's unit for the row), or undefined when the row
   * has no vsRay at all (baselines). `ctx` is the row's (a `drive` load runs with it).
   */
  async measure(b: Benchmark, unit: string | undefined, ctx?: BenchContext): Promise<RayHere | undefined> {
    const c = b.vsRay;
    if (!c) return undefined;
    if (!isCounterpart(c)) return { status: 'skipped', source: '', test: '', reason: c.none };
    const base = {
      source: c.source,
      test: c.test,
      unit: unit ?? c.unit ?? (c.convert === 'µs' ? 'µs' : '/s'),
    };
    const key = `${c.source}\0${c.test}`;
    const t0 = performance.now();
    // What Ray's processes used while sunray measured this row (if Ray was up then).
    const rayIdleCores = this.idleCores();
    const earlier = this.measured.get(key);
    if (earlier) {
      return {
        ...base,
        status: 'ok',
        ...inRowUnit(earlier.fig, c),
        note: [`the same Ray run as "${earlier.row}"`, c.note].filter(Boolean).join('; '),
        seconds: 0,
        rayIdleCores,
      };
    }
    const seconds = () => Math.round((performance.now() - t0) / 100) / 10;
    const brokenWhy = this.broken.get(c.source);
    if (brokenWhy) return { ...base, status: 'failed', reason: brokenWhy, seconds: 0 };
    const list = this.pending.get(c.source) ?? [];
    let result: RayHere;
    try {
      const fresh = this.active?.source !== c.source || !this.active.session.alive;
      const s = await this.session(c.source);
      const sunray0 = { cpu: cpuSnapshot(process.pid, s.pid), at: performance.now() };
      // A row whose load runs here (c.drive): its notes join the cell's.
      const driven: string[] = [];
      const drive = c.drive;
      const load = drive
        ? async (setup: Record<string, unknown>) => {
            if (!ctx) throw new Error(`the bench gave no context to run the load of "${b.name}"`);
            const r = await drive(setup, ctx);
            driven.push(...(r.notes ?? []));
            return r.perSecond;
          }
        : undefined;
      // The first test of a session also waits for Ray to start (ray.init: 10-30 s here).
      const fig = await s.run(
        c.test,
        this.opts.testTimeoutMs + (fresh ? (this.opts.startTimeoutMs ?? 180_000) : 0),
        load,
      );
      const sunrayIdleCores = coresSince(sunray0, cpuSnapshot(process.pid, s.pid));
      this.measured.set(key, { fig, row: b.name });
      result = {
        ...base,
        status: 'ok',
        ...inRowUnit(fig, c),
        note: [c.note, ...driven].filter(Boolean).join('; ') || undefined,
        seconds: seconds(),
        rayIdleCores,
        sunrayIdleCores,
      };
      if (list.length > 1) await this.quiet(s);
    } catch (e) {
      result = { ...base, status: 'failed', reason: reasonOf(e), seconds: seconds() };
      // A session that hung is not asked again: every later row would wait as long. One that
      // died (a crash, the kernel's OOM killer) starts again once for the rest of its rows.
      const a = this.active;
      if (a && a.source === c.source && (!a.session.alive || /no figure after/.test(result.reason!))) {
        const hung = a.session.alive;
        await this.endActive(2000); // a hung test does not end on `stop`
        if (hung || this.restarted.has(c.source))
          this.broken.set(c.source, `Ray session failed earlier: ${result.reason}`);
        else this.restarted.add(c.source);
      }
    }
    list.splice(list.indexOf(c.test), 1);
    // Its last row done, the session ends now, between rows, not while sunray measures.
    if (list.length === 0 && this.active?.source === c.source) await this.endActive();
    return result;
  }

  /**
   * Cores Ray's processes used since the last reading, if its session is still up; the next
   * reading starts now.
   */
  private idleCores(): number | undefined {
    const f = this.idleFrom;
    if (!f || this.active?.session !== f.session || !f.session.alive || f.session.pid === undefined)
      return undefined;
    const cpu = cpuSnapshot(f.session.pid);
    const cores = coresSince(f, cpu);
    this.idleFrom = { cpu, at: performance.now(), session: f.session };
    return cores;
  }

  /** Waits (bounded) until Ray's processes use under a quarter of a core, then notes their CPU. */
  private async quiet(s: RaySession): Promise<void> {
    const pid = s.pid;
    this.idleFrom = undefined;
    if (pid === undefined) return;
    const end = performance.now() + (this.opts.quietMs ?? 0);
    let last = { cpu: cpuSnapshot(pid), at: performance.now() };
    while (performance.now() < end && s.alive) {
      await new Promise((r) => setTimeout(r, 500));
      const now = { cpu: cpuSnapshot(pid), at: performance.now() };
      const cores = coresSince(last, now.cpu) ?? 0;
      last = now;
      if (cores < 0.25) break;
    }
    this.idleFrom = { ...last, session: s };
  }

  /** Stops whatever session is still up (and every process it started). */
  async close(): Promise<void> {
    await this.endActive();
  }
}

/** Cores used between a reading and now (the reading now given), rounded to 0.01; none under 0.5 s. */
function coresSince(from: { cpu: CpuSnapshot; at: number }, now: CpuSnapshot): number | undefined {
  const sec = (performance.now() - from.at) / 1000;
  if (sec < 0.5) return undefined; // a few clock ticks (10 ms each) would read as whole cores
  return Math.round((cpuBetween(from.cpu, now) / TICKS_PER_SECOND / sec) * 100) / 100;
}
