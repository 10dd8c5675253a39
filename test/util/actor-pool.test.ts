// ActorPool on real actor processes: order kept by map and getNext, finish order by the
// unordered forms, work queued while every actor is busy, timeouts that keep the work, the
// membership calls (hasFree, popIdle, pushActor) and errors from the actors.
import * as sunray from 'sunray';
import { ActorPool } from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 64 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

const Worker = sunray.remote(
  class Worker {
    async work(x: { v: number; ms: number }) {
      await new Promise((r) => setTimeout(r, x.ms));
      if (x.v < 0) throw new RangeError(`negative: ${x.v}`);
      return { v: x.v * 2, pid: process.pid };
    }
  },
);
type W = ReturnType<typeof Worker.remote>;
const work = (a: W, x: { v: number; ms: number }) => a.work.remote(x);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('ActorPool', () => {
  let actors: W[] = [];
  beforeAll(() => {
    actors = [Worker.remote(), Worker.remote()];
  });

  test('map yields results in the order of the values, spread over every actor', async () => {
    const pool = new ActorPool(actors);
    // The first value is the slowest: map still yields it first.
    const values = [40, 5, 5, 5, 5, 5].map((ms, v) => ({ v, ms }));
    const got = await collect(pool.map(work, values));
    expect(got.map((r) => r.v)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(new Set(got.map((r) => r.pid)).size).toBe(2);
    expect(got.every((r) => r.pid !== process.pid)).toBe(true);
    expect(pool.hasNext()).toBe(false);
    expect(pool.hasFree()).toBe(true);
  });

  test('mapUnordered yields each result as it finishes', async () => {
    const pool = new ActorPool(actors);
    const got = await collect(
      pool.mapUnordered(work, [
        { v: 1, ms: 1000 },
        { v: 2, ms: 5 },
        { v: 3, ms: 5 },
      ]),
    );
    expect(got.map((r) => r.v).sort()).toEqual([2, 4, 6]);
    // The slow one ran alone on one actor while the other actor did the two quick ones.
    expect(got.at(-1)?.v).toBe(2);
  });

  test('submit queues work while every actor is busy; getNext takes results in order', async () => {
    const pool = new ActorPool(actors);
    for (let v = 0; v < 5; v++) pool.submit(work, { v, ms: 20 });
    expect(pool.hasNext()).toBe(true);
    expect(pool.hasFree()).toBe(false);
    expect(pool.popIdle()).toBeUndefined();
    const got: number[] = [];
    while (pool.hasNext()) got.push((await pool.getNext<{ v: number }>()).v);
    expect(got).toEqual([0, 2, 4, 6, 8]);
    await expect(pool.getNext()).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
    await expect(pool.getNextUnordered()).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
  });

  test('getNext with a timeout rejects with GetTimeoutError and keeps the work', async () => {
    const pool = new ActorPool(actors);
    pool.submit(work, { v: 7, ms: 1500 });
    const t0 = Date.now();
    await expect(pool.getNext({ timeout: 50 })).rejects.toBeInstanceOf(sunray.GetTimeoutError);
    expect(Date.now() - t0).toBeLessThan(1200);
    await expect(pool.getNextUnordered({ timeout: 10 })).rejects.toBeInstanceOf(sunray.GetTimeoutError);
    expect(pool.hasNext()).toBe(true);
    expect(await pool.getNext<{ v: number }>({ timeout: 10_000 })).toMatchObject({ v: 14 });
  });

  test('getNext after getNextUnordered is refused (the order is lost)', async () => {
    const pool = new ActorPool(actors);
    pool.submit(work, { v: 1, ms: 200 });
    pool.submit(work, { v: 2, ms: 1 });
    expect(await pool.getNextUnordered<{ v: number }>()).toMatchObject({ v: 4 });
    await expect(pool.getNext()).rejects.toThrow(/getNextUnordered/);
    expect(await pool.getNextUnordered<{ v: number }>()).toMatchObject({ v: 2 });
  });

  test('an actor error rejects getNext with TaskError; the pool goes on', async () => {
    const pool = new ActorPool(actors);
    pool.submit(work, { v: -1, ms: 1 });
    pool.submit(work, { v: 3, ms: 1 });
    const err = await pool.getNext().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sunray.TaskError);
    expect((err as Error).message).toMatch(/negative: -1/);
    expect(await pool.getNext<{ v: number }>()).toMatchObject({ v: 6 });
    expect(pool.hasFree()).toBe(true);
  });

  test('popIdle takes an actor out; pushActor adds one, which takes waiting work', async () => {
    const pool = new ActorPool([actors[0]!]);
    expect(() => pool.pushActor(actors[0]!)).toThrow(sunray.InvalidArgumentError);
    const a = pool.popIdle();
    expect(a?.actorId).toBe(actors[0]!.actorId);
    expect(pool.hasFree()).toBe(false);
    pool.submit(work, { v: 5, ms: 1 });
    // No actor: the work waits until one comes.
    await expect(pool.getNext({ timeout: 0 })).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
    pool.pushActor(actors[1]!);
    expect(pool.hasNext()).toBe(true);
    const r = await pool.getNext<{ v: number; pid: number }>();
    expect(r.v).toBe(10);
    expect(r.pid).toBe(await sunray.get(actors[1]!.work.remote({ v: 0, ms: 0 })).then((x) => x.pid));
    expect(() => new ActorPool([actors[0]!, actors[0]!])).toThrow(/already belongs/);
  });

  test('map drops the results of earlier submits that were not taken', async () => {
    const pool = new ActorPool(actors);
    pool.submit(work, { v: 100, ms: 1 });
    pool.submit(work, { v: 101, ms: 1 });
    pool.submit(work, { v: 102, ms: 1 });
    const got = await collect(pool.map(work, [{ v: 1, ms: 1 }]));
    expect(got.map((r) => r.v)).toEqual([2]);
    expect(pool.hasNext()).toBe(false);
  });

  test('fn must return the ref of an actor call', () => {
    const pool = new ActorPool(actors);
    expect(() => pool.submit(() => 3 as never, 1)).toThrow(/must return the ObjectRef/);
    expect(pool.hasFree()).toBe(true);
    expect(() => new ActorPool([{} as W])).toThrow(sunray.InvalidArgumentError);
  });
});
