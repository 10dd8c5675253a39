// The store at machine scale: an 8 GiB store (past the 4 GiB one Node 20 Buffer can span)
// holds three 2 GiB objects and many small ones, and each reads back byte-equal in the
// driver and in a worker process.
import { createHash, randomFillSync } from 'node:crypto';
import * as sunray from 'sunray';
import { afterAll, beforeAll, expect, test } from 'vitest';

const GiB = 2 ** 30;

/** sha256 in 1 GiB steps: one update() takes less than 2 GiB. */
function sha(b: Uint8Array): string {
  const h = createHash('sha256');
  for (let off = 0; off < b.length; off += GiB) h.update(b.subarray(off, off + GiB));
  return h.digest('hex');
}
/** In a worker: the digest of an object it got as an argument (a view over the store). */
const digestIn = sunray.remote(async (b: Buffer) => {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  for (let off = 0; off < b.length; off += 2 ** 30) h.update(b.subarray(off, off + 2 ** 30));
  return { pid: process.pid, sha: h.digest('hex') };
});
/** In a worker: the digests of many small objects, read through their refs. */
const digestsOf = sunray.remote(async (refs: sunray.ObjectRef<Buffer>[]) => {
  const s = await import('sunray');
  const { createHash } = await import('node:crypto');
  const values = await s.get(refs);
  return values.map((v) => createHash('sha256').update(v).digest('hex'));
});

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 8 * GiB }));
afterAll(() => sunray.shutdown());

test('an 8 GiB store holds three 2 GiB objects and many small ones, byte-equal across processes', async () => {
  const big: { ref: sunray.ObjectRef<Buffer>; sha: string }[] = [];
  // One 2 GiB source, refilled for each object: the test's own memory stays at 2 GiB.
  const src = Buffer.allocUnsafe(2 * GiB);
  for (let i = 0; i < 3; i++) {
    for (let off = 0; off < src.length; off += GiB / 2) randomFillSync(src, off, GiB / 2);
    big.push({ ref: sunray.put(src), sha: sha(src) });
  }
  const small = Array.from({ length: 2000 }, (_, i) => {
    const b = Buffer.alloc(200 + (i % 50) * 97, i & 0xff);
    b.writeUInt32LE(i, 0);
    return { ref: sunray.put(b), sha: sha(b) };
  });
  // Past 4 GiB: the third object lies beyond what one Buffer over the mapping could reach.
  const [last] = await sunray.get([big[2]!.ref]);
  expect(last!.length).toBe(2 * GiB);
  expect(sha(last!)).toBe(big[2]!.sha);
  for (const o of big) {
    const got = await sunray.get(digestIn.remote(o.ref));
    expect(got.pid).not.toBe(process.pid);
    expect(got.sha).toBe(o.sha);
  }
  expect(await sunray.get(digestsOf.remote(small.map((s) => s.ref)))).toEqual(small.map((s) => s.sha));
  for (const o of [...big, ...small]) o.ref.release();
}, 180_000);
