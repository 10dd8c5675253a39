// Pins held by zero-copy views under memory pressure, through sunray's API: a
// 64 MiB store reading 30 MiB spilled objects one after another, released by
// ref.release() or `using`, or kept (then the error names the pinned bytes);
// and the spilling limit (objectSpillingLimit) with memory and spill both full.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, expect, test } from 'vitest';

const MIB = 1024 * 1024;
const SIZE = 30 * MIB;
const LIMIT = 128 * MIB;
const dir = mkdtempSync(join(tmpdir(), 'sunray-pins-'));

beforeAll(() =>
  sunray.init({
    numCpus: 1,
    objectStoreMemory: 64 * MIB,
    objectSpillingDir: dir,
    objectSpillingLimit: LIMIT,
  }),
);
afterAll(async () => {
  await sunray.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** Bytes in the spill files now. */
function spilledBytes(): number {
  let total = 0;
  for (const sub of readdirSync(dir))
    for (const f of readdirSync(join(dir, sub))) total += statSync(join(dir, sub, f)).size;
  return total;
}

function puts(n: number, first = 0): sunray.ObjectRef<Buffer>[] {
  return Array.from({ length: n }, (_, i) => sunray.put(Buffer.alloc(SIZE, first + i)));
}

test('reading spilled objects one after another works when each ref is released', async () => {
  const refs = puts(6);
  for (const [i, ref] of refs.entries()) {
    const v = await sunray.get(ref);
    expect(v.length).toBe(SIZE);
    expect(v[0]).toBe(i);
    expect(v[SIZE - 1]).toBe(i);
    ref.release(); // drops the view's pin too: v must not be used from here
  }
});

test('and when each ref is `using`d', async () => {
  const refs = puts(5, 10);
  for (const [i, r] of refs.entries()) {
    using ref = r;
    const v = await sunray.get(ref);
    expect(v[0]).toBe(10 + i);
  }
});

test('without release, the get fails after the wait naming the pinned bytes', async () => {
  const refs = puts(4, 20);
  const views: Buffer[] = [];
  const started = Date.now();
  const err = await (async () => {
    for (const ref of refs) views.push(await sunray.get(ref));
  })().catch((e: unknown) => e);
  expect(Date.now() - started).toBeGreaterThanOrEqual(4000); // it waited for the pins to go
  expect(views).toHaveLength(2);
  expect(err).toBeInstanceOf(sunray.SunrayError);
  const e = err as Error & { code: string };
  expect(e.code).toBe('OBJECT_STORE_FULL');
  // (Each object is the 30 MiB buffer and a few bytes of serialization header.)
  expect(e.message).toMatch(/\d+ bytes \(60\.0 MiB\) pinned in 2 object\(s\) by views not yet released/);
  expect(e.message).toContain('ref.release()');
  expect(e.message).toMatch(/this process holds 2 view\(s\) over \d+ bytes/);
  // Releasing the refs lets the same get through.
  for (const ref of refs.slice(0, 2)) ref.release();
  expect((await sunray.get(refs[2]!))[0]).toBe(22);
  for (const ref of refs) ref.release();
});

test('spilling stops at objectSpillingLimit; deleting objects makes room; restores still work', async () => {
  // Two objects in memory and four spilled (120 MiB of the 128 MiB limit): a seventh fits neither.
  const refs = puts(6, 30);
  expect(spilledBytes()).toBeGreaterThan(4 * SIZE);
  expect(spilledBytes()).toBeLessThan(4 * SIZE + 4096);
  let err: unknown;
  try {
    sunray.put(Buffer.alloc(SIZE, 99));
  } catch (e) {
    err = e;
  }
  const e = err as Error & { code: string };
  expect(e.code).toBe('OBJECT_STORE_FULL');
  expect(e.message).toContain('and so is its spill space');
  expect(e.message).toMatch(/spill: \d+ bytes \(120\.0 MiB\) in 4 file\(s\), limit 134217728 bytes/);
  expect(e.message).toContain('raise objectSpillingLimit');
  expect(spilledBytes()).toBeLessThanOrEqual(LIMIT);
  // A spilled object still reads back: it takes the place of one in memory.
  refs[0]!.release(); // spilled first: deleting it removes its file
  const more = sunray.put(Buffer.alloc(SIZE, 36));
  for (const [i, ref] of [...refs.slice(1), more].entries()) {
    const v = await sunray.get(ref);
    expect(v[0]).toBe(31 + i);
    ref.release();
    expect(spilledBytes()).toBeLessThanOrEqual(LIMIT);
  }
});

test("a task's large result waits for pinned room, then is written", async () => {
  const held = puts(2, 40);
  const views = await sunray.get(held); // both pinned: 60 of the 64 MiB, nothing to spill
  expect(views.map((v) => v[0])).toEqual([40, 41]);
  const big = sunray.remote((n: number) => Buffer.alloc(n, 7));
  const ref = big.remote(SIZE);
  // The worker finds no room; it waits (as get() does) until the driver lets go.
  setTimeout(() => {
    for (const r of held) r.release();
  }, 500);
  const started = Date.now();
  const out = await sunray.get(ref);
  expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  expect(out.length).toBe(SIZE);
  expect(out[SIZE - 1]).toBe(7);
  ref.release();
});

test('release({ keepViews: true }) drops the handle but keeps its views valid until collected', async () => {
  const [ref] = puts(1, 50);
  const v = await sunray.get(ref!);
  ref!.release({ keepViews: true });
  // The object is deleted, but its memory stays pinned by v: new objects land elsewhere.
  const more = puts(1, 51);
  expect(v[0]).toBe(50);
  expect(v[SIZE - 1]).toBe(50);
  for (const r of more) r.release();
});
