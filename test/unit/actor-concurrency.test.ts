// The deciding parts of actor concurrency, with fakes: Ray's default maxConcurrency
// (api/actor-concurrency.ts), the per-group limiter the executor runs calls under
// (worker/concurrency-groups.ts), and the caller's count of unanswered calls for
// maxPendingCalls (api/pending-calls.ts).
import { describe, expect, test } from 'vitest';
import {
  ASYNC_ACTOR_MAX_CONCURRENCY,
  actorMaxConcurrency,
  checkCallGroup,
  checkConcurrencyGroups,
  checkMaxPendingCalls,
  hasAsyncMethods,
} from '../../lib/api/actor-concurrency.js';
import { PendingCalls } from '../../lib/api/pending-calls.js';
import { InvalidArgumentError, PendingCallsLimitError } from '../../lib/base/errors.js';
import { type ConcurrencyGroup, ConcurrencyGroups } from '../../lib/worker/concurrency-groups.js';

describe("maxConcurrency: Ray's default", () => {
  test('async if any method is an async function (or async generator); a promise-returning one is not', () => {
    class Sync {
      a() {
        return 1;
      }
      b() {
        return Promise.resolve(2);
      }
    }
    class Mixed extends Sync {
      async c() {
        return 3;
      }
    }
    const proto = (c: { prototype: object }) =>
      Object.getOwnPropertyNames(c.prototype).map((k) => (c.prototype as Record<string, unknown>)[k]);
    expect(hasAsyncMethods(proto(Sync))).toBe(false);
    expect(hasAsyncMethods(proto(Mixed))).toBe(true);
    expect(hasAsyncMethods([async function* gen() {}])).toBe(true);
    expect(hasAsyncMethods([undefined, 'x'])).toBe(false);
  });

  test('1000 for async actors, 1 for the others; an explicit value always wins and is checked', () => {
    expect(actorMaxConcurrency(undefined, true)).toBe(ASYNC_ACTOR_MAX_CONCURRENCY);
    expect(ASYNC_ACTOR_MAX_CONCURRENCY).toBe(1000);
    expect(actorMaxConcurrency(undefined, false)).toBe(1);
    expect(actorMaxConcurrency(1, true)).toBe(1);
    expect(actorMaxConcurrency(7, false)).toBe(7);
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => actorMaxConcurrency(bad, true)).toThrow(InvalidArgumentError);
  });

  test('groups and maxPendingCalls are checked', () => {
    expect(checkConcurrencyGroups(undefined)).toBeUndefined();
    expect(checkConcurrencyGroups({})).toBeUndefined();
    expect(checkConcurrencyGroups({ io: 10, compute: 1 })).toEqual({ io: 10, compute: 1 });
    expect(() => checkConcurrencyGroups({ io: 0 })).toThrow(InvalidArgumentError);
    expect(() => checkConcurrencyGroups({ 'a\0b': 1 })).toThrow(/NUL/);
    expect(() => checkConcurrencyGroups([] as never)).toThrow(InvalidArgumentError);
    expect(checkMaxPendingCalls(undefined)).toBe(-1);
    expect(checkMaxPendingCalls(-1)).toBe(-1);
    expect(checkMaxPendingCalls(3)).toBe(3);
    expect(() => checkMaxPendingCalls(0)).toThrow(InvalidArgumentError);
    expect(checkCallGroup(undefined, ['io'], 'A.m')).toBe('');
    expect(checkCallGroup('io', ['io'], 'A.m')).toBe('io');
    expect(checkCallGroup('any', undefined, 'A.m')).toBe('any'); // not known here: the actor checks
    expect(() => checkCallGroup('gpu', ['io'], 'A.m')).toThrow(
      /A.m: the actor has no concurrency group 'gpu'/,
    );
  });
});

/** Jobs the fake executor starts: they end only when told to. */
function harness(groups: ConcurrencyGroups<string>) {
  const started: string[] = [];
  const groupOf = new Map<string, ConcurrencyGroup<string>>();
  const start = (job: string) => started.push(job);
  return {
    started,
    submit(job: string, group = '') {
      const g = groups.get(group);
      if (!g) throw new Error(`no group ${group}`);
      groupOf.set(job, g);
      g.queue.push(job);
      groups.pump(g, start);
    },
    end(job: string) {
      const g = groupOf.get(job)!;
      g.running--;
      groups.pump(g, start);
    },
  };
}

describe('concurrency groups (the executor limiter)', () => {
  test('each group starts calls up to its own limit, in arrival order; a full group holds back no other', () => {
    const groups = new ConcurrencyGroups<string>();
    groups.configure(1, { io: 2, compute: 1 });
    const h = harness(groups);
    for (const j of ['io1', 'io2', 'io3']) h.submit(j, 'io');
    h.submit('c1', 'compute');
    h.submit('c2', 'compute');
    h.submit('d1');
    h.submit('d2');
    expect(h.started).toEqual(['io1', 'io2', 'c1', 'd1']);
    expect(groups.queued()).toBe(3);
    expect(groups.running()).toBe(4);
    h.end('io2');
    expect(h.started.at(-1)).toBe('io3');
    h.end('d1');
    h.end('c1');
    expect(h.started.slice(-2)).toEqual(['d2', 'c2']);
    expect(groups.queued()).toBe(0);
  });

  test('a call that waits in get() frees its place in its own group only', () => {
    const groups = new ConcurrencyGroups<string>();
    groups.configure(1, { io: 1 });
    const h = harness(groups);
    h.submit('io1', 'io');
    h.submit('io2', 'io');
    h.submit('d1');
    h.submit('d2');
    expect(h.started).toEqual(['io1', 'd1']);
    const io = groups.get('io')!;
    io.blocked++;
    groups.pump(io, (j) => h.started.push(j));
    expect(h.started).toEqual(['io1', 'd1', 'io2']); // d2 still waits
  });

  test('unknown names are not groups; the default one is ""; remove reaches every group', () => {
    const groups = new ConcurrencyGroups<string>(3);
    expect(groups.get('')).toBe(groups.default);
    expect(groups.default.limit).toBe(3);
    expect(groups.get('io')).toBeUndefined();
    groups.configure(2, { io: 1 });
    expect(groups.default.limit).toBe(2);
    expect(groups.names()).toEqual(['io']);
    groups.get('io')!.queue.push('a');
    groups.default.queue.push('b');
    groups.default.queue.push('c');
    expect(groups.remove((j) => j === 'a')).toBe('a');
    expect(groups.remove((j) => j === 'zz')).toBeUndefined();
    expect(groups.remove((j) => j === 'c')).toBe('c');
    expect(groups.queued()).toBe(1);
  });

  test('a call that ends as it starts does not grow the stack: the outer loop takes the next', () => {
    const groups = new ConcurrencyGroups<number>();
    let depth = 0;
    let maxDepth = 0;
    const g = groups.default;
    const start = (_j: number) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      g.running--; // ended at once
      groups.pump(g, start);
      depth--;
    };
    for (let i = 0; i < 10_000; i++) g.queue.push(i);
    groups.pump(g, start);
    expect(g.queue.length).toBe(0);
    expect(maxDepth).toBe(1);
  });
});

describe('maxPendingCalls (the caller count)', () => {
  test('refuses the call past the limit, per actor, until one is answered', () => {
    const p = new PendingCalls();
    p.admit('a', 2, 'A.m');
    p.admit('a', 2, 'A.m');
    p.admit('b', 2, 'B.m'); // another actor has its own count
    expect(() => p.admit('a', 2, 'A.m')).toThrow(PendingCallsLimitError);
    expect(() => p.admit('a', 2, 'A.m')).toThrow(/A.m: this caller already has 2 calls/);
    expect(p.pending('a')).toBe(2);
    p.done('a');
    p.admit('a', 2, 'A.m');
    expect(p.pending('a')).toBe(2);
    p.done('a');
    p.done('a');
    p.done('b');
    expect(p.pending('a')).toBe(0);
    expect(p.pending('b')).toBe(0);
  });
});
