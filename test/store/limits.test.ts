// The store's size limits: what the machine holds bounds the arena, Node's Buffer limit
// bounds one object, and each refusal is a named error that says what to do.
import { totalmem } from 'node:os';
import { expect, test } from 'vitest';
import {
  InvalidStoreOptionError,
  MAX_OBJECT_SIZE,
  ObjectId,
  ObjectStore,
  ObjectTooLargeError,
} from '../../lib/store/index.js';

test('an arena larger than the machine is refused with a named error, not a crash', () => {
  expect(() => ObjectStore.create({ capacity: totalmem() + 2 ** 30 })).toThrow(InvalidStoreOptionError);
  expect(() => ObjectStore.create({ capacity: totalmem() + 2 ** 30 })).toThrow(/machine's memory/);
});

test('an arena larger than 4 GiB is created, and an object past its first 4 GiB is read back', () => {
  // Sparse: only the pages written are backed.
  using store = ObjectStore.create({ capacity: 6 * 2 ** 30, spillDir: '', warmAhead: 0 });
  expect(store.capacity).toBeGreaterThan(5 * 2 ** 30);
  const ids: ObjectId[] = [];
  // Four 1 GiB objects push the fifth past the 4 GiB mark of the mapping.
  for (let i = 0; i < 5; i++) {
    const id = ObjectId.random();
    const size = i < 4 ? 2 ** 30 : 1024 * 1024;
    const view = store.create(id, size);
    view[0] = i + 1;
    view[size - 1] = i + 2;
    store.seal(id);
    ids.push(id);
  }
  const last = store.tryGet(ids[4]!);
  expect(store.viewOffset(last!.data)).toBeGreaterThan(2 ** 32);
  expect([last!.data[0], last!.data[last!.data.length - 1]]).toEqual([5, 6]);
  last!.release();
  for (const id of ids) store.delete(id);
});

// On Node 22+ the limit is 2^53 - 1: one more byte is no size at all (InvalidSizeError).
test.runIf(Number.isSafeInteger(MAX_OBJECT_SIZE + 1))(
  "an object larger than Node's Buffer limit is refused with ObjectTooLargeError",
  () => {
    // Room for it, so that the Buffer limit is what refuses it (sparse: nothing is touched).
    using store = ObjectStore.create({ capacity: MAX_OBJECT_SIZE + 2 ** 30, spillDir: '', warmAhead: 0 });
    const err = (() => {
      try {
        store.create(ObjectId.random(), MAX_OBJECT_SIZE + 1);
      } catch (e) {
        return e as ObjectTooLargeError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ObjectTooLargeError);
    expect(err?.code).toBe('OBJECT_TOO_LARGE');
    expect(err?.message).toMatch(/split the value/);
  },
);
