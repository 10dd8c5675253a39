import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixtures, isAlive, runNode, until } from '../helpers.js';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 128 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

describe('task failures', () => {
  test('an exception rejects get with TaskError carrying the remote error and stack', async () => {
    const boom = sunray.remote(function explode(n: number) {
      if (n > 0) throw new RangeError(`too big: ${n}`);
      return n;
    });
    const err = await sunray.get(boom.remote(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sunray.TaskError);
    expect(err).toBeInstanceOf(sunray.SunrayError);
    const te = err as InstanceType<typeof sunray.TaskError>;
    expect(te.message).toMatch(/explode/);
    expect(te.message).toMatch(/RangeError: too big: 3/);
    const cause = te.cause as Error;
    expect(cause.name).toBe('RangeError');
    expect(cause.message).toBe('too big: 3');
    expect(cause.stack).toMatch(/at explode/);
  });

  test('exceptions are not retried unless retryExceptions', async () => {
    // Attempts are counted in a file, since a retry may run in another worker process.
    const counter = sunray.remote(async (file: string, failUntil: number) => {
      const fs = await import('node:fs');
      const n = (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0) + 1;
      fs.writeFileSync(file, String(n));
      if (n <= failUntil) throw new Error(`attempt ${n}`);
      return n;
    });
    const { rmSync } = await import('node:fs');
    const a = `/tmp/sunray-test-retry-a-${process.pid}`;
    const b = `/tmp/sunray-test-retry-b-${process.pid}`;
    try {
      await expect(sunray.get(counter.remote(a, 1))).rejects.toThrow(/attempt 1/);
      expect(await sunray.get(counter.options({ retryExceptions: true, maxRetries: 3 }).remote(b, 2))).toBe(
        3,
      );
    } finally {
      rmSync(a, { force: true });
      rmSync(b, { force: true });
    }
  });

  test('a worker killed mid-task is replaced and the task retried', async () => {
    const dieOnce = sunray.remote(async (marker: string) => {
      const fs = await import('node:fs');
      if (!fs.existsSync(marker)) {
        fs.writeFileSync(marker, String(process.pid));
        process.kill(process.pid, 'SIGKILL');
      }
      return process.pid;
    });
    const marker = `/tmp/sunray-test-die-${process.pid}-${Date.now()}`;
    const pid = await sunray.get(dieOnce.remote(marker));
    const { readFileSync, rmSync } = await import('node:fs');
    const first = Number(readFileSync(marker, 'utf8'));
    rmSync(marker);
    expect(pid).not.toBe(first);
    expect(isAlive(first)).toBe(false);
  });

  test('after maxRetries, WorkerCrashedError', async () => {
    const alwaysDie = sunray.remote(() => {
      process.kill(process.pid, 'SIGKILL');
    });
    const err = await sunray.get(alwaysDie.options({ maxRetries: 1 }).remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sunray.WorkerCrashedError);
    expect(String(err)).toMatch(/SIGKILL/);
    expect(String(err)).toMatch(/maxRetries/);
  });

  test("a worker killed by V8's heap limit is reported as out of memory, with the task, the limit and what to do", async () => {
    // Workers inherit the driver's node flags: a small heap for this driver is a small heap for them.
    const r = await runNode(join(fixtures, 'driver-oom.mjs'), [], {
      execArgv: ['--max-old-space-size=48'],
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(0);
    const { task, actor, after } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(task.isOutOfMemory).toBe(true);
    expect(task.isWorkerCrashed).toBe(true);
    expect(task.code).toBe('SUNRAY_OUT_OF_MEMORY');
    expect(task.heapLimitBytes).toBeGreaterThan(0);
    expect(task.message).toMatch(/running task hoard ran out of memory/);
    expect(task.message).toMatch(/V8's limit \(\d+ MiB in all; --max-old-space-size=48\)/);
    expect(task.message).toMatch(/Raise workers' heap limit with --max-old-space-size=<MiB> in NODE_OPTIONS/);
    expect(actor.name).toBe('ActorDiedError');
    expect(actor.message).toMatch(/ran out of memory: its JavaScript heap reached V8's limit/);
    expect(actor.message).toMatch(/while running Hoarder\.hoard/);
    expect(actor.message).toMatch(/--max-old-space-size=<MiB>/);
    expect(after).toBe('still here');
  });

  test('cancel of a queued task gives TaskCancelledError', async () => {
    const sleep = sunray.remote(async (ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)));
    const blockers = [sleep.remote(600), sleep.remote(600)];
    const queued = sleep.remote(10);
    sunray.cancel(queued);
    await expect(sunray.get(queued)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
    expect(await sunray.get(blockers)).toEqual([600, 600]);
  });

  test('cancel with force kills a running task and its worker', async () => {
    const pidAndHang = sunray.remote(async (marker: string) => {
      const fs = await import('node:fs');
      fs.writeFileSync(marker, String(process.pid));
      await new Promise((r) => setTimeout(r, 60_000));
    });
    const marker = `/tmp/sunray-test-cancel-${process.pid}-${Date.now()}`;
    const { existsSync, readFileSync, rmSync } = await import('node:fs');
    const ref = pidAndHang.remote(marker);
    await until(() => existsSync(marker), 10_000, 'the task to start');
    const pid = Number(readFileSync(marker, 'utf8'));
    rmSync(marker);
    sunray.cancel(ref, { force: true });
    await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
    await until(() => !isAlive(pid), 5000, 'the worker to die');
    // The node carries on.
    expect(await sunray.get(sunray.remote(() => 7).remote())).toBe(7);
  });
});

describe('shipping functions', () => {
  test('a function that reads an outside variable is rejected at remote(), naming it', () => {
    const factor = 3;
    const err = (() => {
      try {
        sunray.remote((x: number) => x * factor);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(sunray.SerializationError);
    expect(String(err)).toMatch(/'factor'/);
    expect(String(err)).toMatch(/Pass the value as an argument/);
  });

  test('require and import() inside the body resolve from the driver', async () => {
    const useBoth = sunray.remote(async () => {
      const path = require('node:path');
      const acorn = await import('acorn');
      return [path.sep, typeof acorn.parse];
    });
    expect(await sunray.get(useBoth.remote())).toEqual(['/', 'function']);
  });

  test('functions exported from a module, by module and name (closures over module scope work)', async () => {
    const mod = await import('../fixtures/module-functions.mjs');
    const scaled = sunray.remote(mod.scaleByModuleFactor, {
      module: new URL('../fixtures/module-functions.mjs', import.meta.url).href,
    });
    expect(await sunray.get(scaled.remote(2))).toBe(2 * mod.FACTOR);
  });

  test('unserializable arguments give SerializationError with the path to the bad value', () => {
    const f = sunray.remote((x: unknown) => x);
    const err = (() => {
      try {
        f.remote({ ok: 1, list: [1, { handler: () => 1 }] });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(sunray.SerializationError);
    expect((err as InstanceType<typeof sunray.SerializationError>).path).toBe('value.list[1].handler');
  });

  test('an unserializable return value fails the task with a TaskError naming it', async () => {
    const f = sunray.remote(() => ({ cb: () => 1 }));
    await expect(sunray.get(f.remote())).rejects.toThrow(/SerializationError.*value\.cb/);
  });
});
