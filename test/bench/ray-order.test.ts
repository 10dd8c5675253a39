// Which Ray counterpart each bench row has, and the order rows run in with --vs-ray
// (bench/ray/order.ts): every sunray row names its Ray side (or says why it has none), the
// rows Ray's ray_perf measures run in ray_perf's own order (it cannot go back), rows of our
// scripts run after them grouped by script, and baselines stay first.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Benchmark, RayCounterpart } from '../../bench/harness/types.js';
import {
  isCounterpart,
  RAY_DATA_PACKAGES,
  RAY_PERF,
  RAY_PERF_TESTS,
  RAY_SERVE_PACKAGES,
  RAY_TUNE_PACKAGES,
  rayPerf,
  rayScript,
} from '../../bench/ray/counterparts.js';
import { vsRayOrder } from '../../bench/ray/order.js';
import { scriptOf } from '../../bench/ray/runner.js';
import { baselines, microbenchmarks } from '../../bench/registry.js';

const fake = (name: string, vsRay?: Benchmark['vsRay'], kind: Benchmark['kind'] = 'sunray'): Benchmark => ({
  name,
  group: kind === 'baseline' ? 'baseline' : 'tasks',
  kind,
  shape: name,
  vsRay,
  run: async () => {
    throw new Error('not run here');
  },
});

describe('Ray counterparts of the bench rows', () => {
  it('every sunray row has one, or a reason for having none', () => {
    const without = microbenchmarks.filter((b) => b.vsRay === undefined).map((b) => b.name);
    expect(without).toEqual([]);
  });

  it('each names a ray_perf test of Ray 2.58.0, or a script of ours that measures that test', () => {
    for (const b of microbenchmarks) {
      const c = b.vsRay;
      if (!isCounterpart(c)) continue;
      if (c.source === RAY_PERF) {
        expect(RAY_PERF_TESTS as readonly string[], b.name).toContain(c.test);
        continue;
      }
      const file = scriptOf(c.source);
      expect(existsSync(file), `${b.name}: ${file}`).toBe(true);
      expect(readFileSync(file, 'utf8'), `${b.name}: ${file} has no row "${c.test}"`).toContain(
        `"${c.test}"`,
      );
    }
  });
});

describe('the serve rows on Ray Serve', () => {
  it('run in one Ray Serve script with its packages pinned, the HTTP rows under the load sunray runs', () => {
    const serve = microbenchmarks.filter((b) => b.group === 'serve');
    expect(serve.map((b) => b.name)).toEqual([
      'serve no-op deployment (2 replicas)',
      'serve p50 latency added (one request at a time)',
      'serve handle calls between two deployments',
    ]);
    for (const b of serve) {
      const c = b.vsRay as RayCounterpart;
      expect(c.source, b.name).toBe('serve_rows.py');
      expect(c.pip, b.name).toEqual(RAY_SERVE_PACKAGES);
    }
    for (const p of RAY_SERVE_PACKAGES) expect(p).toMatch(/^[a-z0-9-]+==\d+(\.\d+)*$/);
    // The HTTP rows' load is Node's (the functions sunray's row runs): the script hands it over.
    const driven = serve.filter((b) => (b.vsRay as RayCounterpart).drive).map((b) => b.name);
    expect(driven).toEqual(serve.slice(0, 2).map((b) => b.name));
    expect(readFileSync(scriptOf('serve_rows.py'), 'utf8')).toContain('session.drive(name');
    // The latency row's Ray figure is per second like every Ray line: turned into µs.
    expect((serve[1]!.vsRay as RayCounterpart).convert).toBe('µs');
  });
});

describe('the tune rows on Ray Tune', () => {
  it("run the same trainables in one Ray Tune script, each in the row's unit", () => {
    const tune = microbenchmarks.filter((b) => b.group === 'tune');
    expect(tune.map((b) => b.name)).toEqual([
      'tune: random forest grid (108 configs x numSamples 10)',
      'tune: per-trial overhead, random forest grid',
      'tune: 10,000 trivial trials',
      'tune: per-trial overhead, 10,000 trivial trials',
    ]);
    const script = readFileSync(scriptOf('tune_rf.py'), 'utf8');
    for (const b of tune) {
      const c = b.vsRay as RayCounterpart;
      expect(c.source, b.name).toBe('tune_rf.py');
      expect(c.test, b.name).toBe(b.name);
      expect(c.pip, b.name).toEqual(RAY_TUNE_PACKAGES);
      expect(c.note, b.name).toBeTruthy();
    }
    // Ray prints rates: trials/s stays trials/s, 200 trivial trials' rate becomes seconds for
    // 10,000, 1 / overhead seconds becomes ms of overhead.
    expect(tune.map((b) => [(b.vsRay as RayCounterpart).convert, (b.vsRay as RayCounterpart).scale])).toEqual(
      [
        [undefined, undefined],
        ['per', 1000],
        ['per', 10_000],
        ['per', 1000],
      ],
    );
    // The same trainable as the seed's example, with sunray/tune's reuse of trial actors.
    expect(script).toContain('RandomForestClassifier');
    expect(script).toContain('reuse_actors=True');
    for (const p of [...RAY_TUNE_PACKAGES, ...RAY_DATA_PACKAGES])
      expect(p).toMatch(/^[a-zA-Z0-9-]+==\d+(\.\d+)*$/);
  });
});

describe('the data rows on Ray Data', () => {
  it('run in one Ray Data script over the same CSV files, its MiB/s shown as GiB/s', () => {
    const data = microbenchmarks.filter((b) => b.group === 'data');
    expect(data.map((b) => b.name)).toEqual([
      'data: CSV -> parse -> add column -> Parquet',
      'data: randomShuffle',
      'data: iterBatches',
    ]);
    for (const b of data) {
      const c = b.vsRay as RayCounterpart;
      expect(c.source, b.name).toBe('data_rows.py');
      expect(c.test, b.name).toBe(b.name);
      expect(c.pip, b.name).toEqual(RAY_DATA_PACKAGES);
      expect(c.scale, b.name).toBe(1 / 1024);
    }
    const script = readFileSync(scriptOf('data_rows.py'), 'utf8');
    // The files the sunray rows wrote in this run, named by the data suite.
    expect(script).toContain('SUNRAY_BENCH_DATA_CSV');
    expect(readFileSync(join(import.meta.dirname, '../../bench/suites/data.ts'), 'utf8')).toContain(
      'process.env.SUNRAY_BENCH_DATA_CSV = csv',
    );
    for (const api of ['read_csv', 'map_batches', 'write_parquet', 'random_shuffle', 'iter_batches'])
      expect(script).toContain(api);
  });
});

describe('vsRayOrder', () => {
  it('runs the registry rows in ray_perf order, scripts after, baselines first, each row once', () => {
    const order = [...baselines, ...microbenchmarks];
    const run = vsRayOrder(order);
    expect(new Set(run)).toEqual(new Set(order));
    expect(run).toHaveLength(order.length);
    expect(run.slice(0, baselines.length)).toEqual(baselines);
    const perf = run.filter((b) => isCounterpart(b.vsRay) && b.vsRay.source === RAY_PERF);
    const idx = perf.map((b) =>
      (RAY_PERF_TESTS as readonly string[]).indexOf((b.vsRay as RayCounterpart).test),
    );
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    // multi client put gigabytes comes after tasks and get batch in ray_perf: so it runs here.
    const names = run.map((b) => b.name);
    expect(names.indexOf('multi client put gigabytes')).toBeGreaterThan(
      names.indexOf('single client tasks and get batch'),
    );
    const lastPerf = run.indexOf(perf.at(-1)!);
    const scripts = run.filter((b) => isCounterpart(b.vsRay) && b.vsRay.source !== RAY_PERF);
    for (const s of scripts) expect(run.indexOf(s), s.name).toBeGreaterThan(lastPerf);
    // 1 KiB before 1 GiB: the 1 GiB row compares against it.
    expect(names.indexOf('get latency 1 KiB')).toBeLessThan(names.indexOf('get latency 1 GiB'));
  });

  it('keeps baselines and rows with no Ray side in place when only scripts measure Ray', () => {
    const base = fake('pool', undefined, 'baseline');
    const a = fake('a', rayScript('one.py', 'a'));
    const n = fake('n', { none: 'no such thing in Ray' });
    const b = fake('b', rayScript('two.py', 'b'));
    const c = fake('c', rayScript('one.py', 'c'));
    expect(vsRayOrder([base, a, n, b, c]).map((x) => x.name)).toEqual(['pool', 'a', 'c', 'b', 'n']);
  });

  it('moves script rows that came before a ray_perf row after it', () => {
    const s = fake('s', rayScript('one.py', 's'));
    const p2 = fake('p2', rayPerf('single client tasks sync'));
    const p1 = fake('p1', rayPerf('single client get calls (Plasma Store)'));
    const x = fake('x');
    expect(vsRayOrder([x, s, p2, p1]).map((b) => b.name)).toEqual(['x', 'p1', 'p2', 's']);
  });
});

describe('scriptOf', () => {
  it('finds ray_perf and our scripts in bench/ray/python', () => {
    expect(scriptOf(RAY_PERF)).toMatch(/bench\/ray\/python\/ray_perf_session\.py$/);
    expect(scriptOf('two_nodes.py')).toMatch(/bench\/ray\/python\/two_nodes\.py$/);
    expect(scriptOf(join('/', 'abs', 'x.py'))).toBe('/abs/x.py');
  });
});
