// Ownership and reference counting, measured in the store: objects stay while
// anyone holds a ref (the owner, a borrower process, an object whose value
// contains the ref, a pending task) and are freed after the last one goes.
import * as sunray from 'sunray';
import { storeStats } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const STORE = 256 * 1024 * 1024;
const MiB = 1024 * 1024;

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: STORE }));
afterAll(() => sunray.shutdown());

/** Collects garbage here and lets finalizers run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
}

/** Waits until pred() holds (ownership messages cross processes), failing after timeoutMs. */
async function eventually(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await collect();
    await new Promise((r) => setTimeout(r, 20));
  }
  if (process.env.DEBUG_EVENTUALLY) console.log(what, Date.now() - t0, 'ms');
}

/** Objects of at least 1 MiB in the store: the ones these tests make. */
function bigObjects(): number {
  const s = storeStats();
  return Math.round(s.used / MiB);
}

// Each process drops its refs and collects: the owner learns through ownership messages.
const Keeper = sunray.remote(
  class Keeper {
    kept: unknown[] = [];
    keep(box: { ref: sunray.ObjectRef<Buffer> }) {
      this.kept.push(box.ref);
      return this.kept.length;
    }
    async read() {
      const s = await import('sunray');
      const bufs = (await s.get(this.kept as sunray.ObjectRef<Buffer>[])) as Buffer[];
      return bufs.map((b) => b.length);
    }
    async pass(to: any, box: { ref: sunray.ObjectRef<Buffer> }) {
      const s = await import('sunray');
      const n = await s.get(to.keep.remote(box));
      box.ref.release(); // done with it here; C keeps it
      return n;
    }
    async drop() {
      this.kept = [];
      // Two collections a turn apart: V8 runs FinalizationRegistry callbacks of the first
      // only once something else happens (in an idle process, its memory reducer ~8 s later).
      for (let i = 0; i < 2; i++) {
        await new Promise((r) => setTimeout(r, 10));
        (globalThis as any).gc?.();
      }
      return 0;
    }
  },
);

describe('reference counting', () => {
  test('10,000 puts of 1 MiB whose refs are released keep the store bounded', async () => {
    const value = Buffer.alloc(MiB, 1);
    const before = storeStats().used;
    for (let i = 0; i < 10_000; i++) {
      const ref = sunray.put(value);
      ref.release();
    }
    // 10 GiB went through a 256 MiB store.
    expect(storeStats().used - before).toBeLessThan(2 * MiB);
  });

  test('10,000 puts of 1 MiB whose refs are just dropped keep the store bounded (GC as the backstop)', async () => {
    const value = Buffer.alloc(MiB, 2);
    let peak = 0;
    for (let i = 0; i < 10_000; i++) {
      sunray.put(value);
      // A program that does other async work now and then: finalizers get to run.
      if (i % 20 === 0) {
        await new Promise((r) => setImmediate(r));
        peak = Math.max(peak, storeStats().used);
      }
    }
    expect(peak).toBeLessThan(STORE);
    await collect();
    await eventually(() => bigObjects() < 4, 'the dropped puts are freed');
  });

  test('a ref nested in a task argument and kept by an actor outlives the owner’s handle', async () => {
    const k = Keeper.remote();
    let ref: sunray.ObjectRef<Buffer> | null = sunray.put(Buffer.alloc(2 * MiB, 3));
    expect(await sunray.get(k.keep.remote({ ref }))).toBe(1);
    const used = bigObjects();
    ref = null;
    await collect();
    await new Promise((r) => setTimeout(r, 200));
    await collect();
    // The actor borrows it: still there, still readable.
    expect(bigObjects()).toBe(used);
    expect(await sunray.get(k.read.remote())).toEqual([2 * MiB]);
    // The last holder drops it: freed.
    await sunray.get(k.drop.remote());
    await eventually(() => bigObjects() <= used - 2, 'the borrowed object is freed');
    sunray.kill(k);
  });

  test('a ref returned inside a task’s value stays readable while that value is held', async () => {
    const make = sunray.remote(async () => {
      const s = await import('sunray');
      const inner = s.put(Buffer.alloc(3 * 1024 * 1024, 4));
      // The worker lets go of its own handle right after returning: only the returned
      // value (and whoever reads it) keeps the object.
      setImmediate(() => inner.release());
      return { inner };
    });
    const before = bigObjects();
    let outer: sunray.ObjectRef<{ inner: sunray.ObjectRef<Buffer> }> | null = make.remote();
    await sunray.get(outer);
    await collect();
    await new Promise((r) => setTimeout(r, 200));
    await collect();
    // The task's worker dropped its handle long ago; the outer value holds the inner ref.
    let box: { inner: sunray.ObjectRef<Buffer> } | null = await sunray.get(outer);
    expect((await sunray.get(box.inner)).length).toBe(3 * MiB);
    expect(bigObjects()).toBeGreaterThanOrEqual(before + 3);
    outer = null;
    box = null;
    await eventually(() => bigObjects() <= before, 'the returned object is freed after both refs go');
  });

  test('a ref passed on A -> B -> C stays while C holds it and is freed after', async () => {
    const b = Keeper.remote();
    const c = Keeper.remote();
    const before = bigObjects();
    let ref: sunray.ObjectRef<Buffer> | null = sunray.put(Buffer.alloc(4 * MiB, 5));
    // B receives it nested and hands it on to C (B does not keep it).
    expect(await sunray.get(b.pass.remote(c, { ref }))).toBe(1);
    ref = null;
    await collect();
    await new Promise((r) => setTimeout(r, 300));
    await collect();
    expect(bigObjects()).toBeGreaterThanOrEqual(before + 4);
    expect(await sunray.get(c.read.remote())).toEqual([4 * MiB]);
    await sunray.get(c.drop.remote());
    await eventually(() => bigObjects() <= before, 'the object is freed after C drops it');
    sunray.kill(b);
    sunray.kill(c);
  });

  test('a ref inside a put value lives as long as that value', async () => {
    const before = bigObjects();
    let inner: sunray.ObjectRef<Buffer> | null = sunray.put(Buffer.alloc(2 * MiB, 6));
    let outer: sunray.ObjectRef<{ inner: sunray.ObjectRef<Buffer> }> | null = sunray.put({ inner });
    inner = null;
    await collect();
    let box: { inner: sunray.ObjectRef<Buffer> } | null = await sunray.get(outer);
    expect((await sunray.get(box.inner)).length).toBe(2 * MiB);
    outer = null;
    box = null;
    await eventually(() => bigObjects() <= before, 'the inner object is freed with the outer one');
  });
});

describe('owner death', () => {
  test('a borrowed ref whose owner exited fails fast with OwnerDiedError', async () => {
    const Maker = sunray.remote(
      class Maker {
        async make() {
          const s = await import('sunray');
          const ref = s.put(Buffer.alloc(1024 * 1024, 7));
          (globalThis as any).keep = ref;
          return { ref };
        }
      },
    );
    const m = Maker.remote();
    const box = await sunray.get(m.make.remote());
    expect((await sunray.get(box.ref)).length).toBe(MiB);
    sunray.kill(m);
    const t0 = Date.now();
    await expect(
      (async () => {
        for (;;) {
          await sunray.get(box.ref);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    ).rejects.toBeInstanceOf(sunray.OwnerDiedError);
    expect(Date.now() - t0).toBeLessThan(5000);
    // wait() counts it as settled rather than waiting for it.
    const [ready] = await sunray.wait([box.ref], { timeout: 5000 });
    expect(ready).toHaveLength(1);
  });
});
