// Streaming generators (Ray's num_returns="streaming"): a remote generator or async generator
// function gives an ObjectRefGenerator whose refs arrive as values are yielded, in order.
// What the generator did (how far it got) is read from files it writes, so that the tests
// see the producer's progress while the consumer holds off.
import { existsSync, writeFileSync } from 'node:fs';
import * as sunray from 'sunray';
import { describe, expect, test } from 'vitest';
import { cancelAndDrain, generatorSession, progressOf, valuesOf } from '../generator-helpers.js';
import { until } from '../helpers.js';

/** A fresh path in the test's directory. */
const path = generatorSession('sunray-gen-');

/** Yields 0..count-1, writing how many it has yielded to `log` before each. */
const counted = sunray.remote(async function* counted(count: number, log: string) {
  const fs = await import('node:fs');
  for (let i = 0; i < count; i++) {
    fs.writeFileSync(log, String(i + 1));
    yield i;
  }
});

describe('streaming generators', () => {
  test('the first value is readable before the generator has finished', async () => {
    const gate = path('gate');
    const gen = sunray.remote(async function* gated(gate: string) {
      const fs = await import('node:fs');
      yield 'first';
      // Blocked until the consumer has read the first value.
      while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 5));
      yield 'second';
    });
    const it = gen.remote(gate);
    expect(it).toBeInstanceOf(sunray.ObjectRefGenerator);
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(await sunray.get(first.value as sunray.ObjectRef<string>)).toBe('first');
    // The generator has not finished: its completion is still pending.
    const [ready] = await sunray.wait([it.completed], { timeout: 100 });
    expect(ready).toEqual([]);
    writeFileSync(gate, '');
    expect(await valuesOf(it)).toEqual(['second']);
    expect(await sunray.get(it.completed)).toBe(2);
  });

  test('values arrive in order: many small ones, large ones through the store, sync generators', async () => {
    expect(await valuesOf(counted.remote(300, path('log')))).toEqual(
      Array.from({ length: 300 }, (_, i) => i),
    );
    const big = sunray.remote(function* big(k: number) {
      for (let i = 0; i < k; i++) yield new Float64Array(40_000).fill(i); // 320 kB: in the store
    });
    const arrays = await valuesOf(big.remote(3));
    expect(arrays.map((a) => [a.length, a[0], a[39_999]])).toEqual([
      [40_000, 0, 0],
      [40_000, 1, 1],
      [40_000, 2, 2],
    ]);
    // Method shorthand generators, and numReturns: 'streaming' on a function returning an iterable.
    const obj = {
      *items(k: number) {
        for (let i = 0; i < k; i++) yield `item ${i}`;
      },
    };
    expect(await valuesOf(sunray.remote(obj.items).remote(2))).toEqual(['item 0', 'item 1']);
    const listed = sunray.remote((k: number) => Array.from({ length: k }, (_, i) => i * 10));
    expect(await valuesOf(listed.options({ numReturns: 'streaming' }).remote(3))).toEqual([0, 10, 20]);
    // A generator always streams; a non-iterable result of a streaming task fails it.
    expect(() => big.options({ numReturns: 2 } as never)).toThrow(sunray.InvalidArgumentError);
    expect(() => big.options({ generatorBackpressure: 0 })).toThrow(/generatorBackpressure must be/);
    const notIterable = sunray.remote(() => 42).options({ numReturns: 'streaming' });
    await expect(valuesOf(notIterable.remote())).rejects.toThrow(/not a generator or iterable/);
  });

  test('a task can consume a generator it started (the owner is a worker)', async () => {
    const sum = sunray.remote(async (k: number) => {
      const s = await import('sunray');
      const gen = s.remote(async function* upTo(k: number) {
        for (let i = 1; i <= k; i++) yield i;
      });
      let total = 0;
      for await (const ref of gen.remote(k)) total += await s.get(ref);
      return total;
    });
    expect(await sunray.get(sum.remote(100))).toBe(5050);
  });

  test('generatorBackpressure pauses the producer while that many values are unconsumed', async () => {
    const log = path('log');
    const it = counted.options({ generatorBackpressure: 2 }).remote(10, log);
    await until(() => progressOf(log) === 2, 10_000, 'the generator yields its first 2 values');
    await new Promise((r) => setTimeout(r, 400));
    expect(progressOf(log)).toBe(2); // paused: 2 values unconsumed
    const first = await it.next();
    expect(await sunray.get(first.value as sunray.ObjectRef<number>)).toBe(0);
    await until(() => progressOf(log) === 3, 10_000, 'one more value after one was consumed');
    await new Promise((r) => setTimeout(r, 200));
    expect(progressOf(log)).toBe(3);
    expect(await valuesOf(it)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Without it the same generator runs to the end with nothing consumed.
    const free = path('log');
    const unbounded = counted.remote(10, free);
    await until(() => progressOf(free) === 10, 10_000, 'an unbounded generator runs on');
    expect(await sunray.get(unbounded.completed)).toBe(10);
  });

  test('an error in the generator rejects the step after the values yielded before it', async () => {
    const failing = sunray.remote(async function* failing(k: number) {
      for (let i = 0; i < k; i++) yield i;
      throw new RangeError(`boom after ${k}`);
    });
    const it = failing.remote(3);
    const got: number[] = [];
    let caught: unknown;
    try {
      for await (const ref of it) got.push(await sunray.get(ref));
    } catch (err) {
      caught = err;
    }
    expect(got).toEqual([0, 1, 2]);
    expect(caught).toBeInstanceOf(sunray.TaskError);
    expect(String(caught)).toMatch(/boom after 3/);
    await expect(sunray.get(it.completed)).rejects.toThrow(/boom after 3/);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  test('cancel(gen) stops the producer; the refs it yielded stay valid', async () => {
    const log = path('log');
    const endless = sunray.remote(async function* endless(log: string) {
      const fs = await import('node:fs');
      for (let i = 0; ; i++) {
        fs.writeFileSync(log, String(i + 1));
        yield i;
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    const it = endless.remote(log);
    const refs: sunray.ObjectRef<number>[] = [];
    for (let i = 0; i < 3; i++) refs.push((await it.next()).value as sunray.ObjectRef<number>);
    // The consumer gets what was yielded before the cancel took effect, then TaskCancelledError.
    expect(await cancelAndDrain(it, refs)).toBeInstanceOf(sunray.TaskCancelledError);
    // The generator stops at its next step (one it is in the middle of may still finish).
    await new Promise((r) => setTimeout(r, 100));
    const stopped = progressOf(log);
    expect(stopped).toBeLessThan(refs.length + 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(progressOf(log)).toBe(stopped); // the side effect stopped
    expect(await sunray.get(refs)).toEqual(refs.map((_, i) => i));
  });

  test('refs stay valid after the generator ends, here and in other tasks', async () => {
    const refs: sunray.ObjectRef<number>[] = [];
    const it = counted.remote(5, path('log'));
    for await (const ref of it) refs.push(ref);
    expect(await sunray.get(it.completed)).toBe(5);
    await new Promise((r) => setTimeout(r, 100));
    expect(await sunray.get(refs)).toEqual([0, 1, 2, 3, 4]);
    const double = sunray.remote((x: number) => x * 2);
    expect(await sunray.get(refs.map((r) => double.remote(r)))).toEqual([0, 2, 4, 6, 8]);
  });

  test('a worker dying mid-stream: retried from the start, consumed values not given twice', async () => {
    const crashing = sunray.remote(async function* crashing(gate: string, marker: string) {
      const fs = await import('node:fs');
      for (let i = 0; i < 8; i++) {
        if (i === 3) {
          while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 5));
          // The first run dies here (a while after its last yield); the retry goes on.
          if (!fs.existsSync(marker)) {
            fs.writeFileSync(marker, String(process.pid));
            await new Promise((r) => setTimeout(r, 50));
            process.exit(1);
          }
        }
        yield i;
      }
    });
    const gate = path('gate');
    const marker = path('marker');
    const it = crashing.options({ maxRetries: 1 }).remote(gate, marker);
    const got: number[] = [];
    for (let i = 0; i < 2; i++)
      got.push(await sunray.get((await it.next()).value as sunray.ObjectRef<number>));
    writeFileSync(gate, '');
    for await (const ref of it) got.push(await sunray.get(ref));
    expect(existsSync(marker)).toBe(true);
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await sunray.get(it.completed)).toBe(8);
    // Without retries left, the consumer gets the values before the crash, then WorkerCrashedError.
    const gate2 = path('gate');
    const once = crashing.options({ maxRetries: 0 }).remote(gate2, path('marker'));
    writeFileSync(gate2, '');
    const before: number[] = [];
    let caught: unknown;
    try {
      for await (const ref of once) before.push(await sunray.get(ref));
    } catch (err) {
      caught = err;
    }
    expect(before).toEqual([0, 1, 2]);
    expect(caught).toBeInstanceOf(sunray.WorkerCrashedError);
  });

  test('a generator its consumer dropped frees the values it holds, while it runs on', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('this test needs node --expose-gc');
    const gate = path('gate');
    const gated = sunray.remote(async function* gated(gate: string) {
      const fs = await import('node:fs');
      for (let i = 0; i < 5; i++) yield i;
      while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 5));
      yield 5;
    });
    // Not consumed: its values wait in the stream until the generator object is dropped.
    let taskId = '';
    let completed = '';
    await (async () => {
      const it = gated.remote(gate);
      taskId = it.completed.hex.slice(0, 48);
      completed = it.completed.hex;
      await it.next(); // (taken and dropped at once)
    })();
    const held = () =>
      sunray.memorySummary().filter((r) => r.id.startsWith(taskId) && r.id !== completed).length;
    await until(() => held() >= 4, 10_000, 'the values to arrive');
    await until(
      async () => {
        gc();
        await new Promise((r) => setTimeout(r, 10));
        return held() === 0;
      },
      10_000,
      "the dropped generator's values to be freed",
    );
    writeFileSync(gate, ''); // its last value is freed as it comes
    await new Promise((r) => setTimeout(r, 200));
    expect(held()).toBe(0);
  });
});
