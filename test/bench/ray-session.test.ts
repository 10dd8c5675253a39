// The Ray side of `npm run bench -- --vs-ray` without Ray: a session script that speaks the
// bench's protocol (fixtures/fake_ray_session.py) driven by the real runner. A figure comes
// back in the row's unit; a row Ray printed no figure for, or that failed, or whose session
// died, is a failed cell that says why, never an empty one; a session is gone after its last
// row; and with no Python at all the bench says so in one line and still succeeds.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchContext, Benchmark } from '../../bench/harness/types.js';
import { rayScript } from '../../bench/ray/counterparts.js';
import { RayRunner } from '../../bench/ray/runner.js';
import { ensureRayVenv } from '../../bench/ray/venv.js';
import { fixtures, repoRoot } from '../helpers.js';

const script = join(fixtures, '..', 'bench', 'fixtures', 'fake_ray_session.py');
const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;
const tmp = mkdtempSync(join(tmpdir(), 'sunray-vsray-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function row(name: string, test: string, opts: Parameters<typeof rayScript>[2] = {}): Benchmark {
  return {
    name,
    group: 'tasks',
    kind: 'sunray',
    shape: name,
    vsRay: rayScript(script, test, opts),
    run: async () => {
      throw new Error('not run here');
    },
  };
}

/** Processes running the fake session script now. */
function sessions(): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('fake_ray_session.py')) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

describe.skipIf(!python)('Ray runner on a fake session', () => {
  const env = { python: python!, venv: tmp, version: 'test' };

  it('gives each row its figure, in the row unit, and says why a row has none', async () => {
    const plan = [
      row('a', 'figure', { scale: 2 }),
      row('a [store API]', 'figure'),
      row('b', 'silent'),
      row('c', 'failing'),
      row('d', 'figure again', { convert: 'µs' }),
      row('e', 'figure again', { convert: 'per', scale: 10_000, unit: 's' }),
    ];
    const runner = new RayRunner({ env, plan, settleSec: 0, testTimeoutMs: 20_000 });
    try {
      const a = await runner.measure(plan[0]!, 'calls/s');
      expect(a).toMatchObject({ status: 'ok', mean: 2469, sd: 13.4, unit: 'calls/s', test: 'figure' });
      // A second row on the same Ray test reuses the figure (in its own unit), and says so.
      const shared = await runner.measure(plan[1]!, 'calls/s');
      expect(shared).toMatchObject({ status: 'ok', mean: 1234.5 });
      expect(shared!.note).toContain('the same Ray run as "a"');
      const b = await runner.measure(plan[2]!, 'calls/s');
      expect(b!.status).toBe('failed');
      expect(b!.reason).toMatch(/no figure for "silent"/);
      const c = await runner.measure(plan[3]!, 'calls/s');
      expect(c!.status).toBe('failed');
      expect(c!.reason).toMatch(/failing: RuntimeError: the actor died/);
      const d = await runner.measure(plan[4]!, 'µs');
      expect(d!.status).toBe('ok');
      expect(d!.mean).toBeCloseTo(1e6 / 1234.5, 6);
      // A rate shown as the time of `scale` operations, in the counterpart's unit when the
      // sunray row gave none (it failed): not "/s".
      const e = await runner.measure(plan[5]!, undefined);
      expect(e).toMatchObject({ status: 'ok', unit: 's' });
      expect(e!.mean).toBeCloseTo(10_000 / 1234.5, 6);
      // That was the session's last row: it is gone before the next sunray row runs.
      expect(sessions()).toEqual([]);
    } finally {
      await runner.close();
    }
  });

  it("runs a driven row's load here with the row's context, and its figures come back as Ray's", async () => {
    const ctx: BenchContext = {
      quick: true,
      runs: 2,
      runMs: 1,
      warmupMs: 0,
      budgetMs: 1,
      minRuns: 1,
      log: () => undefined,
      resultOf: () => undefined,
    };
    const seen: unknown[] = [];
    const plan = [
      row('h', 'driven', {
        note: 'what differs',
        drive: async (setup, c) => {
          seen.push(setup, c);
          return { perSecond: [100, 300], notes: ['p50 1 ms under load'] };
        },
      }),
      row('i', 'driven again', {
        drive: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:9');
        },
      }),
      row('j', 'driven without load'),
    ];
    const runner = new RayRunner({ env, plan, settleSec: 0, testTimeoutMs: 20_000 });
    try {
      const h = await runner.measure(plan[0]!, 'requests/s', ctx);
      expect(seen).toEqual([{ url: 'http://127.0.0.1:9/', name: 'driven' }, ctx]);
      // Printed by the session as Ray's timeit prints: mean and population sd of the runs.
      expect(h).toMatchObject({
        status: 'ok',
        mean: 200,
        sd: 100,
        note: 'what differs; p50 1 ms under load',
      });
      // A load that fails is the row's Ray cell, and the session goes on.
      const i = await runner.measure(plan[1]!, 'requests/s', ctx);
      expect(i!.status).toBe('failed');
      expect(i!.reason).toBe('Ray: driven again: RuntimeError: connect ECONNREFUSED 127.0.0.1:9');
      const j = await runner.measure(plan[2]!, 'requests/s', ctx);
      expect(j!.reason).toBe(
        'Ray: driven without load: RuntimeError: the bench has no load for "driven without load"',
      );
      expect(sessions()).toEqual([]);
    } finally {
      await runner.close();
    }
  });

  it('starts a session that died once more for its other rows, then gives up on it', async () => {
    const plan = [row('x', 'crash'), row('y', 'figure'), row('z', 'crash again'), row('w', 'figure again')];
    const runner = new RayRunner({ env, plan, settleSec: 0, testTimeoutMs: 20_000 });
    try {
      const x = await runner.measure(plan[0]!, 'calls/s');
      expect(x!.status).toBe('failed');
      expect(x!.reason).toMatch(/Ray session ended \(exit 3\): Fatal Python error: something broke/);
      // The rest of its rows get a new session...
      expect(await runner.measure(plan[1]!, 'calls/s')).toMatchObject({ status: 'ok', mean: 1234.5 });
      const z = await runner.measure(plan[2]!, 'calls/s');
      expect(z!.reason).toMatch(/Ray session ended \(exit 3\)/);
      // ...once: a second death fails the rest at once, each saying why.
      const t0 = Date.now();
      const w = await runner.measure(plan[3]!, 'calls/s');
      expect(w!.status).toBe('failed');
      expect(w!.reason).toMatch(/Ray session failed earlier: .*exit 3/);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(sessions()).toEqual([]);
    } finally {
      await runner.close();
    }
  });

  it('says when the session was killed by a signal the bench did not send', async () => {
    const plan = [row('o', 'oom')];
    const runner = new RayRunner({ env, plan, settleSec: 0, testTimeoutMs: 20_000 });
    try {
      const o = await runner.measure(plan[0]!, 'calls/s');
      expect(o!.reason).toBe(
        'Ray session ended (killed by SIGKILL, not from the bench: the kernel, if memory ran out)',
      );
    } finally {
      await runner.close();
    }
  });

  it('gives up on a test that hangs, and leaves no process behind', async () => {
    const plan = [row('s', 'slow'), row('t', 'figure')];
    const runner = new RayRunner({ env, plan, settleSec: 0, testTimeoutMs: 1500, startTimeoutMs: 0 });
    try {
      const s = await runner.measure(plan[0]!, 'calls/s');
      expect(s!.status).toBe('failed');
      expect(s!.reason).toMatch(/slow: no figure after 2 s/);
      expect(sessions()).toEqual([]);
      // The session is not asked again: the next row would hang as long.
      const t = await runner.measure(plan[1]!, 'calls/s');
      expect(t!.reason).toMatch(/Ray session failed earlier: Ray: slow: no figure after 2 s/);
    } finally {
      await runner.close();
    }
  }, 20_000);
});

describe.skipIf(!python)('Ray runner, sharing the machine', () => {
  const env = { python: python!, venv: tmp, version: 'test' };

  it("waits for Ray's processes to go quiet after a test, and says what each side used meanwhile", async () => {
    const plan = [row('busy', 'busy'), row('next', 'pause'), row('last', 'figure again')];
    const runner = new RayRunner({ env, plan, settleSec: 0, testTimeoutMs: 20_000, quietMs: 5000 });
    try {
      const t0 = performance.now();
      const busy = await runner.measure(plan[0]!, 'calls/s');
      expect(busy!.status).toBe('ok');
      // The fake keeps a core busy for 1.5 s after its figure: sunray's next row waits for that.
      expect(performance.now() - t0).toBeGreaterThan(1000);
      await new Promise((r) => setTimeout(r, 1000)); // sunray's row
      const next = await runner.measure(plan[1]!, 'calls/s');
      expect(next!.rayIdleCores).toBeGreaterThanOrEqual(0);
      expect(next!.rayIdleCores).toBeLessThan(0.25);
      // This test's process idles while the fake takes its 1 s.
      expect(next!.sunrayIdleCores).toBeGreaterThanOrEqual(0);
      expect(next!.sunrayIdleCores).toBeLessThan(0.5);
    } finally {
      await runner.close();
    }
  });
});

describe('the Ray venv', () => {
  it('without python3, gives a reason instead of failing', async () => {
    const r = await ensureRayVenv({
      env: { PATH: join(tmp, 'no-bin'), SUNRAY_RAY_VENV: join(tmp, 'venv-a') },
    });
    expect(r).toEqual({ ok: false, reason: 'python3 is not on PATH' });
  });

  it('refuses a venv directory others can write to', async () => {
    const dir = join(tmp, 'shared-venv');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r = await ensureRayVenv({ env: { PATH: process.env.PATH, SUNRAY_RAY_VENV: dir } });
    expect(r.ok).toBe(false);
    expect((r as { reason: string }).reason).toMatch(/writable by group or others \(mode 777\)/);
  });
});

describe('npm run bench -- --vs-ray without Python', () => {
  it('says so in one line and measures the rest', () => {
    const out = join(tmp, 'results');
    const r = spawnSync(
      process.execPath,
      [join(repoRoot, 'scripts', 'bench.mjs'), '--quick', '--vs-ray', '--filter', '^piscina tasks sync'],
      {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          PATH: join(tmp, 'no-bin'),
          SUNRAY_RAY_VENV: join(tmp, 'venv-b'),
          SUNRAY_BENCH_RESULTS: out,
        },
      },
    );
    expect(r.status).toBe(0);
    const notes = r.stdout.split('\n').filter((l) => l.startsWith('Ray:'));
    expect(notes).toEqual(['Ray: not measured: python3 is not on PATH; running without the Ray column']);
    expect(r.stdout).toMatch(/piscina tasks sync \(2 threads\) \.\.\. [\d.e+]+ tasks\/s/);
    const json = JSON.parse(readFileSync(join(out, 'filtered.json'), 'utf8'));
    expect(json.rayHere).toEqual({ unavailable: 'python3 is not on PATH' });
  }, 70_000);
});
