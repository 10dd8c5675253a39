// get() and wait() stop at an AbortSignal (AbortError, the tasks keep running, no listener
// left on the signal), and asCompleted() gives refs in the order their tasks finish.
import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sunray-signals-'));
  await sunray.init({ numCpus: 4, objectStoreMemory: 128 << 20 });
});
afterAll(async () => {
  await sunray.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** A task that finishes when the test creates its file (so the test decides the order). */
const gated = sunray.remote(async (file: string, value: number) => {
  const fs = await import('node:fs');
  while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 10));
  return value;
});

const sleep = sunray.remote(async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
});

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

describe('get() and wait() with an AbortSignal', () => {
  test('an abort during get() rejects with AbortError (cause: the reason); the task keeps running', async () => {
    const gate = join(dir, 'get-abort');
    const ref = gated.remote(gate, 7);
    const ac = new AbortController();
    const reason = new Error('user went away');
    setTimeout(() => ac.abort(reason), 100);
    const err = (await sunray.get(ref, { signal: ac.signal }).catch((e: unknown) => e)) as sunray.AbortError;
    expect(err).toBeInstanceOf(sunray.AbortError);
    expect(err).toBeInstanceOf(sunray.SunrayError);
    expect(err.name).toBe('AbortError');
    expect(err.code).toBe('SUNRAY_ABORTED');
    expect(err.cause).toBe(reason);
    expect(err.message).toMatch(/get\(\) was aborted by its signal: user went away/);
    expect(abortListeners(ac.signal)).toBe(0);
    // Not cancelled: it finishes once let go, and its value is there.
    writeFileSync(gate, '');
    expect(await sunray.get(ref)).toBe(7);
  });

  test('an already aborted signal rejects at once, even for a ready ref', async () => {
    const ref = sunray.put(1);
    const signal = AbortSignal.abort('no');
    const err = (await sunray.get(ref, { signal }).catch((e: unknown) => e)) as sunray.AbortError;
    expect(err.name).toBe('AbortError');
    expect(err.cause).toBe('no');
    await expect(sunray.get([ref], { signal })).rejects.toBeInstanceOf(sunray.AbortError);
    await expect(sunray.wait([ref], { signal })).rejects.toBeInstanceOf(sunray.AbortError);
  });

  test('get() of an array stops at the abort too', async () => {
    const gate = join(dir, 'get-array');
    const refs = [sunray.put(1), gated.remote(gate, 2)];
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = (await sunray.get(refs, { signal: ac.signal }).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('AbortError');
    expect((err.cause as Error).name).toBe('AbortError'); // abort()'s default reason, a DOMException
    writeFileSync(gate, '');
    expect(await sunray.get(refs)).toEqual([1, 2]);
  });

  test('an abort during wait() rejects with AbortError; the tasks keep running', async () => {
    const gate = join(dir, 'wait-abort');
    const refs = [gated.remote(gate, 1), gated.remote(gate, 2)];
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 100);
    const err = (await sunray.wait(refs, { signal: ac.signal }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(sunray.AbortError);
    expect(err.message).toMatch(/^wait\(\) was aborted/);
    expect(abortListeners(ac.signal)).toBe(0);
    writeFileSync(gate, '');
    const [ready] = await sunray.wait(refs, { numReturns: 2, timeout: 20_000 });
    expect(ready).toEqual(refs);
  });

  test('a long-lived signal keeps no listener after many gets and waits settle', async () => {
    const ac = new AbortController();
    const refs = Array.from({ length: 200 }, (_, i) => sleep.remote(i % 5));
    for (const ref of refs) await sunray.get(ref, { signal: ac.signal });
    await sunray.wait(
      Array.from({ length: 50 }, () => sleep.remote(20)),
      { numReturns: 50, signal: ac.signal },
    );
    await expect(sunray.get(sleep.remote(2000), { signal: ac.signal, timeout: 50 })).rejects.toBeInstanceOf(
      sunray.GetTimeoutError,
    );
    expect(abortListeners(ac.signal)).toBe(0);
  });

  test('inside a task, an abort stops a get() of a borrowed ref', async () => {
    const gate = join(dir, 'borrowed');
    const reader = sunray.remote(async (refs: sunray.ObjectRef<number>[]) => {
      const s = await import('sunray');
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('enough')), 100);
      try {
        await s.get(refs[0]!, { signal: ac.signal });
        return 'read';
      } catch (e) {
        const err = e as Error & { code: string };
        return `${err.name} ${err.code} ${(err.cause as Error).message}`;
      }
    });
    const slow = gated.remote(gate, 3);
    expect(await sunray.get(reader.remote([slow]), { timeout: 20_000 })).toBe(
      'AbortError SUNRAY_ABORTED enough',
    );
    writeFileSync(gate, '');
    expect(await sunray.get(slow)).toBe(3);
  });

  test('a signal that is not an AbortSignal is refused', async () => {
    await expect(sunray.get(sunray.put(1), { signal: {} as AbortSignal })).rejects.toBeInstanceOf(
      sunray.InvalidArgumentError,
    );
  });
});

describe('asCompleted()', () => {
  test('refs come in the order their tasks finish, finished ones first', async () => {
    const gates = [0, 1, 2].map((i) => join(dir, `order-${i}`));
    const done = sunray.put(-1);
    const refs = gates.map((g, i) => gated.remote(g, i));
    const order = [2, 0, 1];
    const seen: number[] = [];
    writeFileSync(gates[order[0]!]!, '');
    for await (const ref of sunray.asCompleted([...refs, done])) {
      const v = await sunray.get(ref);
      seen.push(v);
      // The next task may finish only once this one was seen: the order is the test's.
      const after = v === -1 ? undefined : order[order.indexOf(v) + 1];
      if (after !== undefined) writeFileSync(gates[after]!, '');
    }
    expect(seen).toEqual([-1, 2, 0, 1]);
  });

  test('thousands of refs each come once; a failed task comes too, and get() throws its error', async () => {
    const n = 3000;
    const fail = sunray.remote(() => {
      throw new RangeError('bad');
    });
    const refs = [
      ...Array.from({ length: n / 2 }, (_, i) => sunray.put(i)),
      ...Array.from({ length: n / 2 }, (_, i) => sleep.remote(i % 3)),
      fail.remote(),
    ];
    const seen = new Set<string>();
    let failed = 0;
    for await (const ref of sunray.asCompleted(refs)) {
      expect(seen.has(ref.hex)).toBe(false);
      seen.add(ref.hex);
      if (ref === refs[n]) {
        await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.TaskError);
        failed++;
      }
    }
    expect(seen.size).toBe(n + 1);
    expect(failed).toBe(1);
  });

  test('a timeout rejects the waiting step with GetTimeoutError; a signal with AbortError', async () => {
    const gate = join(dir, 'as-completed-stop');
    const refs = [sunray.put(1), gated.remote(gate, 2)];
    const it = sunray.asCompleted(refs, { timeout: 200 })[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(refs[0]);
    await expect(it.next()).rejects.toBeInstanceOf(sunray.GetTimeoutError);

    const ac = new AbortController();
    const seen: sunray.ObjectRef<number>[] = [];
    setTimeout(() => ac.abort(new Error('cancelled by user')), 100);
    const err = await (async () => {
      for await (const ref of sunray.asCompleted(refs, { signal: ac.signal })) seen.push(ref);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([refs[0]]);
    expect(err).toBeInstanceOf(sunray.AbortError);
    expect(abortListeners(ac.signal)).toBe(0);
    // The task was not cancelled.
    writeFileSync(gate, '');
    expect(await sunray.get(refs[1]!)).toBe(2);
  });

  test('breaking out of the loop stops it; the tasks keep running', async () => {
    const gate = join(dir, 'as-completed-break');
    const refs = [sunray.put(1), gated.remote(gate, 2), gated.remote(gate, 3)];
    for await (const ref of sunray.asCompleted(refs)) {
      expect(ref).toBe(refs[0]);
      break;
    }
    writeFileSync(gate, '');
    expect(await sunray.get(refs)).toEqual([1, 2, 3]);
    expect(existsSync(gate)).toBe(true);
  });

  test('inside a task, borrowed refs come in the order they finish', async () => {
    const gates = [0, 1].map((i) => join(dir, `borrowed-order-${i}`));
    const watcher = sunray.remote(async (refs: sunray.ObjectRef<number>[], first: string) => {
      const s = await import('sunray');
      const fs = await import('node:fs');
      const out: number[] = [];
      for await (const ref of s.asCompleted(refs, { timeout: 30_000 })) {
        out.push(await s.get(ref));
        if (out.length === 1) fs.writeFileSync(first, '');
      }
      return out;
    });
    const refs = gates.map((g, i) => gated.remote(g, i));
    writeFileSync(gates[1]!, '');
    // The watcher lets task 0 finish once it saw task 1.
    expect(await sunray.get(watcher.remote(refs, gates[0]!), { timeout: 30_000 })).toEqual([1, 0]);
  });

  test('bad input is refused at once', () => {
    expect(() => sunray.asCompleted([1 as unknown as sunray.ObjectRef<number>])).toThrow(
      sunray.InvalidArgumentError,
    );
    expect(() => sunray.asCompleted([], { timeout: -1 })).toThrow(sunray.InvalidArgumentError);
  });
});
