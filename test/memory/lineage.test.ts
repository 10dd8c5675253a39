// Lineage: a task result whose every copy is gone is rebuilt by running its task
// again (its lost arguments first); put values cannot be rebuilt. Copies are
// removed behind the owner's back with sunray/testing's loseObject, as losing
// the node that held them would.
import * as sunray from 'sunray';
import { loseObject } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const MiB = 1024 * 1024;

/** Values read by get are views pinning the store copy: let them go before losing it. */
async function unpin(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function check(ref: sunray.ObjectRef<Buffer>, expected: Buffer): Promise<boolean> {
  return (await sunray.get(ref)).equals(expected);
}

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 128 * MiB }));
afterAll(() => sunray.shutdown());

// Results above 100 KiB live in the store (smaller ones live in the owner's memory).
const fill = sunray.remote((n: number, byte: number) => Buffer.alloc(n, byte));
const plusOne = sunray.remote((b: Buffer) => {
  const out = Buffer.alloc(b.length);
  for (let i = 0; i < b.length; i++) out[i] = (b[i]! + 1) & 0xff;
  // The argument is a zero-copy view pinning its store object until collected: collect
  // soon after returning, so that the test can lose that object (as a node loss would).
  const g = (globalThis as any).gc;
  if (g) {
    setTimeout(() => {
      g();
      setTimeout(g, 5);
    }, 5);
  }
  return out;
});

describe('lineage reconstruction', () => {
  test('a lost task result is rebuilt and get returns the right value', async () => {
    const ref = fill.remote(2 * MiB, 7);
    expect(await check(ref, Buffer.alloc(2 * MiB, 7))).toBe(true);
    await unpin();
    expect(loseObject(ref)).toBe(true);
    expect(loseObject(ref)).toBe(false); // really gone
    expect(await check(ref, Buffer.alloc(2 * MiB, 7))).toBe(true);
  });

  test('rebuilding is recursive: a lost result whose lost argument is itself a task result', async () => {
    const a = fill.remote(MiB, 1);
    const b = plusOne.remote(a);
    expect(await check(b, Buffer.alloc(MiB, 2))).toBe(true);
    await unpin();
    expect(loseObject(a)).toBe(true);
    expect(loseObject(b)).toBe(true);
    expect(await check(b, Buffer.alloc(MiB, 2))).toBe(true);
    expect(await check(a, Buffer.alloc(MiB, 1))).toBe(true);
  });

  test('a lost result passed to a new task is rebuilt before the task runs', async () => {
    const a = fill.remote(MiB, 10);
    await sunray.get(a);
    await unpin();
    expect(loseObject(a)).toBe(true);
    const b = plusOne.remote(a);
    expect((await sunray.get(b)).equals(Buffer.alloc(MiB, 11))).toBe(true);
  });

  test('rebuilds are bounded by maxRetries', async () => {
    const once = fill.options({ maxRetries: 1 });
    const ref = once.remote(MiB, 3);
    await sunray.get(ref);
    await unpin();
    expect(loseObject(ref)).toBe(true);
    expect(await check(ref, Buffer.alloc(MiB, 3))).toBe(true);
    await unpin();
    expect(loseObject(ref)).toBe(true);
    await expect(sunray.get(ref)).rejects.toThrow(/maxRetries/);
    await expect(sunray.get(ref)).rejects.toBeInstanceOf(sunray.ObjectLostError);
  });

  test('a lost put value gives ObjectLostError saying it cannot be rebuilt', async () => {
    const ref = sunray.put(Buffer.alloc(MiB, 4));
    expect(loseObject(ref)).toBe(true);
    const err = await sunray.get(ref).catch((e) => e);
    expect(err).toBeInstanceOf(sunray.ObjectLostError);
    expect(String(err.message)).toMatch(/put\(\).*cannot be rebuilt/);
  });

  test('a small result promoted to the store comes back from the owner’s memory', async () => {
    const small = sunray.remote(() => ({ ok: 'small' }));
    const ref = small.remote();
    await sunray.get(ref);
    // Passing it inside a value promotes it to the store, where borrowers read it.
    const read = sunray.remote(async (box: { r: sunray.ObjectRef<{ ok: string }> }) => {
      const s = await import('sunray');
      return (await s.get(box.r)).ok;
    });
    expect(await sunray.get(read.remote({ r: ref }))).toBe('small');
    expect(loseObject(ref)).toBe(true);
    expect(await sunray.get(read.remote({ r: ref }))).toBe('small');
  });
});
