import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { mostAtOnce } from '../helpers.js';

beforeAll(() =>
  sunray.init({ numCpus: 2, numGpus: 2, resources: { disk: 1 }, objectStoreMemory: 128 * 1024 * 1024 }),
);
afterAll(() => sunray.shutdown());

const sleep = sunray.remote(async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return process.pid;
});

/** A task that sleeps ms and says when it ran ([start, end], this machine's clock). */
const span = sunray.remote(async (ms: number): Promise<[number, number]> => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return [start, Date.now()];
});

describe('resources bound concurrency', () => {
  test('with numCpus: 2, four tasks run two at a time', async () => {
    await sunray.get([sleep.remote(1), sleep.remote(1)]); // warm workers
    const spans = await sunray.get([0, 1, 2, 3].map(() => span.remote(500)));
    expect(mostAtOnce(spans)).toBe(2);
  });

  test('numCpus: 0.5 lets four run at once on two CPUs (fractional amounts)', async () => {
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
    const spans = await sunray.get([0, 1, 2, 3].map(() => span.options({ numCpus: 0.5 }).remote(1000)));
    expect(mostAtOnce(spans)).toBe(4);
  });

  test('custom resources: disk: 1 runs one at a time', async () => {
    const disk = span.options({ numCpus: 0, resources: { disk: 1 } });
    const spans = await sunray.get([disk.remote(300), disk.remote(300)]);
    expect(mostAtOnce(spans)).toBe(1);
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
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
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
