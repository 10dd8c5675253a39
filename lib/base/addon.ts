// The native addon, loaded once and typed once: every class and function it
// exports (native/addon/*.cc) is declared here, and everything else uses
// `native` through these types. The binary is a prebuilt one from
// prebuilds/<platform>-<arch>/ (shipped in the npm package, so installs with
// scripts blocked work) or a local build in build/Release; node-gyp-build
// picks the one that fits.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The package root: dist/base/addon.js and lib/base/addon.ts both sit two levels below it. */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------- store (store_handle.cc)

/** StoreHandle.get() statuses. */
export const GetStatus = { Ready: 0, Absent: 1, Unsealed: 2, OwnUnsealed: 3 } as const;
export type GetStatus = (typeof GetStatus)[keyof typeof GetStatus];

/** One object as StoreHandle.list() reports it. */
export interface NativeObjectInfo {
  id: Buffer;
  state: 'unsealed' | 'sealed' | 'spilled';
  dataSize: number;
  metadataSize: number;
  pins: number;
  primary: boolean;
  deletePending: boolean;
  creatorPid: number;
}

/** A store's counters (StoreHandle.stats()); the public ObjectStore.stats() returns them as they are. */
export interface NativeStoreStats {
  /** Bytes of the data area. */
  capacity: number;
  /** Bytes in allocated blocks (64-byte headers included). */
  used: number;
  /** Bytes of the data area backed by real memory so far. */
  committed: number;
  objects: number;
  sealed: number;
  unsealed: number;
  spilledObjects: number;
  /** Objects with at least one pin (gets not yet released). */
  pinned: number;
  /** Their data + metadata bytes. */
  pinnedBytes: number;
  /** Data + metadata bytes in spill files now. */
  spilledBytesNow: number;
  /** Most bytes the spill files may hold (objectSpillingLimit); 0: no limit. */
  spillLimit: number;
  maxObjects: number;
  clients: number;
  evicted: number;
  evictedBytes: number;
  spilled: number;
  spilledBytes: number;
  restored: number;
  restoredBytes: number;
  repairs: number;
  reapedClients: number;
}

/** One process's handle on a node's shared-memory store (store/object-store.ts wraps it). */
export interface NativeStoreHandle {
  /** An ArrayBuffer over [offset, offset + length) of the mapping (length within Node's Buffer limit). */
  window(offset: number, length: number): ArrayBuffer;
  /** Bytes of the whole mapping (header, tables and data). */
  readonly mappingSize: number;
  readonly fd: number;
  readonly path: string;
  readonly capacity: number;
  readonly clientSlot: number;
  readonly isCreator: boolean;
  readonly spillDir: string;
  create(id: Uint8Array, dataSize: number, metadata: Uint8Array | null, primary: boolean): number;
  seal(id: Uint8Array): void;
  abort(id: Uint8Array): void;
  /** Fills out with [offset, dataSize, metadataSize] and pins when Ready. */
  get(id: Uint8Array, out: Float64Array): GetStatus;
  release(id: Uint8Array): void;
  contains(id: Uint8Array): boolean;
  delete(id: Uint8Array): void;
  list(): NativeObjectInfo[];
  stats(): NativeStoreStats;
  reapDeadClients(): number;
  reapClient(slot: number): void;
  removeSpillFiles(): void;
  sealEpoch(): number;
  armWait(epoch: number, onSeal: () => void): void;
  disarmWait(): void;
  viewOffset(view: Uint8Array): number;
  close(): void;
}

/** The StoreHandle class: made only by its two static factories. */
export interface NativeStoreHandleClass {
  create(
    capacity: number,
    maxObjects: number,
    spillDir: string,
    spillLimit: number,
    warmAhead: number,
  ): NativeStoreHandle;
  attach(fdOrPath: number | string): NativeStoreHandle;
}

// ---------------------------------------------------------------- rings (ring_wrap.cc, doorbell_wrap.cc)

/** Options of `new Ring(fd, offset, options)`. */
export interface RingOptions {
  slots?: number;
  slotSize?: number;
  /** Lay the ring out (its creator); others attach to one laid out already. */
  init?: boolean;
  maxParticipants?: number;
  holdBytes?: number;
  /** Keep copies of claimed messages, so recover() can requeue a dead consumer's. */
  track?: boolean;
  join?: boolean;
}

/** What ring.recover(pid) did with a dead process's records. */
export interface RecoverStats {
  records: number;
  completed: number;
  tombstoned: number;
  requeued: number;
  pending: number;
  lost: number;
  skippedAlive: number;
}

/** A lock-free ring of [u32 length][bytes] frames in a shared-memory segment. */
export interface NativeRing {
  /** False when full; a RangeError with code ERR_SUNRAY_TOO_BIG when buf exceeds a slot. */
  push(buf: Uint8Array): boolean;
  /** Bytes of [u32 len][bytes] frames consumed. */
  pushFrames(buf: Uint8Array): number;
  /** [u32 len][bytes] frames, or null when empty. */
  drain(maxBytes?: number): Buffer | null;
  done(): void;
  size(): number;
  recover(pid: number): RecoverStats;
  close(): void;
  readonly capacity: number;
  readonly slotSize: number;
  readonly maxPayload: number;
  readonly heldCount: number;
}

/** The Ring class. */
export interface NativeRingClass {
  new (segmentFd: number, offset: number, options?: RingOptions): NativeRing;
  bytesNeeded(slots: number, slotSize: number, maxParticipants?: number, holdBytes?: number): number;
}

/** A ring's eventfd doorbell, watched by the event loop (uv_poll). */
export interface NativeDoorbell {
  notify(): boolean;
  pushAndNotify(buf: Uint8Array): boolean;
  pushFramesAndNotify(buf: Uint8Array): number;
  /** True when the ring is empty and sleep is announced: safe to wait for the watch callback. */
  prepareSleep(): boolean;
  /** Frames, or null once the ring is empty and sleep is announced. */
  drainOrSleep(maxBytes?: number): Buffer | null;
  watch(cb: () => void): void;
  unwatch(): void;
  ref(): void;
  unref(): void;
  close(): void;
  /** Before the loop blocks, spin up to spinUs for a message if one came in the last hotWindowUs (0: off). */
  setSpin(spinUs: number, hotWindowUs: number): void;
  readonly wakeups: number;
  /** Wake-ups by eventfd, spins before sleeping, and spins that found a message. */
  stats(): { wakeups: number; spins: number; spinHits: number };
}

/** The Doorbell class. */
export type NativeDoorbellClass = new (ring: NativeRing, eventFd: number) => NativeDoorbell;

// ---------------------------------------------------------------- resources (resource_pool_wrap.cc)

/** Resources held for one lease; release() takes it (or its id) back. */
export interface NativeGrant {
  id: number;
  gpuIds: number[];
  /** Unit resources (GPUs and those named in unitResources): which instances were given. */
  ids: Record<string, number[]>;
}

/** A node's resources (fixed point, 1/10000), taken and given back per lease. */
export interface NativeResourcePool {
  tryAcquire(demand: Record<string, number>): NativeGrant | null;
  release(grant: NativeGrant | number): void;
  available(): Record<string, number>;
  total(): Record<string, number>;
  /** The demand could be met by the totals (it may have to wait). */
  feasible(demand: Record<string, number>): boolean;
  /** The demand could be met now. */
  fits(demand: Record<string, number>): boolean;
}

/** The ResourcePool class. */
export type NativeResourcePoolClass = new (
  totals: Record<string, number>,
  options?: { unitResources?: string[] },
) => NativeResourcePool;

// ---------------------------------------------------------------- the whole addon (addon.cc)

/** Everything the addon exports. */
export interface NativeAddon {
  readonly addonVersion: string;
  readonly napiVersion: number;
  /** Tells V8 how much memory outside its heap JS objects keep alive (napi_adjust_external_memory); returns the total. */
  adjustExternalMemory(deltaBytes: number): number;
  /**
   * Copies source into target at targetOffset; a large source whose pages were never
   * touched is mapped in one call first (native/common/bulk_copy.h).
   */
  copyBytes(target: Uint8Array, targetOffset: number, source: Uint8Array): void;
  StoreHandle: NativeStoreHandleClass;
  /** A memfd of at least `bytes` (rounded up to pages); the caller owns fd (fs.closeSync). */
  createSegment(bytes: number): { fd: number; size: number };
  /** An eventfd (EFD_NONBLOCK|EFD_CLOEXEC); the caller owns it. */
  createEventFd(): number;
  Ring: NativeRingClass;
  Doorbell: NativeDoorbellClass;
  ResourcePool: NativeResourcePoolClass;
  /** SO_RCVLOWAT: the socket reads as readable only once `bytes` are queued (or it closes). */
  setRecvLowWater(fd: number, bytes: number): void;
  /** A SOCK_SEQPACKET unix socket pair (close-on-exec). */
  createSocketPair(): [number, number];
  /** Passes fds to the peer as one message (SCM_RIGHTS). */
  sendFds(sock: number, fds: number[]): void;
  /** The fds of one queued message, or null (never blocks). */
  recvFds(sock: number): number[] | null;
  /** The kernel sends `signal` when the parent dies; false if the parent is not parentPid any more. */
  dieWithParent(signal: number, parentPid: number): boolean;
  /** The signal set by dieWithParent (0: none). */
  parentDeathSignal(): number;
}

/** Loads the addon, or fails saying how to build it. */
export function loadAddon(): NativeAddon {
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(packageRoot) as NativeAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `sunray: no native addon fits ${process.platform}-${process.arch} (Node ${process.versions.node}, ` +
        `Node-API ${process.versions.napi}). ${why}\n` +
        'Build it from source: install python3, make and a C++20 compiler (g++ >= 10), then run ' +
        `\`npm rebuild sunray\` in your project (or \`npx node-gyp rebuild\` in ${packageRoot}).`,
      { cause: err },
    );
  }
}

/** The loaded addon. */
export const native: NativeAddon = loadAddon();
