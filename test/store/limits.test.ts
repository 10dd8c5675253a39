import { expect, test } from 'vitest';
import { InvalidStoreOptionError, ObjectStore } from '../../lib/store/index.js';
import { MAX_ARENA_CAPACITY } from '../../lib/store/object-store.js';

test('an arena larger than one mappable buffer is refused with a named error, not a crash', () => {
  expect(() => ObjectStore.create({ capacity: MAX_ARENA_CAPACITY + 1024 * 1024 * 1024 })).toThrow(
    InvalidStoreOptionError,
  );
  expect(() => ObjectStore.create({ capacity: 7 * 2 ** 30 })).toThrow(/objectStoreMemory/);
});
