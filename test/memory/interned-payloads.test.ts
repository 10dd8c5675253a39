// Small results that repeat share one Buffer in their owner; none aliases the ring's bytes.
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { keepPayload } from '../../lib/protocol/interned-payloads.js';

describe('kept result payloads', () => {
  test('equal small payloads share one copy; the copy never aliases the view it came from', () => {
    const ring = Buffer.from('xxSRP1okxx');
    const a = keepPayload(ring.subarray(2, 8));
    const b = keepPayload(Buffer.from('SRP1ok'));
    expect(a).toBe(b);
    ring.fill(0); // the ring slot is reused
    expect(a.toString()).toBe('SRP1ok');
    const big = Buffer.alloc(1000, 7);
    const kept = keepPayload(big);
    expect(kept).not.toBe(keepPayload(big));
    big.fill(1);
    expect(kept[0]).toBe(7);
  });
});

describe('many tasks returning the same small value', () => {
  beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 64 * 1024 * 1024 }));
  afterAll(() => sunray.shutdown());

  test('each gets its value, also when the values differ', async () => {
    const same = sunray.remote(() => 'ok');
    const own = sunray.remote((i: number) => i % 7);
    const got = await sunray.get(Array.from({ length: 2000 }, () => same.remote()));
    expect(got.every((v) => v === 'ok')).toBe(true);
    const mixed = await sunray.get(Array.from({ length: 2000 }, (_, i) => own.remote(i)));
    expect(mixed).toEqual(Array.from({ length: 2000 }, (_, i) => i % 7));
  });
});
