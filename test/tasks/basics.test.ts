import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 256 * 1024 * 1024 });
});
afterAll(() => sunray.shutdown());

describe('remote functions', () => {
  test("the README's example", async () => {
    expect(sunray.isInitialized()).toBe(true);
    const add = sunray.remote((a: number, b: number) => a + b);
    expect(await sunray.get(add.remote(5, 10))).toBe(15);
    const multiply = sunray.remote((a: number, b: number) => a * b);
    expect(await sunray.get([0, 1, 2, 3, 4].map((i) => multiply.remote(i, i + 1)))).toEqual([
      0, 2, 6, 12, 20,
    ]);
  });

  test('async functions, and many tasks at once', async () => {
    const slowDouble = sunray.remote(async (x: number) => {
      await new Promise((r) => setTimeout(r, 1));
      return x * 2;
    });
    const refs = Array.from({ length: 500 }, (_, i) => slowDouble.remote(i));
    const out = await sunray.get(refs);
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i * 2));
  });

  test('a ref argument stays readable until its tasks ran, even after the caller dropped it', async () => {
    // The caller's handle is collected while 200 calls that take it still wait in an actor's queue.
    const Slow = sunray.remote(
      class Slow {
        async echo(x: number) {
          await new Promise((r) => setTimeout(r, 2));
          return x;
        }
      },
    );
    const a = Slow.options({ maxConcurrency: 1 }).remote(); // the calls wait in its queue
    let x: sunray.ObjectRef<number> | null = sunray.put(42);
    const refs = Array.from({ length: 200 }, () => a.echo.remote(x!));
    x = null;
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.();
      await new Promise((r) => setTimeout(r, 10));
    }
    const out = await sunray.get(refs);
    expect(out.every((v) => v === 42)).toBe(true);
    sunray.kill(a);
  });

  test('top-level refs are resolved to values; nested refs arrive as refs', async () => {
    const ref = sunray.put({ n: 41 });
    const inc = sunray.remote((o: { n: number }) => o.n + 1);
    expect(await sunray.get(inc.remote(ref))).toBe(42);
    const chained = inc.remote(sunray.put({ n: 1 }));
    const wrap = sunray.remote((n: number) => ({ n }));
    expect(await sunray.get(inc.remote(wrap.remote(await sunray.get(chained))))).toBe(3);

    const describeArg = sunray.remote(async (o: { inner: unknown }) => {
      const s = await import('sunray');
      const isRef = o.inner instanceof s.ObjectRef;
      const value = isRef ? await s.get(o.inner as never) : undefined;
      return { isRef, value };
    });
    expect(await sunray.get(describeArg.remote({ inner: sunray.put('deep') }))).toEqual({
      isRef: true,
      value: 'deep',
    });
    // Even a ref to a result that is not ready yet.
    const later = sunray.remote(async () => {
      await new Promise((r) => setTimeout(r, 100));
      return 'later';
    });
    expect(await sunray.get(describeArg.remote({ inner: later.remote() }))).toEqual({
      isRef: true,
      value: 'later',
    });
  });

  test('tasks submit tasks and get their results without deadlock, even with one CPU in use', async () => {
    const fib = sunray.remote(async (n: number): Promise<number> => {
      if (n < 2) return n;
      const s = await import('sunray');
      const self = s.remote(
        // Nested definition: shipped by source from inside the worker.
        async (k: number): Promise<number> => {
          let a = 0;
          let b = 1;
          for (let i = 0; i < k; i++) [a, b] = [b, a + b];
          return a;
        },
      );
      const [x, y] = await s.get([self.remote(n - 1), self.remote(n - 2)]);
      return x + y;
    });
    expect(await sunray.get(fib.remote(10))).toBe(55);
    // Deeper: each level blocks in get() waiting for the next one.
    const depth = sunray.remote(async (n: number): Promise<number> => {
      const s = await import('sunray');
      if (n === 0) return 0;
      const again = s.remote(async (k: number): Promise<number> => {
        const s2 = await import('sunray');
        if (k === 0) return 0;
        return 1 + (await s2.get(s2.remote((z: number) => z).remote(k - 1)));
      });
      return 1 + (await s.get(again.remote(n - 1)));
    });
    expect(await sunray.get(depth.remote(5))).toBe(5);
  });

  test('a task that submits more tasks at once than the shared ring holds gets every result', async () => {
    // 40,000 Submit frames in one turn overflow the completion ring (32,768 slots): the rest
    // waits in the worker's batch and is pushed as the node manager drains the ring.
    const burst = sunray.remote(async (n: number) => {
      const s = await import('sunray');
      const one = s.remote((i: number) => i);
      const refs = [];
      for (let i = 0; i < n; i++) refs.push(one.remote(i));
      const got = await s.get(refs);
      return got.every((v, i) => v === i) ? got.length : -1;
    });
    expect(await sunray.get(burst.remote(40_000))).toBe(40_000);
  }, 60_000);

  test('multiple returns', async () => {
    const split = sunray
      .remote((s: string) => s.split(',') as [string, string, string])
      .options({ numReturns: 3 });
    const [a, b, c] = split.remote('x,y,z');
    expect(await sunray.get([a, b, c])).toEqual(['x', 'y', 'z']);
  });

  test('Buffers and typed arrays of any size arrive intact; large ones through the store', async () => {
    const echo = sunray.remote((x: unknown) => x);
    const small = new Float64Array([1.5, 2.5]);
    expect(await sunray.get(echo.remote(small))).toEqual(small);
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    const back = (await sunray.get(echo.remote(big))) as Buffer;
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back.length).toBe(big.length);
    expect(back.equals(big)).toBe(true);
    const mixed = { ints: new Int32Array(100_000).fill(-7), text: 'ok', nested: [new Uint8Array(10)] };
    const got = (await sunray.get(echo.remote(mixed))) as typeof mixed;
    expect(got.ints).toBeInstanceOf(Int32Array);
    expect(got.ints.length).toBe(100_000);
    expect(got.ints[99_999]).toBe(-7);
    expect(got.text).toBe('ok');
  });

  test('put and get', async () => {
    const ref = sunray.put({ a: [1, 2, 3], m: new Map([['k', 1]]) });
    expect(await sunray.get(ref)).toEqual({ a: [1, 2, 3], m: new Map([['k', 1]]) });
    const big = sunray.put(new Uint8Array(4 * 1024 * 1024).fill(9));
    const v = (await sunray.get(big)) as Uint8Array;
    expect(v.length).toBe(4 * 1024 * 1024);
    expect(v[v.length - 1]).toBe(9);
  });

  test('wait returns [ready, notReady] in the order given', async () => {
    const sleep = sunray.remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    });
    const fast = sleep.remote(10);
    const slow = sleep.remote(3000);
    const [ready, notReady] = await sunray.wait([slow, fast], { numReturns: 1, timeout: 2000 });
    expect(ready).toEqual([fast]);
    expect(notReady).toEqual([slow]);
    const [r2, n2] = await sunray.wait([slow, fast], { numReturns: 2, timeout: 50 });
    expect(r2.length).toBe(1);
    expect(n2.length).toBe(1);
    await expect(sunray.wait([fast], { numReturns: 2 })).rejects.toThrow(sunray.InvalidArgumentError);
  });

  test('get with a timeout rejects with GetTimeoutError', async () => {
    const sleep = sunray.remote(async (ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)));
    const ref = sleep.remote(2000);
    await expect(sunray.get(ref, { timeout: 50 })).rejects.toBeInstanceOf(sunray.GetTimeoutError);
    await expect(sunray.get(ref, { timeout: -1 })).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
  });

  test('the runtime context says where code runs', async () => {
    const ctx = sunray
      .remote(async () => {
        const s = await import('sunray');
        return s.getRuntimeContext();
      })
      .options({ name: 'ctx' });
    const c = await sunray.get(ctx.remote());
    const here = sunray.getRuntimeContext();
    expect(c.isWorker).toBe(true);
    expect(c.nodeId).toBe(here.nodeId);
    expect(c.taskId).toMatch(/^[0-9a-f]{48}$/);
    expect(c.taskName).toBe('ctx');
    expect(c.pid).not.toBe(process.pid);
    expect(here.isWorker).toBe(false);
  });

  test('resources: totals and what is free', async () => {
    expect(sunray.clusterResources()).toMatchObject({ CPU: 2 });
    expect(sunray.availableResources().CPU).toBeLessThanOrEqual(2);
  });
});
