// The object store's option and result types, and its defaults: what ObjectStore.create,
// create, get, list and stats take and give (object-store.ts has the class).
import type { NativeStoreStats } from '../base/addon.js';
import type { ObjectId } from './object-id.js';

/** Options of ObjectStore.create(): the arena's size, where to spill, how many objects. */
export interface ObjectStoreOptions {
  /**
   * Total bytes of the arena (header + tables + data), up to the machine's memory.
   * Default: 30% of memory, at most what is available and the free space of /dev/shm.
   */
  capacity?: number;
  /**
   * Where sealed primary objects go when the store is full: the store makes its own directory
   * (mode 0700, a random name) in this one, and removes it on close. The directory given must
   * belong to this user and not be writable by group or others (UnsafeDirectoryError otherwise).
   * Default: the private sunray session directory ($SUNRAY_SESSION_DIR or <tmp>/sunray-<uid>).
   * '' disables spilling.
   */
  spillDir?: string;
  /** Most objects the store holds at once. Default: capacity / 8 KiB, within [1024, 262144]. */
  maxObjects?: number;
  /**
   * Bytes of memory kept backed and written ahead of the highest offset the store has
   * used, by a background thread of this process at idle priority, so puts do not pay
   * for pages touched the first time (docs/store.md). Default DEFAULT_WARM_AHEAD (1 GiB),
   * at most the capacity; 0 turns warming off.
   */
  warmAhead?: number;
  /**
   * Most bytes the spill files may hold at once (`objectSpillingLimit` in init). A spill that
   * would pass it is not made: the store is full instead. Kept in the arena, so every process
   * of the node obeys it. Default: no limit (the spill directory's disk is the limit).
   */
  spillLimit?: number;
}

/** The default of ObjectStoreOptions.warmAhead: 1 GiB (an 800 MiB put finds its pages ready). */
export const DEFAULT_WARM_AHEAD = 2 ** 30;

/** Options of ObjectStore.create(id, size, opts): metadata, and whether the copy is primary. */
export interface CreateOptions {
  /** Small bytes stored after the data (e.g. a format tag); returned by get as `metadata`. */
  metadata?: Uint8Array;
  /** A primary copy is spilled to disk when space is needed; a secondary (false) is just evicted. Default true. */
  primary?: boolean;
}

/** Options of ObjectStore.get(): how long to wait for objects not yet sealed. */
export interface GetOptions {
  /** Milliseconds to wait for objects not yet sealed; missing ones come back as null. Default: wait forever. */
  timeout?: number;
  /** Stops the wait: the get rejects with the signal's reason (pins taken so far are released). */
  signal?: AbortSignal;
  /**
   * Milliseconds to wait for room when the store is full because objects are pinned or being
   * written (restoring a spilled object needs room). Default: the store's `fullWaitMs`.
   */
  fullWaitMs?: number;
}

/** A store pin on its own (ObjectBuffer.pin): releasing it unpins the object. */
export interface PinHandle {
  /** Drops the pin (idempotent). */
  release(): void;
  /** Whether the pin is gone (released, or its views were collected). */
  readonly released: boolean;
}

/** A pinned, sealed object: `data` is a view over shared memory. Do not write to it. */
export interface ObjectBuffer {
  /** The object's id. */
  readonly id: ObjectId;
  /** The object's bytes: a view over the shared memory, valid until release(). */
  readonly data: Buffer;
  /** A copy of the object's metadata bytes. */
  readonly metadata: Buffer;
  /** Unpins the object (idempotent). After release the store may evict it: stop using `data`. */
  release(): void;
  /** Whether release() was called (or the view was collected and the pin dropped for it). */
  readonly released: boolean;
  /**
   * The pin alone (release(), released), without the views: whoever keeps it does not keep
   * `data` alive, so collecting the views still unpins.
   */
  readonly pin: PinHandle;
}

/** One object of the store, as list() gives it. */
export interface ObjectInfo {
  /** The object's id. */
  id: ObjectId;
  /** Being written (unsealed), readable (sealed), or on disk (spilled, restored on get). */
  state: 'unsealed' | 'sealed' | 'spilled';
  /** Bytes of data. */
  dataSize: number;
  /** Bytes of metadata. */
  metadataSize: number;
  /** Pins held on it (gets not yet released); a pinned object is neither evicted nor spilled. */
  pins: number;
  /** A primary copy (spilled when space is needed) rather than a secondary (evicted). */
  primary: boolean;
  /** delete() was called while it was pinned: it goes when the last pin does. */
  deletePending: boolean;
  /** The process that created it. */
  creatorPid: number;
}

/** A store's counters (see NativeStoreStats for each field). */
export type StoreStats = NativeStoreStats;
