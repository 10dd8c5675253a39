// An actor starts in a warm worker: created while a worker of the node idles, it is hosted by
// that process (its start already paid, as Ray's actors take workers from the pool tasks
// use), and the pool starts another so that the next actor or task finds one warm too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { nodeStats } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sunray-warm-'));
  await sunray.init({ numCpus: 2, objectStoreMemory: 64 << 20 });
});
afterAll(async () => {
  await sunray.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** Each call writes its pid into `dir` and waits until `n` calls have: one per worker. */
const meet = sunray.remote(async (dir: string, n: number) => {
  const fs = await import('node:fs');
  fs.writeFileSync(`${dir}/${process.pid}`, '');
  while (fs.readdirSync(dir).length < n) await new Promise((r) => setTimeout(r, 5));
  return process.pid;
});

describe('warm actor starts', () => {
  test('an actor is hosted by an idle worker, and the pool starts another to keep one per CPU', async () => {
    const pids = await sunray.get([meet.remote(dir, 2), meet.remote(dir, 2)]);
    expect(new Set(pids).size).toBe(2); // the node's two workers
    await until(() => nodeStats().idle === 2, 10_000, 'both workers to be idle');
    const Pid = sunray.remote(
      class Pid {
        pid() {
          return process.pid;
        }
      },
      { numCpus: 0 },
    );
    const a = Pid.remote();
    expect(pids).toContain(await sunray.get(a.pid.remote()));
    // A spare was started: two workers idle again, beside the actor's.
    await until(
      () => nodeStats().idle === 2 && nodeStats().workers === 3,
      10_000,
      () => `two idle workers beside the actor's (now ${JSON.stringify(nodeStats())})`,
    );
    // The next actor takes a warm one too; tasks still run (in the other).
    const b = Pid.remote();
    const bPid = await sunray.get(b.pid.remote());
    expect(bPid).not.toBe(await sunray.get(a.pid.remote()));
    const pidOf = sunray.remote(() => process.pid);
    expect(typeof (await sunray.get(pidOf.remote()))).toBe('number');
    sunray.kill(a);
    sunray.kill(b);
  });
});
