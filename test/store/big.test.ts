// Scale: 100,000 small objects, and one object of 1 GiB read by another process.
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectId, ObjectStore } from '../../lib/store/index.js';
import { StoreChild } from './child.js';
import { fillPattern } from './fixtures/pattern.js';

const MIB = 1024 * 1024;
const stores: ObjectStore[] = [];
const children: StoreChild[] = [];

afterEach(async () => {
  for (const c of children.splice(0))
    if (c.proc.exitCode === null && c.proc.signalCode === null) await c.kill9();
  for (const s of stores.splice(0)) s.close();
});

describe('scale', () => {
  it('100,000 small objects: create+seal, get+release, delete', () => {
    const s = ObjectStore.create({ capacity: 256 * MIB, maxObjects: 131072, spillDir: '' });
    stores.push(s);
    const N = 100_000;
    const ids = Array.from({ length: N }, () => ObjectId.random());
    const payload = Buffer.alloc(100, 7);
    let t = performance.now();
    for (const id of ids) {
      s.create(id, 100).set(payload);
      s.seal(id);
    }
    const createRate = N / ((performance.now() - t) / 1000);
    t = performance.now();
    for (const id of ids) s.tryGet(id)!.release();
    const getRate = N / ((performance.now() - t) / 1000);
    console.log(`create+seal ${Math.round(createRate)}/s, get+release ${Math.round(getRate)}/s`);
    expect(s.stats()).toMatchObject({ objects: N, sealed: N, pinned: 0 });
    for (const id of ids) s.delete(id);
    expect(s.stats()).toMatchObject({ objects: 0, used: 0 });
  });

  it('one object of 1 GiB: create, fill, seal, read from another process', async () => {
    const s = ObjectStore.create({ capacity: 1280 * MIB, spillDir: '' });
    stores.push(s);
    const id = ObjectId.random();
    const size = 1024 * MIB;
    const t = performance.now();
    const buf = s.create(id, size);
    fillPattern(buf, 77);
    s.seal(id);
    console.log(`1 GiB create+fill+seal in ${Math.round(performance.now() - t)} ms`);
    const c = new StoreChild();
    children.push(c);
    await c.send({ op: 'attach', path: s.path });
    const r = await c.send({ op: 'check', id: id.hex(), size, seed: 77 });
    expect(r).toMatchObject({ found: true, ok: true });
    expect(r.offset).toBe(s.viewOffset(buf));
    await c.send({ op: 'close' });
    expect((await c.exited).code).toBe(0);
  }, 120_000);
});
