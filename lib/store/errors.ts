// The store's errors. The native core throws errors with a `.code`; `translate`
// turns them into these classes so callers can catch them by type.
import { SunrayError } from '../base/errors.js';

/**
 * Any error of the object store. Each subclass has the native core's code for what happened
 * (OBJECT_STORE_FULL, ...) as its static `code`; an instance made from a native error keeps
 * the exact native code (INVALID_CLIENT is a StoreClosedError, say).
 */
export class StoreError extends SunrayError {
  static override readonly code: string = 'STORE_ERROR';
  constructor(message: string, code?: string, options?: ErrorOptions) {
    super(message, options);
    if (code !== undefined) (this as { code: string }).code = code;
  }
}

/** Not enough space, even after evicting and spilling everything unpinned. */
export class ObjectStoreFullError extends StoreError {
  static override readonly code: string = 'OBJECT_STORE_FULL';
}
/**
 * An object larger than one Buffer of the running Node can be (4 GiB on Node 20): a get
 * returns each object as one Buffer. Split the value, or run Node 22+.
 */
export class ObjectTooLargeError extends StoreError {
  static override readonly code: string = 'OBJECT_TOO_LARGE';
}
/** The object table holds `maxObjects` objects already. */
export class TooManyObjectsError extends ObjectStoreFullError {
  static override readonly code: string = 'TOO_MANY_OBJECTS';
}
export class ObjectExistsError extends StoreError {
  static override readonly code: string = 'OBJECT_EXISTS';
}
export class ObjectNotFoundError extends StoreError {
  static override readonly code: string = 'OBJECT_NOT_FOUND';
}
export class ObjectAlreadySealedError extends StoreError {
  static override readonly code: string = 'OBJECT_ALREADY_SEALED';
}
export class ObjectNotSealedError extends StoreError {
  static override readonly code: string = 'OBJECT_NOT_SEALED';
}
/** Only the process that created an unsealed object may seal or abort it. */
export class NotCreatorError extends StoreError {
  static override readonly code: string = 'NOT_CREATOR';
}
export class NotPinnedError extends StoreError {
  static override readonly code: string = 'NOT_PINNED';
}
export class InvalidObjectIdError extends StoreError {
  static override readonly code: string = 'INVALID_OBJECT_ID';
}
export class InvalidSizeError extends StoreError {
  static override readonly code: string = 'INVALID_SIZE';
}
/** The segment is not a sunray arena, or was made by an incompatible build. */
export class ArenaMismatchError extends StoreError {
  static override readonly code: string = 'ARENA_MISMATCH';
}
/** A get of an object this process created and has not sealed: waiting would never end. */
export class OwnUnsealedGetError extends StoreError {
  static override readonly code: string = 'OWN_UNSEALED';
}
/** Options that cannot work (e.g. objectStoreMemory too small). */
export class InvalidStoreOptionError extends StoreError {
  static override readonly code: string = 'INVALID_OPTION';
}
/** A spilled object could not be read back from its spill file. */
export class SpillError extends StoreError {
  static override readonly code: string = 'SPILL_FAILED';
}
/** The store handle was closed (or its client slot reaped). */
export class StoreClosedError extends StoreError {
  static override readonly code: string = 'STORE_CLOSED';
}

const byCode: Record<string, new (message: string, code: string) => StoreError> = {
  OBJECT_STORE_FULL: ObjectStoreFullError,
  TOO_MANY_OBJECTS: TooManyObjectsError,
  OBJECT_TOO_LARGE: ObjectTooLargeError,
  OBJECT_EXISTS: ObjectExistsError,
  OBJECT_NOT_FOUND: ObjectNotFoundError,
  OBJECT_ALREADY_SEALED: ObjectAlreadySealedError,
  OBJECT_NOT_SEALED: ObjectNotSealedError,
  NOT_CREATOR: NotCreatorError,
  NOT_PINNED: NotPinnedError,
  INVALID_OBJECT_ID: InvalidObjectIdError,
  INVALID_SIZE: InvalidSizeError,
  ARENA_MISMATCH: ArenaMismatchError,
  OWN_UNSEALED: OwnUnsealedGetError,
  INVALID_OPTION: InvalidStoreOptionError,
  SPILL_FAILED: SpillError,
  STORE_CLOSED: StoreClosedError,
  INVALID_CLIENT: StoreClosedError,
};

/** Maps an error thrown by the native store to its class; anything else passes through. */
export function translate(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') {
    const code = (err as unknown as { code: string }).code;
    const Cls = byCode[code] ?? StoreError;
    return new Cls(err.message, code);
  }
  return err;
}
