// The Ray runner's reading of Ray's output (bench/ray/parse.ts), on what Ray 2.58.0 printed
// on this machine in a `npm run bench -- --vs-ray` run (fixtures/ray-2.58.0-output.txt, the
// run's bench/results/*-ray.txt; the tune and data rows' from `--filter tune` / `data` runs,
// the placement group row's from a `--filter "placement group"` run):
// every row the bench asks Ray for has its figure, and a row without one is an error that
// names it, never a silently empty cell.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RayCounterpart } from '../../bench/harness/types.js';
import {
  isCounterpart,
  RAY_GIGABYTES_TO_GB,
  RAY_PERF,
  RAY_PERF_TESTS,
} from '../../bench/ray/counterparts.js';
import {
  figureOf,
  parseFigures,
  parseMarker,
  RayOutputError,
  RayTestError,
  requireFigures,
} from '../../bench/ray/parse.js';
import { inRowUnit } from '../../bench/ray/runner.js';
import { microbenchmarks } from '../../bench/registry.js';

const recorded = readFileSync(join(import.meta.dirname, 'fixtures', 'ray-2.58.0-output.txt'), 'utf8');

/** What the bench asks Ray for: each row's counterpart, once per test. */
const counterparts = microbenchmarks.map((b) => b.vsRay).filter(isCounterpart);
const expected = [...new Set(counterparts.map((c) => c.test))];

describe("Ray's recorded output", () => {
  it('has a figure for every test the bench asks Ray for, as printed', () => {
    const figs = requireFigures(recorded, expected);
    expect([...figs.keys()]).toEqual(expected);
    expect(figs.get('single client get calls (Plasma Store)')).toEqual({
      name: 'single client get calls (Plasma Store)',
      perSecond: 6243.25,
      sd: 1365.2,
    });
    expect(figs.get('multi client put gigabytes')).toMatchObject({ perSecond: 1.99, sd: 0.32 });
    expect(figs.get('1:1 async-actor calls async')).toMatchObject({ perSecond: 1397.56, sd: 70.91 });
    expect(figs.get('ray.get latency 1 GiB')).toMatchObject({ perSecond: 6379.17, sd: 339.15 });
    // Ray Serve's rows (serve_rows.py), the HTTP ones after their `ready` marker.
    expect(figs.get('serve no-op deployment (2 replicas)')).toMatchObject({ perSecond: 149.3, sd: 9.86 });
    expect(figs.get('serve handle calls between two deployments')).toMatchObject({ perSecond: 253.76 });
    // Ray Tune's rows (tune_rf.py; `--vs-ray --quick --filter tune`): rates.
    expect(figs.get('tune: random forest grid (108 configs x numSamples 10)')).toMatchObject({
      perSecond: 6.13,
    });
    expect(figs.get('tune: 10,000 trivial trials')).toMatchObject({ perSecond: 9.38, sd: 0 });
    // Ray Data's rows (data_rows.py; `--vs-ray --quick --filter data`, 1 GiB): MiB per second.
    expect(figs.get('data: randomShuffle')).toMatchObject({ perSecond: 15.25, sd: 0 });
    for (const f of figs.values()) expect(f.perSecond).toBeGreaterThan(0);
  });

  it("has ray_perf's figures in ray_perf's order, the order the bench asks in", () => {
    const perf = counterparts.filter((c) => c.source === RAY_PERF).map((c) => c.test);
    const inOrder = RAY_PERF_TESTS.filter((t) => perf.includes(t));
    const printed = parseFigures(recorded)
      .map((f) => f.name)
      .filter((n) => (RAY_PERF_TESTS as readonly string[]).includes(n));
    expect(printed).toEqual(inOrder);
  });

  it('missing any one row is an error naming that row', () => {
    const lines = recorded.split('\n');
    for (const name of expected) {
      const without = lines.filter((l) => !l.startsWith(`${name} per second `)).join('\n');
      expect(() => requireFigures(without, expected), name).toThrow(RayOutputError);
      expect(() => requireFigures(without, expected), name).toThrow(`no figure for ${JSON.stringify(name)}`);
    }
  });

  it("gives each row its figure from the session's lines for it, as the runner reads them", () => {
    // The runner collects a test's lines from its `run` command to its marker.
    const chunks = new Map<string, string[]>();
    let lines: string[] = [];
    for (const line of recorded.split('\n')) {
      lines.push(line);
      const m = parseMarker(line);
      if (m?.kind === 'done') {
        chunks.set(m.name, lines);
        lines = [];
      }
    }
    for (const name of expected) expect(figureOf(chunks.get(name)!, name).name).toBe(name);
  });
});

describe('parsing Ray output', () => {
  it('ignores what is not a figure: logs, forwarded worker output, markers', () => {
    const text = [
      "Tip: set TESTS_TO_RUN='pattern' to run a subset of benchmarks",
      '2026-12-04 13:15:39,729\tINFO worker.py:2024 -- Started a local Ray instance.',
      '(raylet) [2026-12-04 13:15:40] WARNING: something per second',
      '@@sunray-ray done x',
      'single client tasks sync per second 432.1 +- 5.3',
    ].join('\n');
    expect(parseFigures(text)).toEqual([{ name: 'single client tasks sync', perSecond: 432.1, sd: 5.3 }]);
  });

  it('reads numbers as Python prints them, and refuses nan', () => {
    expect(parseFigures('a per second 1e-05 +- 0.0')[0]).toMatchObject({ perSecond: 1e-5, sd: 0 });
    expect(parseFigures('a per second 11579 +- 12')[0]).toMatchObject({ perSecond: 11579 });
    expect(() => parseFigures('a per second nan +- nan')).toThrow(RayOutputError);
    expect(() => parseFigures('a per second inf +- 0.0')).toThrow(/not a number: a per second inf/);
  });

  it('refuses two different figures for one row (two runs mixed up)', () => {
    const text = 'a per second 1.5 +- 0.1\na per second 2.5 +- 0.1';
    expect(() => requireFigures(text, ['a'])).toThrow(`two figures for "a"`);
  });

  it('turns an error marker into an error with its message, and done without a figure into another', () => {
    const failed = ['@@sunray-ray error 1:1 actor calls sync: RayActorError: The actor died unexpectedly'];
    expect(() => figureOf(failed, '1:1 actor calls sync')).toThrow(RayTestError);
    expect(() => figureOf(failed, '1:1 actor calls sync')).toThrow(
      'Ray: 1:1 actor calls sync: RayActorError: The actor died unexpectedly',
    );
    expect(() => figureOf(['@@sunray-ray done x'], 'x')).toThrow(RayOutputError);
    expect(parseMarker('@@sunray-ray stopped')).toEqual({ kind: 'stopped' });
    expect(parseMarker('x per second 1 +- 1')).toBeUndefined();
  });

  it("reads a test's ready marker with its setup, and ignores one that is not JSON or names no test", () => {
    const url = 'http://127.0.0.1:41234/';
    expect(
      parseMarker(`@@sunray-ray ready {"url": "${url}", "name": "serve no-op deployment (2 replicas)"}`),
    ).toEqual({
      kind: 'ready',
      name: 'serve no-op deployment (2 replicas)',
      setup: { url, name: 'serve no-op deployment (2 replicas)' },
    });
    expect(parseMarker('@@sunray-ray ready {"url": "x"')).toBeUndefined();
    expect(parseMarker('@@sunray-ray ready {"url": "x"}')).toBeUndefined();
    expect(parseMarker('@@sunray-ray ready ["x"]')).toBeUndefined();
  });
});

describe("Ray's figure in the row's unit", () => {
  const cp = (c: Partial<RayCounterpart>): RayCounterpart => ({ source: RAY_PERF, test: 't', ...c });

  it('counts GB as 10^9 bytes, where ray_perf counts 0.8 per 800 MiB', () => {
    const r = inRowUnit({ name: 't', perSecond: 1.21, sd: 0.1 }, cp({ scale: RAY_GIGABYTES_TO_GB }));
    expect(RAY_GIGABYTES_TO_GB).toBeCloseTo(1.048576, 9);
    expect(r.mean).toBeCloseTo(1.21 * 1.048576, 9);
    expect(r.sd).toBeCloseTo(0.1048576, 9);
  });

  it('turns gets per second into µs per get', () => {
    const r = inRowUnit({ name: 't', perSecond: 5000, sd: 500 }, cp({ convert: 'µs' }));
    expect(r.mean).toBe(200);
    expect(r.sd).toBe(20);
  });

  it('turns a rate into the time of `scale` operations (trials/s into seconds for 10,000)', () => {
    const r = inRowUnit({ name: 't', perSecond: 4, sd: 0.4 }, cp({ convert: 'per', scale: 10_000 }));
    expect(r.mean).toBe(2500);
    expect(r.sd).toBe(250);
    // 1 / overhead seconds into ms of overhead.
    expect(inRowUnit({ name: 't', perSecond: 2.5, sd: 0 }, cp({ convert: 'per', scale: 1000 })).mean).toBe(
      400,
    );
  });
});
