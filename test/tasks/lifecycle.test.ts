import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { describe, expect, test } from 'vitest';
import { liveSessionPids, sessionSocketPath } from '../../lib/session/session-socket.js';
import { childPids, fixtures, isRunning, repoRoot, runNode, until } from '../helpers.js';

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

  test("sunray's warnings are Node warnings with codes; NODE_DEBUG=sunray prints its debug lines", async () => {
    const plain = await runNode(join(fixtures, 'driver-warnings.mjs'));
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/warning SUNRAY_INFEASIBLE task \w+ needs \{[^}]*"GPU":4\}.*infeasible/);
    expect(plain.stderr).not.toMatch(/^SUNRAY \d+:/m);
    const debug = await runNode(join(fixtures, 'driver-warnings.mjs'), [], { env: { NODE_DEBUG: 'sunray' } });
    expect(debug.code).toBe(0);
    const pid = /worker-pid (\d+)/.exec(debug.stdout)?.[1];
    expect(debug.stderr).toMatch(new RegExp(`^SUNRAY \\d+: worker \\d+ started \\(pid ${pid}; `, 'm'));
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
        // (Not zombies either: a killed orphan waits for its new parent to collect it.) A driver
        // that exits kills its workers in its exit handler; one killed with -9 cannot, and a
        // worker still booting then dies once its runtime has loaded and sees its parent gone:
        // seconds on a loaded machine.
        const bound = how === 'crash' && when === 'while workers boot' ? 30_000 : 5000;
        await until(() => pids.every((p) => !isRunning(p)), bound, 'workers to exit');
      });
    }
  }

  test('workers die within a second of a killed driver, even mid-task (a 20 s synchronous loop, a batch)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sunray-busy-'));
    const marker = join(dir, 'spinning');
    writeFileSync(marker, '');
    const driver = spawn(process.execPath, [join(fixtures, 'driver-busy.mjs'), marker], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Its 'exit' comes once the process is reaped: every thread gone, every fd closed (its
    // /proc stat says zombie as soon as its main thread ends, which can be well before).
    let reaped = false;
    driver.once('exit', () => {
      reaped = true;
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        driver.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        driver.once('exit', (code) => reject(new Error(`the driver exited early (${code}): ${out}`)));
      });
      const { pids, spinning } = JSON.parse(line) as { pids: number[]; spinning: number };
      expect(pids).toHaveLength(2);
      expect(pids).toContain(spinning);
      expect(existsSync(sessionSocketPath(driver.pid!))).toBe(true);
      driver.kill('SIGKILL');
      const killedAt = Date.now();
      await until(() => pids.every((p) => !isRunning(p)), 2000, 'the busy workers to die with their driver');
      expect(Date.now() - killedAt).toBeLessThan(2000);
      // The dead driver's `sunray memory` socket goes the next time anyone lists sessions. (Its
      // workers may die before its last thread does, which closes the socket: wait for that.)
      await until(() => reaped, 10_000, 'the killed driver to be reaped');
      expect(liveSessionPids()).not.toContain(driver.pid);
      expect(existsSync(sessionSocketPath(driver.pid!))).toBe(false);
    } finally {
      driver.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a dead driver's session socket is removed even when its pid is in use again", async () => {
    // A process now holds the pid of a driver killed long ago: its socket file is still there.
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    const path = sessionSocketPath(other.pid!);
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 }); // as any driver makes it
      writeFileSync(path, '', { flag: 'wx', mode: 0o600 });
      expect(liveSessionPids()).not.toContain(other.pid);
      expect(existsSync(path)).toBe(false);
    } finally {
      other.kill('SIGKILL');
      rmSync(path, { force: true });
    }
  });

  test('workers of a killed node daemon die with it, even mid-task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sunray-busy-'));
    const marker = join(dir, 'spinning');
    writeFileSync(marker, '');
    const cluster = new Cluster();
    try {
      const node = await cluster.addNode({ numCpus: 1 });
      await sunray.init({ address: cluster.address, token: cluster.token });
      const spin = sunray.remote(
        async (path: string) => {
          const { appendFileSync } = await import('node:fs');
          appendFileSync(path, `${process.pid}\n`);
          const end = Date.now() + 20_000;
          while (Date.now() < end) {
            // no turn of the event loop until it ends
          }
        },
        { maxRetries: 0 },
      );
      spin.remote(marker);
      await until(() => readFileSync(marker, 'utf8') !== '', 10_000, 'the loop to start');
      const spinning = Number(readFileSync(marker, 'utf8'));
      expect(await childPids(node.pid)).toContain(spinning);
      await cluster.removeNode(node, { graceful: false });
      await until(() => !isRunning(spinning), 2000, "the node's busy worker to die with it");
    } finally {
      await sunray.shutdown();
      await cluster.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });

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
