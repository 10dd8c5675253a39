import * as sunray from 'sunray';
import { describe, expect, test } from 'vitest';
import { childPids, isAlive, until } from '../helpers.js';

describe('the worker pool', () => {
  test('idle workers are reused, extra ones reaped, and shutdown leaves no process', async () => {
    await sunray.init({ numCpus: 1, idleWorkerTimeout: 300 });
    try {
      const pid = sunray.remote(() => process.pid);
      const first = await sunray.get(pid.remote());
      const second = await sunray.get(pid.remote());
      expect(second).toBe(first); // reused
      // Blocked tasks make the pool grow past one worker per CPU...
      const nest = sunray.remote(async () => {
        const s = await import('sunray');
        const inner = s.remote(async () => {
          await new Promise((r) => setTimeout(r, 50));
          return process.pid;
        });
        return [process.pid, await s.get(inner.remote())];
      });
      const [outer, inner] = await sunray.get(nest.remote());
      expect(outer).not.toBe(inner);
      expect((await childPids(process.pid)).length).toBeGreaterThanOrEqual(2);
      // ...and the extra idle ones are reaped after idleWorkerTimeout.
      await until(async () => (await childPids(process.pid)).length === 1, 5000, 'idle workers to be reaped');
    } finally {
      const kids = await childPids(process.pid);
      await sunray.shutdown();
      for (const k of kids) expect(isAlive(k)).toBe(false);
    }
    expect(sunray.isInitialized()).toBe(false);
  });

  test('init twice is an error; after shutdown it starts again', async () => {
    await sunray.init({ numCpus: 1 });
    await expect(sunray.init()).rejects.toThrow(/already initialized/);
    await sunray.shutdown();
    await sunray.init({ numCpus: 1 });
    expect(await sunray.get(sunray.remote(() => 'again').remote())).toBe('again');
    await sunray.shutdown();
  });
});
