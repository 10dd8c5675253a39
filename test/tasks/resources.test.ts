import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';

beforeAll(() =>
  sunray.init({ numCpus: 2, numGpus: 2, resources: { disk: 1 }, objectStoreMemory: 128 * 1024 * 1024 }),
);
afterAll(() => sunray.shutdown());

const sleep = sunray.remote(async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return process.pid;
});

describe('resources bound concurrency', () => {
  test('with numCpus: 2, four 500 ms tasks take about a second', async () => {
    await sunray.get([sleep.remote(1), sleep.remote(1)]); // warm workers
    const t0 = performance.now();
    await sunray.get([0, 1, 2, 3].map(() => sleep.remote(500)));
    const took = performance.now() - t0;
    expect(took).toBeGreaterThan(950);
    expect(took).toBeLessThan(1700);
  });

  test('numCpus: 0.5 lets four run at once on two CPUs (fractional amounts)', async () => {
    const half = sleep.options({ numCpus: 0.5 });
    // Four workers warm first: starting processes (one at a time per resource shape) is not
    // what this measures.
    const pid = sunray.remote(async () => {
      await new Promise((r) => setTimeout(r, 200));
      return process.pid;
    });
    for (let i = 0; i < 6; i++) {
      const pids = await sunray.get([0, 1, 2, 3].map(() => pid.options({ numCpus: 0.5 }).remote()));
      if (new Set(pids).size === 4) break;
    }
    const t0 = performance.now();
    await sunray.get([0, 1, 2, 3].map(() => half.remote(400)));
    // Four at once: ~400 ms; two at a time would take 800 ms or more.
    expect(performance.now() - t0).toBeLessThan(750);
  });

  test('custom resources: disk: 1 runs one at a time', async () => {
    const disk = sleep.options({ numCpus: 0, resources: { disk: 1 } });
    const t0 = performance.now();
    await sunray.get([disk.remote(300), disk.remote(300)]);
    expect(performance.now() - t0).toBeGreaterThan(580);
  });

  test('numGpus assigns device ids, visible in the context and CUDA_VISIBLE_DEVICES', async () => {
    const gpuTask = sunray.remote(async () => {
      const s = await import('sunray');
      return { ids: s.getRuntimeContext().gpuIds, env: process.env.CUDA_VISIBLE_DEVICES };
    });
    const one = await sunray.get(gpuTask.options({ numGpus: 1 }).remote());
    expect(one.ids.length).toBe(1);
    expect(one.env).toBe(String(one.ids[0]));
    const both = await sunray.get(gpuTask.options({ numGpus: 2 }).remote());
    expect([...both.ids].sort()).toEqual([0, 1]);
    expect(both.env?.split(',').sort()).toEqual(['0', '1']);
  });

  test('a task no node can run is reported as infeasible, with its demand', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const impossible = sleep.options({ numGpus: 8 });
      const ref = impossible.remote(1);
      await expect(sunray.get(ref, { timeout: 200 })).rejects.toBeInstanceOf(sunray.GetTimeoutError);
      expect(warn).toHaveBeenCalled();
      const msg = String(warn.mock.calls[0]?.[0]);
      expect(msg).toMatch(/infeasible/);
      expect(msg).toMatch(/"GPU":8/);
      sunray.cancel(ref);
      await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskCancelledError);
    } finally {
      warn.mockRestore();
    }
  });

  test('bad resource options are refused when the call is made', () => {
    expect(() => sleep.options({ numCpus: -1 })).toThrow(sunray.InvalidArgumentError);
    expect(() => sleep.options({ numCpus: 1.5 })).toThrow(/whole numbers/);
    expect(() => sleep.options({ maxRetries: 1.2 })).toThrow(sunray.InvalidArgumentError);
  });
});
