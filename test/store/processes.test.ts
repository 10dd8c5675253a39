// The store across real processes: a child `node` attaches to the arena this
// process created (through /proc/<pid>/fd/<fd>), reads and writes objects,
// waits for seals, and is killed -9 at bad moments.
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectId, ObjectStore, ObjectStoreFullError } from '../../lib/store/index.js';
import { StoreChild } from './child.js';
import { fillPattern, verifyPattern } from './fixtures/pattern.js';

const MIB = 1024 * 1024;
const stores: ObjectStore[] = [];
const children: StoreChild[] = [];

function shmFiles(): string[] {
  return readdirSync('/dev/shm').filter((f) => f.startsWith('sunray'));
}
const shmBefore = shmFiles();

function makeStore(capacity: number): ObjectStore {
  const s = ObjectStore.create({ capacity, spillDir: '' });
  stores.push(s);
  return s;
}

async function child(store: ObjectStore): Promise<StoreChild> {
  const c = new StoreChild();
  children.push(c);
  await c.send({ op: 'attach', path: store.path });
  return c;
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) await c.kill9();
  }
  for (const s of stores.splice(0)) s.close();
  expect(shmFiles()).toEqual(shmBefore); // memfd: nothing ever lands in /dev/shm
});

describe('across processes', () => {
  it('one process creates and seals, another reads the same bytes in its own mapping', async () => {
    const s = makeStore(16 * MIB);
    const c = await child(s);
    const id = ObjectId.random();
    const w = s.create(id, 100_000);
    fillPattern(w, 11);
    s.seal(id);
    const r = await c.send({ op: 'check', id: id.hex(), size: 100_000, seed: 11 });
    expect(r).toMatchObject({ found: true, ok: true });
    // The child's view lies inside its mapping, at the offset where this process wrote.
    expect(r.offset).toBe(s.viewOffset(w));
    // And the other way: the child writes, this process reads.
    const id2 = ObjectId.random();
    await c.send({ op: 'put', id: id2.hex(), size: 5000, seed: 12 });
    const obj = s.tryGet(id2)!;
    expect(verifyPattern(obj.data, 12)).toBe(true);
    obj.release();
    await c.send({ op: 'close' });
    expect(await c.exited).toEqual({ code: 0, signal: null }); // exits by itself: no open handles
  });

  it('a wait in one process is resolved by a seal in another while its timers keep firing', async () => {
    const s = makeStore(16 * MIB);
    const c = await child(s);
    const id = ObjectId.random();
    const pending = c.send({ op: 'get', ids: [id.hex()], seeds: [21] });
    await c.event('waiting');
    await c.event('tick', 3); // the waiter's event loop is alive while it waits
    fillPattern(s.create(id, 20_000), 21);
    s.seal(id);
    const r = await pending;
    expect(r.results).toEqual([true]);
    expect(r.ticks).toBeGreaterThanOrEqual(3);
    await c.send({ op: 'close' });
    expect((await c.exited).code).toBe(0);
  });

  it('returns partial results at the timeout in the other process', async () => {
    const s = makeStore(16 * MIB);
    const c = await child(s);
    const here = ObjectId.random();
    fillPattern(s.create(here, 1000), 31);
    s.seal(here);
    const r = await c.send({
      op: 'get',
      ids: [here.hex(), ObjectId.random().hex()],
      seeds: [31, 0],
      timeout: 100,
    });
    expect(r.results).toEqual([true, null]);
    await c.send({ op: 'close' });
    expect((await c.exited).code).toBe(0);
  });

  it('a client killed -9 mid-create: reaping aborts its object and the space is reusable', async () => {
    const s = makeStore(16 * MIB);
    const c = await child(s);
    const id = ObjectId.random();
    await c.send({ op: 'put', id: id.hex(), size: 12 * MIB, seed: 1, seal: false });
    expect(s.stats().unsealed).toBe(1);
    expect(() => s.create(ObjectId.random(), 8 * MIB)).toThrow(ObjectStoreFullError);
    await c.kill9();
    expect(s.reapDeadClients()).toBe(1);
    expect(s.stats()).toMatchObject({ unsealed: 0, objects: 0, used: 0 });
    const big = ObjectId.random();
    fillPattern(s.create(big, 14 * MIB), 2);
    s.seal(big);
    expect(s.contains(big)).toBe(true);
  });

  it('a client killed -9 while pinning: its pins are dropped and the objects become evictable', async () => {
    const s = makeStore(16 * MIB);
    const c = await child(s);
    const ids = Array.from({ length: 6 }, () => ObjectId.random());
    for (const [i, id] of ids.entries()) {
      fillPattern(s.create(id, 2 * MIB, { primary: false }), i);
      s.seal(id);
      await c.send({ op: 'hold', id: id.hex() });
    }
    expect(s.stats().pinned).toBe(6);
    await c.kill9();
    expect(() => s.create(ObjectId.random(), 10 * MIB)).toThrow(ObjectStoreFullError);
    expect(s.reapDeadClients()).toBe(1);
    expect(s.stats().pinned).toBe(0);
    const big = ObjectId.random();
    s.create(big, 10 * MIB);
    s.seal(big);
    // How many had to go depends on which went first (their order among the unpinned is the
    // pin table's, i.e. random ids): at least 3 of the 2 MiB objects to make 10 MiB in 16.
    expect(s.stats().evicted).toBeGreaterThanOrEqual(3);
    expect(s.contains(big)).toBe(true);
  });
});
