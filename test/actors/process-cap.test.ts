// More actors than a node's worker processes (maxWorkerProcesses; 120 at most): the extra
// ones wait to be placed, in order, as Ray's pending actors do, and each is placed when an
// earlier one exits; tasks wait for a worker too. Nothing throws inside the driver (it used
// to die of an uncaught SunrayError thrown from the node manager's dispatch).
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster, nodeStats } from 'sunray/testing';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { repoRoot, runNode, until } from '../helpers.js';

class Member {
  constructor(readonly index: number) {}
  whoami() {
    return this.index;
  }
}

const add = sunray.remote((a: number, b: number) => a + b);

/** Whether ref is ready within ms. */
async function readyWithin(ref: sunray.ObjectRef<unknown>, ms: number): Promise<boolean> {
  const [ready] = await sunray.wait([ref], { timeout: ms });
  return ready.length === 1;
}

afterEach(async () => {
  vi.restoreAllMocks();
  await sunray.shutdown();
});

describe('maxWorkerProcesses', () => {
  test('8 actors on a node of 4 processes: the last 4 wait, and each answers once an earlier one is killed', async () => {
    const warn = vi.spyOn(process, 'emitWarning');
    await sunray.init({ numCpus: 1, maxWorkerProcesses: 4 });
    const Cls = sunray.remote(Member);
    const actors = Array.from({ length: 8 }, (_, i) => Cls.remote(i));
    const answers = actors.map((a) => a.whoami.remote());
    expect(await sunray.get(answers.slice(0, 4))).toEqual([0, 1, 2, 3]);
    for (const late of answers.slice(4)) expect(await readyWithin(late, 300)).toBe(false);
    const stats = nodeStats();
    expect(stats.workers).toBeLessThanOrEqual(4);
    expect(stats.actors).toBe(8);
    expect(stats.pendingActors).toBe(4);
    // Said once, with the reason and what to do.
    const said = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('maxWorkerProcesses 4'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/waits for a worker process/);

    // A task waits for a worker too (it used to throw from the dispatch, killing the driver).
    const sum = add.remote(1, 2);
    expect(await readyWithin(sum, 300)).toBe(false);

    for (let i = 0; i < 4; i++) {
      sunray.kill(actors[i]!);
      expect(await sunray.get(answers[i + 4]!, { timeout: 20_000 })).toBe(i + 4);
    }
    expect(await sunray.get(sum, { timeout: 20_000 })).toBe(3);
    await until(() => nodeStats().pendingActors === 0, 5000, 'no actor to wait');
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('maxWorkerProcesses 4'))).toHaveLength(1);
  });

  test('a value past what a node supports is refused with a message', async () => {
    for (const bad of [0, 2.5, 121, -1]) {
      const err = await sunray.init({ maxWorkerProcesses: bad }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(sunray.InvalidArgumentError);
      expect((err as Error).message).toMatch(/maxWorkerProcesses must be a whole number from 1 to 120/);
      expect(sunray.isInitialized()).toBe(false);
    }
    const cli = await runNode(join(repoRoot, 'dist', 'cli', 'main.js'), [
      'start',
      '--head',
      '--max-worker-processes',
      '500',
    ]);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/maxWorkerProcesses must be a whole number from 1 to 120/);
  });

  test("a node daemon's waiting actors show in the node table (sunray status)", async () => {
    const cluster = new Cluster();
    try {
      await cluster.addNode({ numCpus: 1, maxWorkerProcesses: 2 });
      await sunray.init({ address: cluster.address, token: cluster.token });
      const Cls = sunray.remote(Member);
      const actors = Array.from({ length: 4 }, (_, i) => Cls.remote(i));
      const answers = actors.map((a) => a.whoami.remote());
      expect(await sunray.get(answers.slice(0, 2))).toEqual([0, 1]);
      let waiting = 0;
      await until(
        async () => {
          waiting = (await cluster.nodeTable()).reduce((s, n) => s + n.pendingActors, 0);
          return waiting === 2;
        },
        10_000,
        'the head to list 2 waiting actors',
      );
      const status = await runNode(join(repoRoot, 'dist', 'cli', 'main.js'), [
        'status',
        '--address',
        cluster.address,
        '--token',
        cluster.token,
      ]);
      expect(status.stdout).toMatch(/of which 2 actor\(s\) wait to be placed/);
      expect(status.stdout).toMatch(
        /2 actor\(s\) wait for a worker process: the node runs its maxWorkerProcesses/,
      );
      sunray.kill(actors[0]!);
      expect(await sunray.get(answers[2]!, { timeout: 20_000 })).toBe(2);
    } finally {
      await sunray.shutdown();
      await cluster.shutdown();
    }
  });
});
