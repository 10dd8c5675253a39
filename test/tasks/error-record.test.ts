// What of a thrown error crosses processes (error-record.ts) and how RemoteError rebuilds
// it, without processes: fields that serialize are kept, others skipped without failing,
// causes chain, loops are cut, and odd throws (non-errors, throwing getters) still make a record.
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../lib/base/errors.js';
import { OBJECT_ID_SIZE } from '../../lib/base/ids.js';
import { newUntrackedRef } from '../../lib/base/object-ref.js';
import { deserialize, serialize } from '../../lib/base/serialization.js';
import { remoteErrorInfo } from '../../lib/protocol/error-record.js';

/** Through the wire and back, as a driver sees a task's error. */
const roundTrip = (thrown: unknown) =>
  new RemoteError(deserialize(serialize(remoteErrorInfo(thrown))) as never);

describe('error records', () => {
  it('a plain error costs nothing extra: no props, no cause', () => {
    const info = remoteErrorInfo(new TypeError('bad'));
    expect(Object.keys(info).sort()).toEqual(['message', 'name', 'stack']);
    const back = roundTrip(new TypeError('bad'));
    expect(back.name).toBe('TypeError');
    expect(back.message).toBe('bad');
  });

  it('keeps fields that serialize, skips functions, symbols, refs and throwing getters', () => {
    const e = new Error('x') as Error & Record<string, unknown>;
    e.code = 'EFOO';
    e.list = [1, { a: 2n }];
    e.fn = () => 1;
    e.sym = Symbol('s');
    e.ref = newUntrackedRef(Buffer.alloc(OBJECT_ID_SIZE, 1));
    e.nested = { ref: newUntrackedRef(Buffer.alloc(OBJECT_ID_SIZE, 2)) };
    Object.defineProperty(e, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    Object.defineProperty(e, '__proto__', { value: { evil: true }, enumerable: true });
    const back = roundTrip(e) as unknown as Record<string, unknown>;
    expect(back.code).toBe('EFOO');
    expect(back.list).toEqual([1, { a: 2n }]);
    for (const k of ['fn', 'sym', 'ref', 'nested', 'boom']) expect(Object.hasOwn(back, k), k).toBe(false);
    // A field named __proto__ is a field, not the prototype.
    expect(Object.getPrototypeOf(back)).toBe(RemoteError.prototype);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ evil: true });
  });

  it('chains causes, cuts loops and long chains, and keeps plain causes as values', () => {
    const root = Object.assign(new Error('root'), { code: 'EROOT' });
    const mid = new Error('mid', { cause: root });
    const top = new RangeError('top', { cause: mid });
    const back = roundTrip(top);
    expect(back.name).toBe('RangeError');
    expect((back.cause as Error).message).toBe('mid');
    expect(((back.cause as Error).cause as Error & { code: string }).code).toBe('EROOT');

    const loop = new Error('loop');
    (loop as { cause?: unknown }).cause = loop;
    expect(roundTrip(loop).cause).toBeUndefined();

    let deep = new Error('0');
    for (let i = 1; i < 100; i++) deep = new Error(String(i), { cause: deep });
    let n = 0;
    for (let c: unknown = roundTrip(deep); c instanceof Error; c = c.cause) n++;
    expect(n).toBeGreaterThan(1);
    expect(n).toBeLessThanOrEqual(16);

    expect(roundTrip(new Error('v', { cause: { status: 503 } })).cause).toEqual({ status: 503 });
    expect(roundTrip(new Error('v', { cause: () => 1 })).cause).toBeUndefined();
  });

  it('a thrown non-error becomes an Error that keeps its fields', () => {
    expect(roundTrip('just a string').message).toBe('just a string');
    const back = roundTrip({ code: 42, why: 'thrown object' }) as unknown as Record<string, unknown>;
    expect(back.code).toBe(42);
    expect(back.why).toBe('thrown object');
    const noString = Object.create(null) as object; // String() of it throws
    expect(roundTrip(noString).message).toBe('[object Object]');
  });

  it("an AggregateError's errors cross", () => {
    const back = roundTrip(new AggregateError([new Error('a'), new Error('b')], 'both')) as AggregateError;
    expect(back.name).toBe('AggregateError');
    expect(back.errors.map((e: Error) => e.message)).toEqual(['a', 'b']);
  });
});
