// The owner's stream of a streaming generator task (worker/generator-stream.ts), without
// processes: items are taken in index order whatever order they arrive in, the end waits
// for the items before it, an error comes after the items before it, a retried run's
// repeats are refused, and the consumed count is reported as items are taken.
import { describe, expect, test } from 'vitest';
import { GeneratorStream } from '../../lib/worker/generator-stream.js';

/** Resolves to 'pending' if p has not settled after a few turns. */
async function settledOrPending<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 20))]);
}

describe('GeneratorStream', () => {
  test('items are given in index order; next() waits for the missing one', async () => {
    const s = new GeneratorStream<string>();
    expect(s.offer(1, 'b')).toBe(true);
    const first = s.next();
    expect(await settledOrPending(first)).toBe('pending');
    s.offer(0, 'a');
    expect(await first).toEqual({ done: false, value: 'a' });
    expect(await s.next()).toEqual({ done: false, value: 'b' });
    s.ended(2);
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });

  test('an end that arrives before its items waits for them', async () => {
    const s = new GeneratorStream<number>();
    s.ended(1);
    const p = s.next();
    expect(await settledOrPending(p)).toBe('pending');
    s.offer(0, 7);
    expect(await p).toEqual({ done: false, value: 7 });
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });

  test('an error comes after the items before it, once; then the stream is done', async () => {
    const s = new GeneratorStream<number>();
    s.offer(0, 10);
    s.offer(1, 11);
    s.failed(new RangeError('boom'));
    expect(await s.next()).toEqual({ done: false, value: 10 });
    expect(await s.next()).toEqual({ done: false, value: 11 });
    await expect(s.next()).rejects.toThrow('boom');
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(s.offer(2, 12)).toBe(false);
  });

  test('a retried run repeats items: those taken or held are refused', async () => {
    const s = new GeneratorStream<string>();
    s.offer(0, 'a');
    s.offer(1, 'b');
    expect((await s.next()).value).toBe('a');
    expect(s.wants(0)).toBe(false); // taken
    expect(s.offer(1, 'b again')).toBe(false); // held
    expect(s.offer(2, 'c')).toBe(true);
    expect((await s.next()).value).toBe('b');
    expect((await s.next()).value).toBe('c');
  });

  test('the consumed count is reported as items are taken, and again on reack()', async () => {
    const counts: number[] = [];
    const s = new GeneratorStream<number>((n) => counts.push(n));
    s.offer(0, 0);
    s.offer(1, 1);
    await s.next();
    await s.next();
    s.reack();
    expect(counts).toEqual([1, 2, 2]);
    expect(s.consumed).toBe(2);
  });

  test('close() ends the stream for the consumer and wakes a waiting next()', async () => {
    const s = new GeneratorStream<number>();
    const p = s.next();
    s.close();
    expect(await p).toEqual({ done: true, value: undefined });
    expect(s.offer(0, 1)).toBe(false);
    expect(s.buffered).toBe(0);
  });
});
