// Queue across processes: the driver, tasks and actors share one queue held by an actor; put
// blocks while full and get while empty (each up to its timeout), the nowait forms fail at
// once, a Queue passed to a task or an actor arrives as a Queue, and shutdown ends it.
import * as sunray from 'sunray';
import { Queue } from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 64 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

const produce = sunray.remote(async (q: Queue<number>, from: number, n: number) => {
  const s = await import('sunray');
  if (!(q instanceof s.Queue)) throw new Error(`not a Queue: ${Object.prototype.toString.call(q)}`);
  for (let i = from; i < from + n; i++) await q.put(i);
  return process.pid;
});

const consume = sunray.remote(async (q: Queue<number>, n: number) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await q.get({ timeout: 20_000 }));
  return out;
});

const Consumer = sunray.remote(
  class Consumer {
    q: Queue<string> | undefined;
    hold(q: Queue<string>) {
      this.q = q;
      return q.maxsize;
    }
    async take() {
      return this.q!.get({ timeout: 20_000 });
    }
  },
);

describe('Queue', () => {
  test('a task puts, the driver gets, in order', async () => {
    const q = new Queue<number>();
    const pid = produce.remote(q, 0, 50);
    const got: number[] = [];
    for (let i = 0; i < 50; i++) got.push(await q.get({ timeout: 20_000 }));
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await sunray.get(pid)).not.toBe(process.pid);
    expect(await q.empty()).toBe(true);
    q.shutdown();
  });

  test('the driver puts, a task gets; an actor keeps a queue and takes from it', async () => {
    const q = new Queue<number>({ maxsize: 5 });
    const out = consume.remote(q, 20);
    for (let i = 0; i < 20; i++) await q.put(i * 10);
    expect(await sunray.get(out)).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));

    const sq = new Queue<string>({ maxsize: 3 });
    const c = Consumer.remote();
    expect(await sunray.get(c.hold.remote(sq))).toBe(3);
    const taken = c.take.remote();
    await sq.put('hello');
    expect(await sunray.get(taken)).toBe('hello');
    q.shutdown();
    sq.shutdown();
    sunray.kill(c);
  });

  test('put blocks while full until a get elsewhere makes room; the timeout gives QueueFullError', async () => {
    const q = new Queue<number>({ maxsize: 2 });
    await q.put(1);
    await q.putNowait(2);
    expect(await q.full()).toBe(true);
    expect(await q.size()).toBe(2);
    await expect(q.putNowait(3)).rejects.toBeInstanceOf(sunray.QueueFullError);
    const t0 = Date.now();
    const err = await q.put(3, { timeout: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sunray.QueueFullError);
    expect((err as sunray.QueueFullError).code).toBe('SUNRAY_QUEUE_FULL');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    // A blocked put with no timeout goes in once a task takes an item.
    let done = false;
    const blocked = q.put(3).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    expect(await sunray.get(consume.remote(q, 1))).toEqual([1]);
    await blocked;
    expect(await q.getNowait()).toBe(2);
    expect(await q.getNowait()).toBe(3);
    q.shutdown();
  });

  test('get blocks while empty until a task puts; the timeout gives QueueEmptyError', async () => {
    const q = new Queue<number>();
    await expect(q.getNowait()).rejects.toBeInstanceOf(sunray.QueueEmptyError);
    const t0 = Date.now();
    await expect(q.get({ timeout: 150 })).rejects.toBeInstanceOf(sunray.QueueEmptyError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    // Two blocked gets are served in the order they came.
    const first = q.get();
    const second = q.get({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 50));
    await sunray.get(produce.remote(q, 7, 2));
    expect(await first).toBe(7);
    expect(await second).toBe(8);
    expect(await q.size()).toBe(0);
    // A get that timed out left no waiter behind: the next item is the next get's.
    await q.put(9);
    expect(await q.get({ timeout: 0 })).toBe(9);
    q.shutdown();
  });

  test('many producers and consumers lose and duplicate nothing', async () => {
    const q = new Queue<number>({ maxsize: 4 });
    const producers = [0, 100, 200].map((from) => produce.remote(q, from, 30));
    const consumers = [consume.remote(q, 45), consume.remote(q, 45)];
    const got = (await sunray.get(consumers)).flat();
    await sunray.get(producers);
    const want = [0, 100, 200].flatMap((from) => Array.from({ length: 30 }, (_, i) => from + i));
    expect(got.sort((a, b) => a - b)).toEqual(want);
    q.shutdown();
  });

  test('bad options are refused; after shutdown every call fails', async () => {
    expect(() => new Queue({ maxsize: -1 })).toThrow(sunray.InvalidArgumentError);
    expect(() => new Queue({ maxsize: 1.5 })).toThrow(sunray.InvalidArgumentError);
    const q = new Queue<number>();
    await expect(q.get({ timeout: -1 })).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
    await q.put(1);
    q.shutdown();
    await expect(q.size()).rejects.toThrow(/shut down/);
    // Another process's copy finds the actor gone.
    const err = await sunray.get(consume.remote(q, 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sunray.TaskError);
    expect(String((err as Error).message)).toMatch(/ActorDiedError|died|killed/i);
  });
});
