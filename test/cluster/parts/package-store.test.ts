// The cluster's package store over a fake KV: archives larger than a chunk are split and
// joined back byte for byte, the manifest is written last (a package is whole once it is
// listed), a second put of the same hash writes nothing, and a damaged chunk is refused.
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { PACKAGE_CHUNK_BYTES, PackageStore } from '../../../lib/cluster/package-store.js';

class FakeKv {
  readonly map = new Map<string, Buffer>();
  readonly writes: string[] = [];
  async get(ns: string, key: string): Promise<Buffer | undefined> {
    return this.map.get(`${ns}/${key}`);
  }
  async putIfAbsent(ns: string, key: string, value: Buffer): Promise<Buffer | undefined> {
    const k = `${ns}/${key}`;
    if (this.map.has(k)) return this.map.get(k);
    this.writes.push(key);
    this.map.set(k, Buffer.from(value));
    return undefined;
  }
}

describe('package store', () => {
  const hash = 'c'.repeat(64);

  test('an archive of several chunks comes back whole; the manifest is written last, once', async () => {
    const kv = new FakeKv();
    const store = new PackageStore(kv);
    const gz = randomBytes(2 * PACKAGE_CHUNK_BYTES + 12345);
    expect(await store.get(hash)).toBeUndefined();
    await store.put(hash, gz);
    expect(kv.writes).toEqual([`${hash}/0`, `${hash}/1`, `${hash}/2`, hash]);
    expect((await store.get(hash))?.equals(gz)).toBe(true);
    await store.put(hash, gz);
    expect(kv.writes).toHaveLength(4);
  });

  test('a damaged chunk is refused, not handed out', async () => {
    const kv = new FakeKv();
    const store = new PackageStore(kv);
    await store.put(hash, randomBytes(1000));
    const chunk = kv.map.get(`sunray_packages/${hash}/0`);
    if (chunk) chunk[0] = (chunk[0] ?? 0) ^ 0xff;
    await expect(store.get(hash)).rejects.toThrow(/damaged/);
  });
});
