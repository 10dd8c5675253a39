// Direct actor calls: a worker that calls an actor on its own node writes the
// calls straight into the actor's inbox and gets the results straight back
// (docs/actors.md). These tests check what a user sees: order, failures,
// retries and cancellation behave as for calls routed by the node manager.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as sunray from 'sunray';
import { nodeStats } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, until, untilGoneAfterGc } from '../helpers.js';
import { Victim, type VictimHandle } from './victim.js';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 128 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

const Counter = sunray.remote(
  class Counter {
    n = 0;
    incr() {
      return ++this.n;
    }
    pid() {
      return process.pid;
    }
    async sleep(ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    }
  },
);

type CounterHandle = ReturnType<typeof Counter.remote>;

/** A task that makes n calls to c and returns what they gave, in the order it made them. */
const callMany = sunray.remote(async (c: CounterHandle, n: number) => {
  const s = await import('sunray');
  return s.get(Array.from({ length: n }, () => c.incr.remote()));
});

function increasing(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || x > xs[i - 1]!);
}

describe('direct actor calls', () => {
  test("a worker's calls go straight to the actor and keep their order", async () => {
    const c = Counter.remote();
    expect(await sunray.get(c.incr.remote())).toBe(1);
    const [a, b] = await sunray.get([callMany.remote(c, 3000), callMany.remote(c, 3000)]);
    expect(a).toHaveLength(3000);
    expect(b).toHaveLength(3000);
    // Each caller's calls ran in the order it made them, interleaved with the other's.
    expect(increasing(a!)).toBe(true);
    expect(increasing(b!)).toBe(true);
    expect(new Set([...a!, ...b!]).size).toBe(6000);
    expect(await sunray.get(c.incr.remote())).toBe(6002);
    expect(nodeStats().directChannels).toBeGreaterThanOrEqual(1);
  });

  test('kill -9 of the actor: direct calls in flight are retried if maxTaskRetries allows, else fail', async () => {
    const caller = sunray.remote(async (v: VictimHandle, marker: string) => {
      const s = await import('sunray');
      await s.get(v.hang.remote(`${marker}.warm`)); // opens the channel
      let first: string;
      try {
        first = await s.get(v.hang.remote(marker));
      } catch (e) {
        first = `${(e as Error).name}: ${(e as Error).message}`;
      }
      // The restarted actor answers this caller again (a new channel to its new process).
      const after = await s.get(v.hang.remote(marker));
      return [first, after];
    });
    for (const retries of [0, 1]) {
      const marker = `/tmp/sunray-test-direct-${process.pid}-${retries}`;
      rmSync(marker, { force: true });
      writeFileSync(`${marker}.warm`, ''); // calls with this marker return at once
      const v = Victim.options({ maxRestarts: 1, maxTaskRetries: retries }).remote();
      await sunray.get(v.hang.remote(`${marker}.warm`));
      const before = nodeStats().directChannels;
      const ref = caller.remote(v, marker);
      await until(() => existsSync(marker), 10_000, 'the call to start');
      expect(nodeStats().directChannels).toBeGreaterThan(before);
      process.kill(Number(readFileSync(marker, 'utf8')), 'SIGKILL');
      const [first, after] = await sunray.get(ref);
      if (retries === 0) {
        expect(first).toMatch(
          /^ActorDiedError: .*while running Victim.hang; it is restarting\. Set maxTaskRetries/,
        );
      } else {
        expect(first).toBe('done');
      }
      expect(after).toBe('done');
      sunray.kill(v);
      rmSync(marker, { force: true });
      rmSync(`${marker}.warm`, { force: true });
    }
  });

  test('callers keep going while their actors are killed and restarted under them', async () => {
    const Restartable = Counter.options({ maxRestarts: -1, maxTaskRetries: -1 });
    const actors = [Restartable.remote(), Restartable.remote(), Restartable.remote()];
    const pids = await sunray.get(actors.map((a) => a.pid.remote()));
    const marker = `/tmp/sunray-test-direct-churn-${process.pid}`;
    rmSync(marker, { force: true });
    const churn = sunray.remote(async (hs: CounterHandle[], path: string, rounds: number) => {
      const s = await import('sunray');
      const fs = await import('node:fs');
      let calls = 0;
      for (let round = 0; round < rounds; round++) {
        const out = await s.get(Array.from({ length: 300 }, (_, i) => hs[i % hs.length]!.incr.remote()));
        calls += out.length;
        if (round === 1) fs.writeFileSync(path, '');
      }
      return calls;
    });
    const refs = [churn.remote(actors, marker, 200), churn.remote(actors, marker, 200)];
    await until(() => existsSync(marker), 20_000, 'the callers to be under way');
    // Kill each actor once while both callers stream calls to all three.
    let finished = false;
    const done = sunray.get(refs).finally(() => {
      finished = true;
    });
    for (const pid of pids) {
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(finished).toBe(false); // the kills landed while calls were streaming
    expect(await done).toEqual([60_000, 60_000]);
    // Every actor restarted (a new process) and answers.
    const after = await sunray.get(actors.map((a) => a.pid.remote()));
    for (const [i, pid] of after.entries()) expect(pid).not.toBe(pids[i]);
    rmSync(marker, { force: true });
    for (const a of actors) sunray.kill(a);
  });

  test('a caller killed -9 mid-stream leaves the actor serving everyone else', async () => {
    const c = Counter.remote();
    const marker = `/tmp/sunray-test-direct-caller-${process.pid}`;
    rmSync(marker, { force: true });
    const spam = sunray
      .remote(async (h: CounterHandle, path: string) => {
        const s = await import('sunray');
        const fs = await import('node:fs');
        for (let round = 0; ; round++) {
          await s.get(Array.from({ length: 500 }, () => h.incr.remote()));
          if (round === 2) fs.writeFileSync(path, String(process.pid));
        }
      })
      .options({ maxRetries: 0 });
    const ref = spam.remote(c, marker);
    await until(() => existsSync(marker), 20_000, 'the caller to be making calls');
    const pid = Number(readFileSync(marker, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.WorkerCrashedError);
    await until(() => !isAlive(pid), 5000, 'the caller to die');
    // The actor's inbox is not wedged by a writer that died: others' calls, routed and direct, run.
    const n = await sunray.get(c.incr.remote());
    const more = await sunray.get(callMany.remote(c, 1000));
    expect(more).toEqual(Array.from({ length: 1000 }, (_, i) => n + 1 + i));
    rmSync(marker, { force: true });
  });

  test('cancel(): a queued direct call is dropped, a running one stops being waited for', async () => {
    const c = Counter.options({ maxConcurrency: 1 }).remote(); // so that the second call queues
    const caller = sunray.remote(async (h: CounterHandle) => {
      const s = await import('sunray');
      await s.get(h.incr.remote()); // opens the channel
      const running = h.sleep.remote(1500);
      const queued = h.sleep.remote(1);
      await new Promise((r) => setTimeout(r, 200));
      s.cancel(queued);
      s.cancel(running);
      const out: string[] = [];
      for (const ref of [queued, running]) {
        try {
          out.push(String(await s.get(ref)));
        } catch (e) {
          out.push(`${(e as Error).name}: ${(e as Error).message}`);
        }
      }
      out.push(String(await s.get(h.incr.remote()))); // the actor lives on
      return out;
    });
    const [queued, running, next] = await sunray.get(caller.remote(c));
    expect(queued).toBe('TaskCancelledError: task Counter.sleep was cancelled before it ran');
    expect(running).toMatch(/^TaskCancelledError: task Counter.sleep was cancelled while running/);
    expect(next).toBe('2');
  });

  test('an actor ended by its owner finishes the direct calls it was sent first', async () => {
    let c: CounterHandle | undefined = Counter.options({ name: 'drains-first' }).remote();
    const pid = await sunray.get(c.pid.remote());
    const caller = sunray.remote(async () => {
      const s = await import('sunray');
      const h = await s.getActor<{ incr(): number; sleep(ms: number): Promise<number> }>('drains-first');
      await s.get(h.incr.remote()); // opens the channel
      return [h.sleep.remote(1500)]; // still running when the owner lets go
    });
    const [slow] = await sunray.get(caller.remote());
    c = undefined; // the owner's last handle: the actor ends once its calls are done
    (globalThis as { gc?: () => void }).gc?.();
    expect(await sunray.get(slow!)).toBe(1500);
    await untilGoneAfterGc(pid, 'the actor to end after its last call');
  });

  test('a ref passed to an actor and kept there stays readable after its caller moves on', async () => {
    const Holder = sunray.remote(
      class Holder {
        kept: sunray.ObjectRef<string> | undefined;
        keep(box: { ref: sunray.ObjectRef<string> }) {
          this.kept = box.ref;
          return true;
        }
        async read() {
          const s = await import('sunray');
          return s.get(this.kept!);
        }
      },
    );
    type HolderHandle = ReturnType<typeof Holder.remote>;
    const h = Holder.remote();
    const lend = sunray.remote(async (holder: HolderHandle) => {
      const s = await import('sunray');
      for (let i = 0; i < 50; i++) await s.get(holder.keep.remote({ ref: s.put(`value ${i}`) }));
      return true;
    });
    expect(await sunray.get(lend.remote(h))).toBe(true);
    expect(await sunray.get(h.read.remote())).toBe('value 49');
  });
});
