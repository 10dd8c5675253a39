import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fixtures, isAlive, repoRoot, runNode, until } from '../helpers.js';

describe('processes and output', () => {
  test("workers' stdout and stderr reach the driver, prefixed with task name and pid", async () => {
    const r = await runNode(join(fixtures, 'driver-logs.mjs'));
    expect(r.code).toBe(0);
    const pid = /worker-pid (\d+)/.exec(r.stdout)?.[1];
    expect(pid).toBeDefined();
    expect(r.stdout).toContain(`(shout pid=${pid}) said hello`);
    expect(r.stderr).toContain(`(shout pid=${pid}) err hello`);
  });

  test('logToDriver: false keeps workers quiet', async () => {
    const r = await runNode(join(fixtures, 'driver-logs.mjs'), ['quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('said hello');
    expect(r.stderr).not.toContain('err hello');
  });

  test('the API before init() starts an embedded node', async () => {
    const r = await runNode(join(fixtures, 'driver-auto-init.mjs'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ before: false, after: true, value: 42 });
  });

  for (const how of ['exits', 'crash'] as const) {
    for (const when of ['after tasks', 'while workers boot'] as const) {
      test(`workers do not outlive a driver that ${how === 'crash' ? 'is killed (kill -9)' : 'exits without shutdown()'}, ${when}`, async () => {
        const args = [how === 'crash' ? 'crash' : 'exit', when === 'after tasks' ? 'late' : 'early'];
        const r = await runNode(join(fixtures, 'driver-exits.mjs'), args);
        const { pids } = JSON.parse(r.stdout.trim().split('\n')[0]!) as { pids: number[] };
        expect(pids.length).toBe(2);
        await until(() => pids.every((p) => !isAlive(p)), 5000, 'workers to exit');
      });
    }
  }

  test('a driver run with tsx has TypeScript workers (execArgv is inherited)', async () => {
    const tsxLoader = join(repoRoot, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
    const r = await runNode(join(fixtures, 'ts-driver.ts'), [], {
      execArgv: ['--import', tsxLoader],
      timeoutMs: 60_000,
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ value: 81 });
  });
});
