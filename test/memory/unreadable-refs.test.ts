// Refs that can never be read fail at once with an error that says why, rather than
// wait forever: a handle that was released, and a ref of a session that was shut down
// (get() used to start a new session with default settings and wait in it).
import * as sunray from 'sunray';
import { describe, expect, test } from 'vitest';

/** Settles p, or fails the test if it neither resolves nor rejects within ms: "at once", not "eventually". */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
    }),
  ]);
}

const add = sunray.remote((a: number, b: number) => a + b);

describe('a released handle', () => {
  test('get() and wait() of it fail at once with ObjectRefReleasedError', async () => {
    await sunray.init({ numCpus: 1 });
    try {
      const stored = sunray.put({ big: new Float64Array(100_000) });
      const small = sunray.put(7);
      const result = add.remote(1, 2);
      expect(await sunray.get(result)).toBe(3);
      for (const ref of [stored, small, result] as sunray.ObjectRef<unknown>[]) {
        ref.release();
        const err = await within(sunray.get(ref), 2000).catch((e: Error) => e);
        expect(err).toBeInstanceOf(sunray.ObjectRefReleasedError);
        expect((err as sunray.ObjectRefReleasedError).code).toBe('SUNRAY_REF_RELEASED');
        expect((err as Error).message).toContain(ref.hex);
        expect((err as Error).message).toMatch(/released/);
        await expect(within(sunray.get([ref]), 2000)).rejects.toBeInstanceOf(sunray.ObjectRefReleasedError);
        await expect(within(sunray.wait([ref]), 2000)).rejects.toBeInstanceOf(sunray.ObjectRefReleasedError);
      }
      // As a task's argument it fails the task, at once.
      const released = sunray.put(5);
      released.release();
      const err = await within(sunray.get(add.remote(released, 1)), 2000).catch((e: Error) => e);
      expect(err).toBeInstanceOf(sunray.ObjectRefReleasedError);
      expect((err as Error).message).toMatch(/an argument of/);
      // A pending task's ref, released before it finished: the same.
      const slow = sunray.remote(async () => {
        await new Promise((r) => setTimeout(r, 200));
        return 1;
      });
      const pending = slow.remote();
      pending.release();
      await expect(within(sunray.get(pending), 2000)).rejects.toBeInstanceOf(sunray.ObjectRefReleasedError);
      // Other refs are unaffected.
      expect(await sunray.get(add.remote(2, 2))).toBe(4);
    } finally {
      await sunray.shutdown();
    }
  });
});

describe('a ref from before shutdown()', () => {
  test('fails at once with SessionEndedError, and starts no new session', async () => {
    await sunray.init({ numCpus: 1 });
    const stored = sunray.put('kept in the old store');
    const result = add.remote(20, 22);
    expect(await sunray.get(result)).toBe(42);
    const unfinished = sunray
      .remote(async () => {
        await new Promise((r) => setTimeout(r, 60_000));
      })
      .remote();
    await sunray.shutdown();

    for (const ref of [stored, result] as sunray.ObjectRef<unknown>[]) {
      const err = await within(sunray.get(ref), 2000).catch((e: Error) => e);
      expect(err).toBeInstanceOf(sunray.SessionEndedError);
      expect(err).toBeInstanceOf(sunray.ObjectLostError);
      expect((err as sunray.SessionEndedError).code).toBe('SUNRAY_SESSION_ENDED');
      expect((err as Error).message).toContain('belongs to a sunray session that was shut down');
      await expect(within(sunray.wait([ref]), 2000)).rejects.toBeInstanceOf(sunray.SessionEndedError);
    }
    // It did not quietly start a node with default settings to wait in.
    expect(sunray.isInitialized()).toBe(false);
    // The task that was running at shutdown failed then; its ref fails now too.
    await expect(within(sunray.get(unfinished), 2000)).rejects.toBeInstanceOf(sunray.SunrayError);

    // In a new session the old refs stay unreadable, and new ones work.
    await sunray.init({ numCpus: 1 });
    try {
      await expect(within(sunray.get(stored), 2000)).rejects.toBeInstanceOf(sunray.SessionEndedError);
      await expect(within(sunray.get([result, sunray.put(1)]), 2000)).rejects.toBeInstanceOf(
        sunray.SessionEndedError,
      );
      await expect(
        within(sunray.get(add.remote(result as sunray.ObjectRef<number>, 1)), 2000),
      ).rejects.toBeInstanceOf(sunray.SessionEndedError);
      expect(await sunray.get(add.remote(1, 1))).toBe(2);
      expect(await sunray.get(sunray.put('new'))).toBe('new');
    } finally {
      await sunray.shutdown();
    }
  });
});
