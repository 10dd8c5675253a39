// The wait-for-room policy of a full store, driven by a fake clock and a fake
// sleep: when it waits, how often it polls, when it gives up, and what it throws.
import { describe, expect, it } from 'vitest';
import { ObjectStoreFullError, SpillError, TooManyObjectsError } from '../../lib/store/errors.js';
import {
  DEFAULT_ROOM_WAIT,
  nextPollDelay,
  type RoomWaitPolicy,
  retryWhenFull,
  withViews,
} from '../../lib/store/room-wait.js';

const policy: RoomWaitPolicy = { waitMs: 1000, firstPollMs: 2, maxPollMs: 50 };
const full = () => new ObjectStoreFullError('the object store is full', 'OBJECT_STORE_FULL');

/** A clock that only moves when the code under test sleeps. */
function fakes(opts: { couldFree?: () => boolean; signal?: AbortSignal } = {}) {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    deps: {
      policy,
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      couldFree: opts.couldFree ?? (() => true),
      giveUp: (last: ObjectStoreFullError, waited: number) =>
        new ObjectStoreFullError(`${last.message} after ${waited} ms`, 'OBJECT_STORE_FULL'),
      signal: opts.signal,
    },
  };
}

describe('nextPollDelay', () => {
  it('backs off from the first poll to the most, and stops at the deadline', () => {
    expect(nextPollDelay(policy, 0, 0, 1)).toBe(2);
    expect(nextPollDelay(policy, 0, 0, 2)).toBe(4);
    expect(nextPollDelay(policy, 0, 0, 5)).toBe(32);
    expect(nextPollDelay(policy, 0, 0, 6)).toBe(50);
    expect(nextPollDelay(policy, 0, 0, 1000)).toBe(50);
    // Never past the deadline, and nothing once it passed.
    expect(nextPollDelay(policy, 0, 990, 10)).toBe(10);
    expect(nextPollDelay(policy, 0, 1000, 10)).toBeUndefined();
    expect(nextPollDelay({ ...policy, waitMs: 0 }, 0, 0, 1)).toBeUndefined();
  });

  it('defaults to a few seconds', () => {
    expect(DEFAULT_ROOM_WAIT.waitMs).toBeGreaterThanOrEqual(1000);
    expect(DEFAULT_ROOM_WAIT.waitMs).toBeLessThanOrEqual(10_000);
  });
});

describe('retryWhenFull', () => {
  it('returns at once when the first attempt works', async () => {
    const f = fakes();
    expect(await retryWhenFull(() => 7, f.deps)).toBe(7);
    expect(f.sleeps).toEqual([]);
  });

  it('retries a full store until room comes', async () => {
    const f = fakes();
    let calls = 0;
    const v = await retryWhenFull(() => {
      if (++calls < 4) throw full();
      return 'ok';
    }, f.deps);
    expect(v).toBe('ok');
    expect(f.sleeps).toEqual([2, 4, 8]);
  });

  it('retries async attempts too', async () => {
    const f = fakes();
    let calls = 0;
    const v = await retryWhenFull(async () => {
      if (++calls < 2) throw full();
      return 'ok';
    }, f.deps);
    expect(v).toBe('ok');
  });

  it('gives up at the deadline with the last error, saying how long it waited', async () => {
    const f = fakes();
    const err = await retryWhenFull(() => {
      throw full();
    }, f.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreFullError);
    expect((err as Error).message).toBe('the object store is full after 1000 ms');
    expect(f.sleeps.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('does not wait when nothing is pinned or unsealed', async () => {
    const f = fakes({ couldFree: () => false });
    const err = await retryWhenFull(() => {
      throw full();
    }, f.deps).catch((e: unknown) => e);
    expect((err as Error).message).toBe('the object store is full after 0 ms');
    expect(f.sleeps).toEqual([]);
  });

  it('passes other errors at once, TooManyObjectsError included', async () => {
    const f = fakes();
    const spill = new SpillError('gone', 'SPILL_FAILED');
    await expect(
      retryWhenFull(() => {
        throw spill;
      }, f.deps),
    ).rejects.toBe(spill);
    const table = new TooManyObjectsError('table full', 'TOO_MANY_OBJECTS');
    await expect(
      retryWhenFull(() => {
        throw table;
      }, f.deps),
    ).rejects.toBe(table);
    expect(f.sleeps).toEqual([]);
  });

  it('stops when the signal aborts', async () => {
    const ac = new AbortController();
    const f = fakes({ signal: ac.signal });
    let calls = 0;
    const err = await retryWhenFull(() => {
      if (++calls === 3) ac.abort(new Error('stop'));
      throw full();
    }, f.deps).catch((e: unknown) => e);
    expect((err as Error).message).toBe('stop');
    expect(calls).toBe(3);
  });
});

describe('withViews', () => {
  it("adds this process's views once, and the wait when there was one", () => {
    const once = withViews(full(), 2, 1234, 0) as Error;
    expect(once).toBeInstanceOf(ObjectStoreFullError);
    expect((once as ObjectStoreFullError).code).toBe('OBJECT_STORE_FULL');
    expect(once.message).toMatch(/full; this process holds 2 view\(s\) over 1234 bytes/);
    const again = withViews(once, 1, 10, 5000) as Error;
    expect(again.message).toMatch(
      /full \(after waiting 5000 ms .*\); this process holds 1 view\(s\) over 10 bytes/,
    );
    expect(again.message.match(/this process holds/g)).toHaveLength(1);
    const other = new Error('x');
    expect(withViews(other, 1, 1, 1)).toBe(other);
  });
});
