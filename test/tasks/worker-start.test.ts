// Workers that cannot start: flags of the driver's entry point (`node -e`, --input-type,
// --test, ...) are not passed on to workers, and a worker that still fails to start fails
// the work waiting for it with WorkerStartError (its stderr, its exit code) after a few
// tries with pauses in between, instead of being started again without end.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { workerExecArgv } from '../../lib/node/worker-process.js';
import {
  START_ATTEMPTS,
  START_BACKOFF_MAX_MS,
  START_BACKOFF_MS,
  StartGuard,
} from '../../lib/node/worker-starts.js';
import { fixtures, repoRoot, runNode } from '../helpers.js';

const DRIVER = `
import * as sunray from 'sunray';
const add = sunray.remote((a, b) => a + b);
class Counter { n = 0; bump() { return ++this.n; } }
const c = sunray.remote(Counter).remote();
const [sum, bumped] = await sunray.get([add.remote(20, 22), c.bump.remote()]);
console.log(JSON.stringify({ sum, bumped }));
await sunray.shutdown();
`;

/** Runs node with args and stdin, capturing output; fails after timeoutMs. */
function runWithStdin(args: string[], stdin: string, timeoutMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

describe('a driver run from code rather than a file', () => {
  test('node --input-type=module -e: tasks and actors run', async () => {
    const r = await runWithStdin(['--input-type=module', '-e', DRIVER], '', 30_000);
    expect(r.stderr).not.toContain('ERR_INPUT_TYPE_NOT_ALLOWED');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ sum: 42, bumped: 1 });
  });

  test('module code on stdin (node --input-type module): tasks and actors run', async () => {
    const r = await runWithStdin(['--input-type', 'module'], DRIVER, 30_000);
    expect(r.stderr).not.toContain('ERR_INPUT_TYPE_NOT_ALLOWED');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ sum: 42, bumped: 1 });
  });
});

describe('workers that fail to start', () => {
  test('fail the waiting task and actor with WorkerStartError, within seconds, after a few tries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sunray-bad-workers-'));
    try {
      const r = await runNode(join(fixtures, 'driver-bad-workers.mjs'), [dir], { timeoutMs: 30_000 });
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      for (const [what, ms] of [
        [out.task, out.taskMs],
        [out.actor, out.actorMs],
      ]) {
        expect(what.isWorkerStartError).toBe(true);
        expect(what.code).toBe('SUNRAY_WORKER_START');
        expect(what.exitCode).toBe(7);
        expect(what.stderr).toContain('broken-preload: this worker refuses to start');
        expect(what.message).toContain('broken-preload: this worker refuses to start');
        expect(what.message).toContain('exited with code 7 before it was ready');
        expect(what.message).toContain('NODE_OPTIONS');
        // After a few tries (0.1 + 0.2 + 0.4 s of pauses, and the starts): seconds, even on a loaded machine.
        expect(ms).toBeLessThan(20_000);
      }
      // A handful of starts in all, and none once nothing waits for a worker.
      expect(out.startsAtError).toBeGreaterThanOrEqual(START_ATTEMPTS);
      expect(out.startsAtError).toBeLessThanOrEqual(8);
      expect(out.startsLater).toBe(out.startsAtError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the pause between tries doubles up to a cap; one try at a time; a ready worker resets it', () => {
    let now = 1000;
    const g = new StartGuard(() => now);
    const how = { pid: 1, code: 1, signal: null, stderr: 'boom\n', command: ['node', 'w.js'] };
    expect(g.mayStart(5)).toBe(true); // while starts succeed: any number at once
    const waits: number[] = [];
    const errors: unknown[] = [];
    for (let i = 0; i < 8; i++) {
      errors.push(g.failed(how));
      waits.push(g.waitMs());
      expect(g.mayStart(0)).toBe(false);
      now += g.waitMs();
      expect(g.mayStart(1)).toBe(false); // one try at a time
      expect(g.mayStart(0)).toBe(true);
    }
    expect(waits).toEqual(
      [100, 200, 400, 800, 1600, 3200, 5000, 5000].map((x) => Math.min(x, START_BACKOFF_MAX_MS)),
    );
    expect(waits[0]).toBe(START_BACKOFF_MS);
    // The first START_ATTEMPTS - 1 failures only pause; from then on each one fails the waiting work.
    expect(errors.slice(0, START_ATTEMPTS - 1)).toEqual([undefined, undefined]);
    for (const e of errors.slice(START_ATTEMPTS - 1)) expect((e as Error).name).toBe('WorkerStartError');
    g.started();
    expect(g.failuresInRow).toBe(0);
    expect(g.mayStart(3)).toBe(true);
    expect(g.failed(how)).toBeUndefined();
  });
});

describe('the node flags workers inherit', () => {
  test("the driver's entry flags are dropped, with their values; the rest carry over", () => {
    const kept = ['--import', 'tsx', '--require', './setup.cjs', '--expose-gc', '--max-old-space-size=512'];
    const dropped = [
      '--input-type=module',
      '--input-type',
      'commonjs',
      '-e',
      'code()',
      '--eval=code()',
      '-p',
      '1 + 1',
      '--print',
      'x',
      '--test',
      '--test-only',
      '--test-name-pattern',
      'some test',
      '--test-reporter=spec',
      '--experimental-test-coverage',
      '--watch',
      '--watch-path',
      './src',
      '-i',
      '-c',
      '--check',
      '--inspect',
      '--inspect-brk=9230',
      '--inspect-port',
      '9231',
    ];
    expect(workerExecArgv([...dropped.slice(0, 6), ...kept, ...dropped.slice(6)])).toEqual(kept);
  });
});
