// The store's API in one process: lifecycle, errors, waits, eviction order,
// pinning, spilling. Cross-process behaviour is in processes.test.ts.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SunrayError } from '../../lib/base/errors.js';
import {
  InvalidObjectIdError,
  InvalidSizeError,
  InvalidStoreOptionError,
  NotCreatorError,
  NotPinnedError,
  ObjectAlreadySealedError,
  ObjectExistsError,
  ObjectId,
  ObjectNotFoundError,
  ObjectNotSealedError,
  ObjectStore,
  ObjectStoreFullError,
  OwnUnsealedGetError,
  StoreClosedError,
  StoreError,
} from '../../lib/store/index.js';
import { fillPattern, verifyPattern } from './fixtures/pattern.js';

const MIB = 1024 * 1024;
const open: ObjectStore[] = [];
const dirs: string[] = [];

function makeStore(capacity = 8 * MIB, opts: { spill?: boolean; maxObjects?: number } = {}): ObjectStore {
  let spillDir = '';
  if (opts.spill) {
    spillDir = mkdtempSync(join(tmpdir(), 'sunray-store-test-'));
    dirs.push(spillDir);
  }
  const s = ObjectStore.create({
    capacity,
    spillDir,
    ...(opts.maxObjects ? { maxObjects: opts.maxObjects } : {}),
  });
  open.push(s);
  return s;
}

function put(s: ObjectStore, id: ObjectId, size: number, seed: number, primary = true): void {
  fillPattern(s.create(id, size, { primary }), seed);
  s.seal(id);
}

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('ObjectId', () => {
  it('round-trips hex and bytes and compares by value', () => {
    const a = ObjectId.random();
    expect(a.bytes.length).toBe(28);
    expect(ObjectId.fromHex(a.hex()).equals(a)).toBe(true);
    expect(ObjectId.fromBytes(a.bytes).equals(a)).toBe(true);
    expect(ObjectId.random().equals(a)).toBe(false);
    expect(() => ObjectId.fromHex('abc')).toThrow(InvalidObjectIdError);
    expect(() => ObjectId.fromBytes(new Uint8Array(27))).toThrow(InvalidObjectIdError);
  });
});

describe('ObjectStore lifecycle', () => {
  it('create, seal, get, release, delete', async () => {
    const s = makeStore();
    const id = ObjectId.random();
    const w = s.create(id, 1000, { metadata: Buffer.from('meta') });
    fillPattern(w, 5);
    expect(s.contains(id)).toBe(false);
    s.seal(id);
    expect(s.contains(id)).toBe(true);
    const [obj] = await s.get([id]);
    expect(obj).not.toBeNull();
    expect(verifyPattern(obj!.data, 5)).toBe(true);
    expect(obj!.metadata.toString()).toBe('meta');
    // Zero copy: the view is the same memory the writer wrote.
    expect(s.viewOffset(obj!.data)).toBe(s.viewOffset(w));
    expect(s.stats().pinned).toBe(1);
    obj!.release();
    obj!.release(); // idempotent
    expect(s.stats().pinned).toBe(0);
    s.delete(id);
    expect(s.contains(id)).toBe(false);
    expect(s.tryGet(id)).toBeNull();
    expect(s.stats()).toMatchObject({ objects: 0, used: 0 });
  });

  it('maps every refused call to a named error and changes nothing', () => {
    const s = makeStore();
    const sealed = ObjectId.random();
    const unsealed = ObjectId.random();
    put(s, sealed, 10, 1);
    s.create(unsealed, 10);
    // committed aside: the warmer backs pages in the background, whatever the calls do.
    const counters = () => ({ ...s.stats(), committed: 0 });
    const before = counters();
    const missing = ObjectId.random();
    expect(() => s.create(sealed, 10)).toThrow(ObjectExistsError);
    expect(() => s.create(missing, -1)).toThrow(InvalidSizeError);
    expect(() => s.create(missing, 1e15)).toThrow(InvalidSizeError);
    expect(() => s.seal(missing)).toThrow(ObjectNotFoundError);
    expect(() => s.seal(sealed)).toThrow(ObjectAlreadySealedError);
    expect(() => s.abort(sealed)).toThrow(ObjectAlreadySealedError);
    expect(() => s.release(sealed)).toThrow(NotPinnedError);
    expect(() => s.delete(missing)).toThrow(ObjectNotFoundError);
    expect(() => s.delete(unsealed)).toThrow(ObjectNotSealedError);
    expect(() => s.tryGet(unsealed)).toThrow(OwnUnsealedGetError);
    expect(counters()).toEqual(before);
    try {
      s.create(sealed, 10);
    } catch (e) {
      expect(e).toBeInstanceOf(StoreError);
      expect(e).toBeInstanceOf(SunrayError);
      expect((e as StoreError).code).toBe('OBJECT_EXISTS');
      expect((e as Error).name).toBe('ObjectExistsError');
    }
    s.abort(unsealed);
    expect(s.stats().unsealed).toBe(0);
  });

  it('only the creator seals: another attached client gets NotCreatorError', () => {
    const s = makeStore();
    const other = ObjectStore.attach(s.path);
    open.push(other);
    const id = ObjectId.random();
    s.create(id, 10);
    expect(() => other.seal(id)).toThrow(NotCreatorError);
    expect(other.tryGet(id)).toBeNull(); // someone else's unsealed object: not ready yet
    s.seal(id);
    const obj = other.tryGet(id)!;
    // Another mapping of the same arena: same offset, different address space view.
    expect(other.viewOffset(obj.data)).toBeGreaterThan(0);
    obj.release();
  });

  it('refuses a too small objectStoreMemory, naming the option', () => {
    expect(() => ObjectStore.create({ capacity: 1000 })).toThrow(InvalidStoreOptionError);
    expect(() => ObjectStore.create({ capacity: 1000 })).toThrow(/objectStoreMemory/);
  });

  it('after close, calls fail with StoreClosedError and views stay readable', () => {
    const s = makeStore();
    const id = ObjectId.random();
    put(s, id, 100, 9);
    const obj = s.tryGet(id)!;
    s.close();
    expect(() => s.contains(id)).toThrow(StoreClosedError);
    expect(verifyPattern(obj.data, 9)).toBe(true); // still mapped: the view keeps the mapping alive
    obj.release(); // no-op after close
  });
});

describe('waiting', () => {
  it('own unsealed get fails fast instead of hanging', async () => {
    const s = makeStore();
    const id = ObjectId.random();
    s.create(id, 10);
    await expect(s.get([id])).rejects.toBeInstanceOf(OwnUnsealedGetError);
  });

  it('returns partial results at the timeout (null for missing)', async () => {
    const s = makeStore();
    const here = ObjectId.random();
    put(s, here, 64, 3);
    const t0 = Date.now();
    const res = await s.get([here, ObjectId.random()], { timeout: 100 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(verifyPattern(res[0]!.data, 3)).toBe(true);
    expect(res[1]).toBeNull();
    res[0]!.release();
    expect(s.stats().pinned).toBe(0);
  });

  it('a wait is resolved by a seal from another client', async () => {
    const s = makeStore();
    const writer = ObjectStore.attach(s.fd);
    open.push(writer);
    const id = ObjectId.random();
    const p = s.get([id]);
    fillPattern(writer.create(id, 500), 4);
    writer.seal(id);
    const [obj] = await p;
    expect(verifyPattern(obj!.data, 4)).toBe(true);
    obj!.release();
  });

  it('close rejects pending gets', async () => {
    const s = ObjectStore.create({ capacity: 8 * MIB, spillDir: '' });
    const p = s.get([ObjectId.random()]);
    s.close();
    await expect(p).rejects.toBeInstanceOf(StoreClosedError);
  });
});

describe('full store', () => {
  it('evicts unpinned secondaries in LRU order and never a pinned one', () => {
    const s = makeStore(4 * MIB);
    const block = 256 * 1024;
    const n = Math.floor(s.capacity / block);
    const ids = Array.from({ length: n }, () => ObjectId.random());
    for (const [i, id] of ids.entries()) put(s, id, block - 64, i, false);
    // Touch 0 (most recent now) and pin 1.
    s.tryGet(ids[0]!)!.release();
    const pinned = s.tryGet(ids[1]!)!;
    put(s, ObjectId.random(), block - 64, 100, false);
    expect(s.contains(ids[0]!)).toBe(true);
    expect(s.contains(ids[1]!)).toBe(true);
    expect(s.contains(ids[2]!)).toBe(false);
    put(s, ObjectId.random(), block - 64, 101, false);
    expect(s.contains(ids[3]!)).toBe(false);
    expect(s.stats().evicted).toBe(2);
    // Everything else pinned or primary without a spill dir: ObjectStoreFullError saying what to do.
    for (const id of ids.slice(4)) s.tryGet(id);
    s.tryGet(ids[0]!);
    expect(() => s.create(ObjectId.random(), 2 * block)).toThrow(ObjectStoreFullError);
    expect(() => s.create(ObjectId.random(), 2 * block)).toThrow(
      /asked for .* bytes free .* raise objectStoreMemory/s,
    );
    expect(verifyPattern(pinned.data, 1)).toBe(true);
  });

  it('spills primaries to spillDir and restores them byte for byte', async () => {
    const s = makeStore(4 * MIB, { spill: true });
    const dir = s.spillDir; // the store's own directory inside the one given
    const size = 300_000;
    const ids = Array.from({ length: 40 }, () => ObjectId.random());
    for (const [i, id] of ids.entries()) put(s, id, size, i);
    const st = s.stats();
    expect(st.spilled).toBeGreaterThan(20);
    expect(st.evicted).toBe(0);
    expect(readdirSync(dir).length).toBe(st.spilledObjects);
    // All 40 cannot be pinned at once (12 MB in 4 MiB): a get of all of them fails cleanly.
    await expect(s.get(ids)).rejects.toBeInstanceOf(ObjectStoreFullError);
    expect(s.stats().pinned).toBe(0);
    for (let i = 0; i < ids.length; i++) {
      const o = s.tryGet(ids[i]!)!;
      expect(o.data.length).toBe(size);
      expect(verifyPattern(o.data, i)).toBe(true);
      o.release();
    }
    expect(s.stats().restored).toBeGreaterThan(20);
    for (const id of ids) s.delete(id);
    expect(readdirSync(dir)).toEqual([]);
  });
});
