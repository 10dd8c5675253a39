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

  test('retryExceptions lists: errors of a listed class (or a subclass), or a listed name, are retried; others not', async () => {
    // Classes do not cross processes: the driver's FlakyError is matched by name with the one
    // the task defines, and so is a subclass of it (its prototype chain), as Ray's isinstance.
    class FlakyError extends Error {}
    const attempt = sunray.remote(async (file: string, failUntil: number, kind: string) => {
      const fs = await import('node:fs');
      const n = (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0) + 1;
      fs.writeFileSync(file, String(n));
      class FlakyError extends Error {}
      class FlakierError extends FlakyError {}
      if (n <= failUntil) {
        if (kind === 'flaky') throw new FlakyError(`attempt ${n}`);
        if (kind === 'flakier') throw new FlakierError(`attempt ${n}`);
        if (kind === 'range') throw new RangeError(`attempt ${n}`);
        if (kind === 'named') throw Object.assign(new Error(`attempt ${n}`), { name: 'QuotaError' });
        throw new TypeError(`attempt ${n}`);
      }
      return n;
    });
    const { readFileSync, rmSync } = await import('node:fs');
    const file = (k: string) => join(tmpDir, `retry-${k}`);
    const tmpDir = (await import('node:fs')).mkdtempSync('/tmp/sunray-test-retry-list-');
    try {
      const classes = attempt.options({ retryExceptions: [FlakyError], maxRetries: 3 });
      expect(await sunray.get(classes.remote(file('flaky'), 2, 'flaky'))).toBe(3);
      expect(await sunray.get(classes.remote(file('flakier'), 2, 'flakier'))).toBe(3);
      // Not listed: it fails at its first attempt.
      const err = await sunray.get(classes.remote(file('type'), 2, 'type')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(sunray.TaskError);
      expect(((err as Error).cause as Error).name).toBe('TypeError');
      expect(readFileSync(file('type'), 'utf8')).toBe('1');
      // Names: a built-in class, or an error's `name`.
      const names = attempt.options({ retryExceptions: ['RangeError', 'QuotaError'], maxRetries: 3 });
      expect(await sunray.get(names.remote(file('range'), 1, 'range'))).toBe(2);
      expect(await sunray.get(names.remote(file('named'), 1, 'named'))).toBe(2);
      // Listed, but maxRetries is the bound.
      const few = attempt.options({ retryExceptions: [FlakyError], maxRetries: 1 });
      await expect(sunray.get(few.remote(file('few'), 5, 'flaky'))).rejects.toThrow(/attempt 2/);
      // An empty list retries nothing.
      await expect(
        sunray.get(attempt.options({ retryExceptions: [], maxRetries: 3 }).remote(file('none'), 1, 'flaky')),
      ).rejects.toThrow(/attempt 1/);
    } finally {
      rmSync(tmpDir, { recursive: true, force: true });
    }
  });

  test('retryExceptions entries that name no class are refused', () => {
    const f = sunray.remote(() => 1);
    expect(() => f.options({ retryExceptions: [class extends Error {}] })).toThrow(
      sunray.InvalidArgumentError,
    );
    expect(() => f.options({ retryExceptions: [''] })).toThrow(sunray.InvalidArgumentError);
    expect(() => f.options({ retryExceptions: [42 as unknown as string] })).toThrow(/retryExceptions\[0\]/);
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

describe('what a thrown error carries', () => {
  test("its own fields (code, errno, syscall, path) and its cause chain: err.cause.code === 'ENOENT'", async () => {
    const readMissing = sunray.remote(async (path: string) => {
      const fs = await import('node:fs');
      return fs.readFileSync(path);
    });
    const err = (await sunray.get(readMissing.remote('/nonexistent')).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(sunray.TaskError);
    const cause = err.cause as NodeJS.ErrnoException;
    expect(cause).toBeInstanceOf(sunray.RemoteError);
    expect(cause.code).toBe('ENOENT');
    expect(cause.errno).toBe(-2);
    expect(cause.syscall).toBe('open');
    expect(cause.path).toBe('/nonexistent');

    const load = sunray.remote(async (path: string) => {
      const fs = await import('node:fs');
      try {
        return fs.readFileSync(path);
      } catch (e) {
        throw new Error(`could not load the config at ${path}`, { cause: e });
      }
    });
    const wrapped = (await sunray
      .get(load.remote('/nonexistent/config.json'))
      .catch((e: unknown) => e)) as Error;
    const outer = wrapped.cause as Error;
    expect(outer.message).toBe('could not load the config at /nonexistent/config.json');
    const inner = outer.cause as NodeJS.ErrnoException;
    expect(inner).toBeInstanceOf(Error);
    expect(inner.code).toBe('ENOENT');
    expect(inner.path).toBe('/nonexistent/config.json');
    expect(inner.stack).toMatch(/ENOENT/);
  });

  test('custom fields that serialize are kept, the others skipped; a plain cause arrives as it was', async () => {
    const fail = sunray.remote(() => {
      class HttpError extends Error {
        status = 404;
        details = { url: '/x', tries: [1, 2] };
        when = new Date(0);
        retry = () => 'not serializable';
        constructor() {
          super('not found', { cause: { reason: 'gone', since: 1999 } });
          this.name = 'HttpError';
        }
      }
      throw new HttpError();
    });
    const err = (await sunray.get(fail.remote()).catch((e: unknown) => e)) as Error;
    const cause = err.cause as Error & Record<string, unknown>;
    expect(cause.name).toBe('HttpError');
    expect(cause.message).toBe('not found');
    expect(cause.status).toBe(404);
    expect(cause.details).toEqual({ url: '/x', tries: [1, 2] });
    expect(cause.when).toEqual(new Date(0));
    expect('retry' in cause).toBe(false);
    expect(cause.cause).toEqual({ reason: 'gone', since: 1999 });
  });

  test('through an actor method, and through a task that rethrows a failed task’s error', async () => {
    const Files = sunray.remote(
      class Files {
        read(path: string) {
          return require('node:fs').readFileSync(path);
        }
        loop() {
          const e = new Error('self-caused') as Error & { code?: string };
          e.code = 'ELOOP';
          (e as { cause?: unknown }).cause = e; // a cycle: cut, not followed forever
          throw e;
        }
      },
    );
    const files = Files.remote();
    const err = (await sunray.get(files.read.remote('/nonexistent')).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(sunray.TaskError);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    const loop = (await sunray.get(files.loop.remote()).catch((e: unknown) => e)) as Error;
    expect((loop.cause as NodeJS.ErrnoException).code).toBe('ELOOP');
    sunray.kill(files);

    const readMissing = sunray.remote(async (path: string) => {
      const fs = await import('node:fs');
      return fs.readFileSync(path);
    });
    const outer = sunray.remote(async (inner: sunray.ObjectRef<unknown>[]) => {
      const s = await import('sunray');
      return s.get(inner[0]!);
    });
    const nested = (await sunray
      .get(outer.remote([readMissing.remote('/nonexistent')]))
      .catch((e: unknown) => e)) as Error;
    // The outer task's error is the inner TaskError, whose cause is the remote ENOENT.
    const rethrown = nested.cause as Error & { code?: string; taskName?: string };
    expect(rethrown.name).toBe('TaskError');
    expect(rethrown.code).toBe('SUNRAY_TASK_ERROR');
    expect(rethrown.taskName).toBe('anonymous');
    expect((rethrown.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
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

  test('methods run as remote functions: shorthand, async, static, symbol-keyed', async () => {
    const sym: unique symbol = Symbol.for('sunray.test');
    const obj = {
      inc(x: number) {
        return x + 1;
      },
      async twice(x: number) {
        await new Promise((r) => setTimeout(r, 1));
        return x * 2;
      },
      async(x: number) {
        return `a method named async: ${x}`;
      },
      [sym](x: number) {
        return -x;
      },
    };
    // biome-ignore lint/complexity/noStaticOnlyClass: static methods are what this ships
    class MathOps {
      static square(x: number) {
        return x * x;
      }
      static async cube(x: number) {
        return x * x * x;
      }
    }
    expect(await sunray.get(sunray.remote(obj.inc).remote(1))).toBe(2);
    expect(await sunray.get(sunray.remote(obj.twice).remote(4))).toBe(8);
    expect(await sunray.get(sunray.remote(obj.async).remote(5))).toBe('a method named async: 5');
    expect(await sunray.get(sunray.remote(obj[sym]).remote(6))).toBe(-6);
    expect(await sunray.get(sunray.remote(MathOps.square).remote(7))).toBe(49);
    expect(await sunray.get(sunray.remote(MathOps.cube).remote(2))).toBe(8);
    expect(await sunray.get(sunray.remote(async (x: number) => x + 0.5).remote(1))).toBe(1.5);
    expect(await sunray.get(sunray.remote(async (x: number) => [x]).remote(1))).toEqual([1]);
  });

  test('getters are not functions: refused at remote()', () => {
    const obj = {
      get answer() {
        return 42;
      },
    };
    expect(() => sunray.remote(obj.answer as unknown as () => number)).toThrow(sunray.InvalidArgumentError);
    const getter = Object.getOwnPropertyDescriptor(obj, 'answer')!.get!;
    expect(() => sunray.remote(getter)).toThrow(/is a getter, not a function that can run as a task/);
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
