// sunray/store: the node's shared-memory object store, for embedders and benchmarks.

/**
 * The node's shared-memory object store, for embedders and benchmarks.
 *
 * @module sunray/store
 */

export { UnsafeDirectoryError } from '../base/errors.js';
export { OBJECT_ID_SIZE } from '../base/ids.js';
export {
  type CapacityChoice,
  chooseCapacity,
  defaultCapacity,
  MAX_ARENA_CAPACITY,
  MAX_OBJECT_SIZE,
  machineMemory,
} from './capacity.js';
export {
  ArenaMismatchError,
  InvalidObjectIdError,
  InvalidSizeError,
  InvalidStoreOptionError,
  NotCreatorError,
  NotPinnedError,
  ObjectAlreadySealedError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectNotSealedError,
  ObjectStoreFullError,
  ObjectTooLargeError,
  OwnUnsealedGetError,
  SpillError,
  StoreClosedError,
  StoreError,
  TooManyObjectsError,
} from './errors.js';
export { ObjectId } from './object-id.js';
export { ObjectStore } from './object-store.js';
export { isStoreFull, OBJECT_STORE_FULL_WAIT_MS } from './room-wait.js';
export {
  type CreateOptions,
  DEFAULT_WARM_AHEAD,
  type GetOptions,
  type ObjectBuffer,
  type ObjectInfo,
  type ObjectStoreOptions,
  type PinHandle,
  type StoreStats,
} from './store-types.js';
