// The benchmark runner: `node scripts/bench.mjs [--quick] [--filter <substring|regex>] [--scale]
// [--vs-ray]` (which runs this file under tsx). Runs each selected benchmark with its
// baselines (and with --vs-ray, Ray's counterpart right after it: bench/ray/), prints a
// table, writes bench/results/latest.json (scale: scale.json) and ratios.svg, and always
// exits: sunray shut down, pools, Ray and child processes closed.

import { fileURLToPath } from 'node:url';
import { onCleanup, runCleanups, runRowsDone } from './harness/cleanup.js';
import { machineInfo } from './harness/machine.js';
import {
  header,
  RAY_COLUMN,
  RAY_HERE_COLUMN,
  type RayHereInfo,
  ratiosSvg,
  rayHereCell,
  table,
  writeJson,
  writeText,
} from './harness/report.js';
import { betterRatio } from './harness/stats.js';
import { closeStores, shutdownSunray } from './harness/sunray.js';
import { withTimeout } from './harness/timing.js';
import type { BenchContext, Benchmark, Measurement, RowResult, TimingConfig } from './harness/types.js';
import { SkipError } from './harness/types.js';
import { isCounterpart, RAY_VERSION } from './ray/counterparts.js';
import { vsRayOrder } from './ray/order.js';
import { RayRunner } from './ray/runner.js';
import { ensureRayVenv, type RayEnv } from './ray/venv.js';
import { all, baselines, microbenchmarks, scale } from './registry.js';
import { killTracked, resetDefs, STORE_BYTES } from './suites/defs.js';

interface Args {
  quick: boolean;
  scale: boolean;
  filter?: string;
  vsRay: boolean;
  help: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, scale: false, vsRay: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--scale') a.scale = true;
    else if (x === '--vs-ray') a.vsRay = true;
    else if (x === '--help' || x === '-h') a.help = true;
    else if (x === '--filter') a.filter = argv[++i];
    else if (x.startsWith('--filter=')) a.filter = x.slice('--filter='.length);
    else throw new Error(`unknown argument ${x} (try --help)`);
  }
  return a;
}

const USAGE = `usage: npm run bench -- [--quick] [--filter <substring|regex>] [--scale] [--vs-ray]
  --quick    fewer and shorter runs (whole suite in under 2 minutes)
  --filter   only benchmarks whose name contains the text (case-insensitive) or matches it as a regex;
             the baselines they compare against run too
  --scale    Ray's single-node envelope instead of the microbenchmarks (time and peak RSS)
  --vs-ray   also measure Ray ${RAY_VERSION} here, right after each row (its own ray_perf tests), in a venv
             made on first use (SUNRAY_RAY_VENV, default ~/.cache/sunray/ray-venv-${RAY_VERSION})
benchmarks:
${all.map((b) => `  ${b.name}`).join('\n')}`;

function matcher(filter: string | undefined): (name: string) => boolean {
  if (!filter) return () => true;
  const lower = filter.toLowerCase();
  let re: RegExp | undefined;
  try {
    re = new RegExp(filter, 'i');
  } catch {
    re = undefined;
  }
  return (name) => name.toLowerCase().includes(lower) || (re?.test(name) ?? false);
}

function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, 240);
}

/** The Ray side of a --vs-ray run; Ray's stdout is kept (bench/results/<base>-ray.txt). */
function makeRayRunner(env: RayEnv, plan: Benchmark[], settleSec: number, output: string[]): RayRunner {
  return new RayRunner({
    env,
    plan,
    settleSec,
    objectStoreBytes: STORE_BYTES, // sunray's store in this run
    // Ray's timeit alone is ~10 s (+ the pause); a heavy test (multi client put gigabytes) a minute here.
    testTimeoutMs: 6 * 60_000,
    quietMs: settleSec >= 10 ? 20_000 : 5000,
    onLine: (line) => output.push(line),
    log: (line) => console.log(`    ${line}`),
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const cfg: TimingConfig = args.quick
    ? { quick: true, runs: 3, runMs: 250, warmupMs: 100, budgetMs: 3000, minRuns: 2 }
    : { quick: false, runs: 5, runMs: 1000, warmupMs: 1000, budgetMs: 60_000, minRuns: 5 };
  const defaultTimeout = args.quick ? 30_000 : 120_000;
  const machine = machineInfo();
  const mode = `${args.scale ? 'scale' : 'microbenchmarks'}${args.quick ? ', quick' : ''}${args.filter ? `, filter ${JSON.stringify(args.filter)}` : ''}${args.vsRay ? ', --vs-ray' : ''}`;
  console.log(header(machine, mode));
  console.log(
    `timing: warm-up ${cfg.warmupMs} ms, then ${cfg.runs} runs of at least ${cfg.runMs} ms each` +
      ` (fewer, not under ${cfg.minRuns}, when calls are slow${cfg.quick ? '; heavy rows: 1 run, no warm-up' : ''})\n`,
  );

  const match = matcher(args.filter);
  const pool = args.scale ? scale : microbenchmarks;
  const selected = pool.filter((b) => match(b.name));
  const byName = new Map(all.map((b) => [b.name, b]));
  // Baselines: those matching the filter (not in --scale) and those the selected rows compare against.
  const needed = new Set<string>();
  if (!args.scale) for (const b of baselines) if (match(b.name)) needed.add(b.name);
  for (const b of selected) for (const ref of b.baselines ?? []) needed.add(ref.name);
  const order: Benchmark[] = [
    ...baselines.filter((b) => needed.has(b.name)),
    ...selected,
    // rows used as a baseline but not selected (e.g. get latency 1 KiB for 1 GiB)
  ];
  for (const name of needed) {
    const b = byName.get(name);
    if (b && !order.includes(b)) order.splice(order.indexOf(selected[0]!), 0, b);
  }
  if (order.length === 0) {
    console.log(`no benchmark matches ${JSON.stringify(args.filter)}\n\n${USAGE}`);
    return 1;
  }

  // --vs-ray: Ray's side of each row, right after it. Ray missing is one line, never a failure.
  let rayInfo: RayHereInfo | undefined;
  let ray: RayRunner | undefined;
  const rayOutput: string[] = [];
  const runOrder = args.vsRay && !args.scale ? vsRayOrder(order) : order;
  if (args.vsRay && args.scale) {
    rayInfo = { unavailable: 'the --scale rows have no Ray counterpart yet' };
    console.log(`Ray: not measured: ${rayInfo.unavailable}\n`);
  } else if (args.vsRay) {
    const extra = runOrder.flatMap((b) => (isCounterpart(b.vsRay) ? (b.vsRay.pip ?? []) : []));
    const env = await ensureRayVenv({ log: (line) => console.log(line), extra }).catch(
      (e: unknown) => ({ ok: false, reason: reasonOf(e) }) as const,
    );
    if (env.ok) {
      const settleSec = args.quick ? 1 : 10;
      rayInfo = { version: env.env.version, settleSec };
      ray = makeRayRunner(env.env, runOrder, settleSec, rayOutput);
      onCleanup('Ray', () => ray?.close());
      console.log(
        `Ray: ${env.env.version} from ${env.env.venv}; each row's Ray figure is taken right after sunray's` +
          ` (Ray's timeit: ${settleSec} s pause, 1 s warm-up, 4 runs of 2 s)\n`,
      );
    } else {
      rayInfo = { unavailable: env.reason };
      console.log(`Ray: not measured: ${env.reason}; running without the Ray column\n`);
    }
  }

  const results = new Map<string, RowResult>();
  /** A row's baseline figure: the one measured interleaved with it if any, else the baseline's own row. */
  const baselineOf = (name: string, m: Measurement): Measurement | undefined =>
    m.paired?.[name] ?? results.get(name)?.measurement;
  const baseCtx: BenchContext = {
    ...cfg,
    log: (msg) => console.log(`    ${msg}`),
    resultOf: (name) => results.get(name)?.measurement,
  };
  const gc = (globalThis as { gc?: () => void }).gc;

  for (const [i, b] of runOrder.entries()) {
    process.stdout.write(`  ${b.name} ... `);
    const t0 = performance.now();
    const row: RowResult = {
      name: b.name,
      group: b.group,
      kind: b.kind,
      shape: b.shape,
      status: 'ok',
      ray: b.ray,
      goal: b.goal?.text,
      seconds: 0,
    };
    const limit = args.quick
      ? Math.min(b.timeoutMs ?? defaultTimeout, 60_000)
      : (b.timeoutMs ?? defaultTimeout);
    let timedOut = false;
    const ctx: BenchContext =
      cfg.quick && b.heavy ? { ...baseCtx, warmupMs: 0, runs: 1, minRuns: 1 } : baseCtx;
    try {
      row.measurement = await withTimeout(b.run(ctx), limit, b.name).catch((e) => {
        if (/^timed out after/.test(reasonOf(e))) timedOut = true;
        throw e;
      });
    } catch (e) {
      row.status = e instanceof SkipError ? 'skipped' : 'failed';
      row.reason = reasonOf(e);
    }
    await killTracked().catch(() => undefined);
    if (timedOut) {
      // The runtime may be wedged: start afresh for the next benchmark.
      const err = await shutdownSunray(10_000);
      resetDefs();
      if (err) row.reason += `; shutdown after timeout: ${err}`;
    }
    row.seconds = Math.round((performance.now() - t0) / 100) / 10;
    if (row.status === 'ok' && b.baselines?.length) {
      const m = row.measurement!;
      row.baselines = [];
      for (const ref of b.baselines) {
        const bm = baselineOf(ref.name, m);
        if (!bm) continue;
        const scaleBy = ref.scale ?? 1;
        row.baselines.push({
          name: m.paired?.[ref.name] ? `${ref.name} (interleaved)` : ref.name,
          median: bm.median * scaleBy,
          unit: scaleBy === 1 ? bm.unit : m.unit,
        });
      }
      const primary = baselineOf(b.baselines[0]!.name, m);
      if (primary)
        row.ratio = betterRatio(m.median, primary.median * (b.baselines[0]!.scale ?? 1), m.higherIsBetter);
    }
    if (row.status === 'ok' && b.goal) {
      const p = b.baselines?.[0];
      const pm = p ? baselineOf(p.name, row.measurement!) : undefined;
      row.goalMet = b.goal.met(row.measurement!, pm ? pm.median * (p!.scale ?? 1) : undefined);
    }
    results.set(b.name, row);
    if (row.status === 'ok') {
      const m = row.measurement!;
      const notes = m.notes?.length ? `  [${m.notes.join('; ')}]` : '';
      console.log(`${m.median.toPrecision(4)} ${m.unit} (${row.seconds} s)${notes}`);
    } else console.log(`${row.status}: ${row.reason}`);
    if (ray && b.vsRay) {
      row.rayHere = await ray.measure(b, row.measurement?.unit, ctx);
      const h = row.rayHere;
      if (h?.status === 'ok' && row.status === 'ok')
        row.rayRatio = betterRatio(row.measurement!.median, h.mean!, row.measurement!.higherIsBetter);
      const idle = [
        h?.rayIdleCores !== undefined ? `Ray's processes ${h.rayIdleCores} cores during sunray's row` : '',
        h?.sunrayIdleCores !== undefined ? `sunray's ${h.sunrayIdleCores} during Ray's` : '',
      ].filter(Boolean);
      console.log(
        `    Ray: ${rayHereCell(row)}${row.rayRatio !== undefined ? `; sunray ${row.rayRatio.toPrecision(3)}×` : ''}` +
          `${h?.seconds ? ` (${h.seconds} s${idle.length ? `; ${idle.join(', ')}` : ''})` : idle.length ? ` (${idle.join(', ')})` : ''}`,
      );
    }
    const left = new Set(runOrder.slice(i + 1).map((n) => n.name));
    for (const f of await runRowsDone(left)) console.error(`cleanup failed: ${f}`);
    gc?.();
  }
  await ray?.close();

  const rows = order.map((b) => results.get(b.name)!);
  const vsRay = rayInfo !== undefined && 'version' in rayInfo;
  console.log(`\n${table(rows, false, vsRay)}\n`);
  const skipped = rows.filter((r) => r.status !== 'ok');
  if (skipped.length) console.log(`${skipped.length} of ${rows.length} not measured (see status above).`);

  // SUNRAY_BENCH_RESULTS: another directory for the results (tests use it to leave bench/results alone).
  const resultsDir = process.env.SUNRAY_BENCH_RESULTS
    ? `${process.env.SUNRAY_BENCH_RESULTS.replace(/\/$/, '')}/`
    : fileURLToPath(new URL('./results/', import.meta.url));
  // A filtered run must not replace the whole suite's results (the README shows ratios.svg).
  const base = args.filter ? 'filtered' : args.scale ? 'scale' : 'latest';
  writeJson(`${resultsDir}${base}.json`, {
    machine,
    mode,
    timing: cfg,
    rayColumn: `${RAY_COLUMN}: release/perf_metrics/microbenchmark.json, one m5.16xlarge`,
    ...(rayInfo
      ? {
          rayHere:
            'version' in rayInfo
              ? {
                  ...rayInfo,
                  column: `${RAY_HERE_COLUMN}: Ray measured on this machine right after each row (rayHere of each row; rayRatio: >1 = sunray better)`,
                }
              : rayInfo,
        }
      : {}),
    ratioMeaning:
      'sunray median vs the first baseline median; >1 = sunray better (faster, or more per second)',
    results: rows,
  });
  writeText(
    `${resultsDir}${base}.md`,
    `${header(machine, mode, rayInfo).replace(/\n/g, '  \n')}\n\n${table(rows, true, vsRay)}\n`,
  );
  if (rayOutput.length) writeText(`${resultsDir}${base}-ray.txt`, `${rayOutput.join('\n')}\n`);
  if (!args.scale && !args.filter)
    writeText(
      `${resultsDir}ratios.svg`,
      ratiosSvg(rows, machine, vsRay ? (rayInfo as { version: string }).version : undefined),
    );
  console.log(
    `wrote bench/results/${base}.json, bench/results/${base}.md${rayOutput.length ? `, bench/results/${base}-ray.txt` : ''}` +
      `${args.scale || args.filter ? '' : ', bench/results/ratios.svg'}`,
  );
  return 0;
}

onCleanup('object stores', () => closeStores());
onCleanup('sunray', async () => {
  const err = await shutdownSunray(15_000);
  if (err) throw new Error(err);
});

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  code = 2;
} finally {
  const failed = await runCleanups();
  for (const f of failed) console.error(`cleanup failed: ${f}`);
}
// Whatever is still pending (a wedged worker, a socket) must not keep us alive.
process.exit(code);
