// Idle workers are reaped after idleWorkerTimeout, except those that own
// objects other processes still hold: stopping them would lose those objects.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { nodeStats } from 'sunray/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { until } from '../helpers.js';

beforeAll(() => sunray.init({ numCpus: 1, idleWorkerTimeout: 200 }));
afterAll(() => sunray.shutdown());

test('a worker that owns refs the driver holds outlives the idle timeout', async () => {
  // A barrier in a directory: each task waits until all four run at once, so several workers
  // own objects however slowly workers start on a loaded machine (a fixed sleep was flaky).
  const dir = mkdtempSync(join(tmpdir(), 'sunray-reap-'));
  const make = sunray.remote(
    async (i: number, barrier: string) => {
      const s = await import('sunray');
      const fs = await import('node:fs');
      const path = await import('node:path');
      fs.writeFileSync(path.join(barrier, String(i)), '');
      for (let t = 0; t < 600 && fs.readdirSync(barrier).length < 4; t++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      return { ref: s.put(Buffer.alloc(200_000, i)), pid: process.pid };
    },
    { numCpus: 0.25 },
  );
  const boxes = await sunray
    .get([1, 2, 3, 4].map((i) => make.remote(i, dir)))
    .finally(() => rmSync(dir, { recursive: true, force: true }));
  const owners = new Set(boxes.map((b) => b.pid));
  expect(owners.size).toBeGreaterThan(1);
  // Several reaper rounds past the timeout.
  await new Promise((r) => setTimeout(r, 1500));
  expect(nodeStats().workers).toBeGreaterThanOrEqual(owners.size);
  for (const [i, b] of boxes.entries()) expect((await sunray.get(b.ref))[0]).toBe(i + 1);
  // Once nothing holds their objects (the refs, and the results that contained them), the
  // extra workers go.
  // The release reaches each owner, which tells the node, whose reaper (every 200 ms) then
  // stops it: polled, since on a loaded machine that chain can take longer than a fixed wait.
  for (const b of boxes) b.ref.release();
  await until(
    () => {
      globalThis.gc?.();
      return nodeStats().workers === 1;
    },
    15_000,
    'the extra workers to be reaped',
  );
  expect(nodeStats().workers).toBe(1);
});
