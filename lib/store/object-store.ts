// ObjectStore: the plasma-style shared-memory object store of one node.
// One process creates the arena (ObjectStore.create); every other process on
// the node attaches to it (ObjectStore.attach) through an inherited fd or the
// creator's /proc/<pid>/fd/<fd> path. Reads are zero copy: a get returns
// Buffers over the shared mapping, pinned until released.
import { GetStatus, type NativeObjectInfo, type NativeStoreHandle, native } from '../base/addon.js';
import { ArenaViews } from './arena-views.js';
import { capacityProblem, defaultCapacity, MAX_OBJECT_SIZE } from './capacity.js';
import {
  InvalidSizeError,
  InvalidStoreOptionError,
  ObjectTooLargeError,
  OwnUnsealedGetError,
  StoreClosedError,
  translate,
} from './errors.js';
import { ObjectId } from './object-id.js';
import { DEFAULT_ROOM_WAIT, isStoreFull, RoomWakers, retryWhenFull, withViews } from './room-wait.js';
import { makeSpillDir, removeSpillDir } from './spill-dir.js';
import {
  type CreateOptions,
  DEFAULT_WARM_AHEAD,
  type GetOptions,
  type ObjectBuffer,
  type ObjectInfo,
  type ObjectStoreOptions,
  type StoreStats,
} from './store-types.js';

/** How often whenWarm() looks. */
const WARM_POLL_MS = 5;

interface PinState {
  released: boolean;
  readonly id: ObjectId;
  /** Bytes of the view (data and metadata). */
  readonly bytes: number;
  /** Bytes reported to V8 as held by the view (large views only, see wrap()). */
  readonly external: number;
}

/**
 * A view at least this large is reported to V8 as external memory while it pins its
 * object: a process whose heap is small (a worker reading big arguments) then collects
 * dropped views soon, and their objects' memory is not held by pins nobody uses.
 */
const EXTERNAL_VIEW_BYTES = 64 * 1024;
let reportViews = false;

/**
 * Turns that reporting on for this process. sunray's workers do (task arguments are views
 * their code drops at once); elsewhere it is off, because telling V8 of a large view makes
 * it collect at that get (a 1 GiB get then costs ~0.5 ms instead of ~3 µs).
 */
export function reportViewMemory(on: boolean): void {
  reportViews = on;
}

interface Waiter {
  ids: ObjectId[];
  results: (ObjectBuffer | null)[];
  pending: number;
  resolve: (r: (ObjectBuffer | null)[]) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  unlisten?: () => void;
}

/**
 * One process's handle to a node's shared-memory arena: create, seal, get (zero copy) and
 * delete objects. close() detaches (also `using store = ObjectStore.create()`).
 */
export class ObjectStore {
  private handle: NativeStoreHandle | null;
  private readonly views: ArenaViews;
  private readonly out = new Float64Array(3);
  private readonly waiters = new Set<Waiter>();
  private armed = false;
  private readonly onSeal = (): void => this.recheckWaiters();
  // Backstop for ObjectBuffers dropped without release(): unpins when the data view is collected.
  private readonly registry = new FinalizationRegistry<PinState>((pin) => this.unpin(pin));
  /** Pins this handle holds through views not yet released, and their bytes. */
  private viewPins = 0;
  private viewBytes = 0;
  /** Waits for room (whenRoom) that a pin released here may end early. */
  private readonly roomWakers = new RoomWakers();

  /**
   * How long (ms) an async call that finds the store full waits for pins to be released or
   * objects to be sealed before it fails with ObjectStoreFullError (OBJECT_STORE_FULL_WAIT_MS,
   * 5 s, by default; 0: fail at once). Used by get() and whenRoom().
   */
  fullWaitMs: number = DEFAULT_ROOM_WAIT.waitMs;

  /** /proc/<pid>/fd/<fd>: another process on the node attaches with it while this one lives. */
  readonly path: string;
  /** The arena's memfd in this process (pass it to children to attach). */
  readonly fd: number;
  /** Bytes of the data area. */
  readonly capacity: number;
  /** Whether this process created the arena (it removes the spill files and directory on close). */
  readonly isCreator: boolean;
  /** The directory spilled objects go to ('' when spilling is off). */
  readonly spillDir: string;
  /** Bytes this process's warmer keeps ready ahead of use (0: none; see ObjectStoreOptions.warmAhead). */
  readonly warmAhead: number;

  private constructor(handle: NativeStoreHandle, warmAhead = 0) {
    this.warmAhead = warmAhead;
    this.handle = handle;
    this.views = new ArenaViews(handle, handle.mappingSize);
    this.path = handle.path;
    this.fd = handle.fd;
    this.capacity = handle.capacity;
    this.isCreator = handle.isCreator;
    this.spillDir = handle.spillDir;
  }

  /** Creates a new arena; this process manages it. */
  static create(opts: ObjectStoreOptions = {}): ObjectStore {
    const capacity = opts.capacity ?? defaultCapacity();
    const problem = capacityProblem(capacity);
    if (problem) throw new InvalidStoreOptionError(problem, 'INVALID_OPTION');
    const maxObjects = opts.maxObjects ?? 0;
    if (!Number.isInteger(maxObjects) || maxObjects < 0 || maxObjects > 2 ** 30)
      throw new InvalidStoreOptionError(
        `maxObjects must be an integer in [1, 2^30], got ${maxObjects}`,
        'INVALID_OPTION',
      );
    const warmAhead = Math.min(opts.warmAhead ?? DEFAULT_WARM_AHEAD, capacity);
    if (!Number.isSafeInteger(warmAhead) || warmAhead < 0)
      throw new InvalidStoreOptionError(
        `warmAhead must be a whole number of bytes >= 0, got ${opts.warmAhead}`,
        'INVALID_OPTION',
      );
    const spillLimit = opts.spillLimit ?? 0;
    if (!Number.isSafeInteger(spillLimit) || spillLimit < 0)
      throw new InvalidStoreOptionError(
        `objectSpillingLimit must be a whole number of bytes >= 0 (0: no limit), got ${spillLimit}`,
        'INVALID_OPTION',
      );
    const spillDir = opts.spillDir === '' ? '' : makeSpillDir(opts.spillDir);
    try {
      return new ObjectStore(
        native.StoreHandle.create(capacity, maxObjects, spillDir, spillLimit, warmAhead),
        warmAhead,
      );
    } catch (err) {
      if (spillDir) removeSpillDir(spillDir);
      throw translate(err);
    }
  }

  /** Attaches to the arena another process created: an inherited fd, or its /proc/<pid>/fd/<fd> path. */
  static attach(pathOrFd: string | number): ObjectStore {
    try {
      return new ObjectStore(native.StoreHandle.attach(pathOrFd));
    } catch (err) {
      throw translate(err);
    }
  }

  private live(): NativeStoreHandle {
    if (!this.handle) throw new StoreClosedError('the object store is closed', 'STORE_CLOSED');
    return this.handle;
  }

  /** Creates an unsealed object and returns a writable view of its data. Write it, then seal(). */
  // biome-ignore lint/suspicious/useAdjacentOverloadSignatures: the static create() makes a store, this one an object.
  create(id: ObjectId, dataSize: number, opts?: CreateOptions): Buffer {
    const h = this.live();
    if (!Number.isSafeInteger(dataSize) || dataSize < 0)
      throw new InvalidSizeError(
        `create: dataSize must be a non-negative integer, got ${dataSize}`,
        'INVALID_SIZE',
      );
    // (Larger than the store: the native store says it can never fit, INVALID_SIZE.)
    if (dataSize > MAX_OBJECT_SIZE && dataSize <= this.capacity)
      throw new ObjectTooLargeError(
        `create: an object of ${dataSize} bytes is larger than the largest Buffer Node ${process.version} ` +
          `makes (${MAX_OBJECT_SIZE} bytes), and a get hands out one Buffer per object; split the value ` +
          'into several objects, or run Node 22 or later (whose limit is 2^53 - 1 bytes)',
        'OBJECT_TOO_LARGE',
      );
    let offset: number;
    try {
      offset = h.create(id.bytes, dataSize, opts?.metadata ?? null, opts?.primary ?? true);
    } catch (err) {
      throw this.explainFull(translate(err));
    }
    return this.views.view(offset, dataSize);
  }

  /** Makes the object immutable and visible; wakes every process waiting for it. */
  seal(id: ObjectId): void {
    try {
      this.live().seal(id.bytes);
    } catch (err) {
      throw translate(err);
    }
  }

  /** Drops an unsealed object this process created. */
  abort(id: ObjectId): void {
    try {
      this.live().abort(id.bytes);
    } catch (err) {
      throw translate(err);
    }
  }

  /** Non-blocking get: the pinned object, or null if it is absent or not sealed yet. */
  tryGet(id: ObjectId): ObjectBuffer | null {
    const h = this.live();
    let status: number;
    try {
      status = h.get(id.bytes, this.out);
    } catch (err) {
      throw this.explainFull(translate(err));
    }
    if (status === GetStatus.Ready) return this.wrap(id);
    if (status === GetStatus.OwnUnsealed)
      throw new OwnUnsealedGetError(
        `get: object ${id.hex()} was created by this process and is not sealed yet; seal it before reading it`,
        'OWN_UNSEALED',
      );
    return null;
  }

  private wrap(id: ObjectId): ObjectBuffer {
    const [offset, dataSize, metadataSize] = this.out as unknown as [number, number, number];
    const data = this.views.view(offset, dataSize);
    const metadata =
      metadataSize > 0 ? Buffer.from(this.views.view(offset + dataSize, metadataSize)) : Buffer.alloc(0);
    const external = reportViews && dataSize >= EXTERNAL_VIEW_BYTES ? dataSize : 0;
    const pin: PinState = { released: false, id, bytes: dataSize + metadataSize, external };
    if (external > 0) native.adjustExternalMemory(external);
    this.viewPins++;
    this.viewBytes += pin.bytes;
    this.registry.register(data, pin, pin);
    const handle = {
      release: () => {
        if (pin.released) return;
        this.registry.unregister(pin);
        this.unpin(pin);
      },
      get released() {
        return pin.released;
      },
    };
    return {
      id,
      data,
      metadata,
      release: handle.release,
      get released() {
        return pin.released;
      },
      pin: handle,
    };
  }

  private unpin(pin: PinState): void {
    if (pin.released) return;
    pin.released = true;
    this.viewPins--;
    this.viewBytes -= pin.bytes;
    if (pin.external > 0) native.adjustExternalMemory(-pin.external);
    if (!this.handle) return; // closed: the pins went with the client slot
    try {
      this.handle.release(pin.id.bytes);
    } catch {
      // Reaped or deleted meanwhile: nothing left to unpin.
    }
    this.roomMayHaveCome();
  }

  private roomMayHaveCome(): void {
    this.roomWakers.wake();
  }

  /** A full-store error, with what this process pins through views; other errors as they are. */
  private explainFull(err: unknown, waitedMs = 0): unknown {
    return withViews(err, this.viewPins, this.viewBytes, waitedMs);
  }

  /**
   * Runs attempt (a store call, sync or async); while it fails with ObjectStoreFullError and
   * objects are pinned or being written (so room may come back), waits (up to `waitMs`, default
   * `fullWaitMs`) and retries: as soon as this process releases a pin, else polling every few ms.
   * Then the last ObjectStoreFullError, saying what this process pins. Other errors at once.
   */
  whenRoom<T>(
    attempt: () => T | Promise<T>,
    opts: { signal?: AbortSignal; waitMs?: number } = {},
  ): Promise<T> {
    return retryWhenFull(attempt, {
      policy: { ...DEFAULT_ROOM_WAIT, waitMs: opts.waitMs ?? this.fullWaitMs },
      now: () => performance.now(),
      sleep: (ms) => this.roomWakers.sleep(ms),
      couldFree: () => {
        if (!this.handle) return false;
        const st = this.handle.stats();
        return st.pinned > 0 || st.unsealed > 0;
      },
      giveUp: (last, waited) => this.explainFull(last, waited) as Error,
      signal: opts.signal,
    });
  }

  /**
   * Gets several objects, waiting (without blocking the event loop) for those
   * not sealed yet. With a timeout, objects still missing come back as null.
   * Fails at once with OwnUnsealedGetError for an object this process created and has not sealed.
   */
  get(ids: ObjectId[], opts: GetOptions = {}): Promise<(ObjectBuffer | null)[]> {
    const first = this.getOnce(ids, opts);
    const waitMs = opts.fullWaitMs ?? this.fullWaitMs;
    if (waitMs <= 0) return first;
    // A spilled object is restored by the get: in a full store that waits for room.
    const started = Date.now();
    return first.catch((err: unknown) => {
      if (!isStoreFull(err)) throw err;
      const again = () => {
        const timeout =
          opts.timeout === undefined ? undefined : Math.max(0, opts.timeout - (Date.now() - started));
        return this.getOnce(ids, { ...opts, ...(timeout === undefined ? {} : { timeout }) });
      };
      return this.whenRoom(again, {
        waitMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    });
  }

  private getOnce(ids: ObjectId[], opts: GetOptions): Promise<(ObjectBuffer | null)[]> {
    const h = this.live();
    const results: (ObjectBuffer | null)[] = new Array(ids.length).fill(null);
    let pending = 0;
    try {
      // Read the epoch before looking: a seal after this point wakes the wait below.
      const epoch = h.sealEpoch();
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        const r = id && this.tryGet(id);
        if (r) results[i] = r;
        else pending++;
      }
      if (pending === 0 || opts.timeout === 0) return Promise.resolve(results);
      const signal = opts.signal;
      if (signal?.aborted) {
        for (const r of results) r?.release();
        return Promise.reject(signal.reason);
      }
      return new Promise((resolve, reject) => {
        const w: Waiter = { ids, results, pending, resolve, reject, timer: undefined };
        if (opts.timeout !== undefined && Number.isFinite(opts.timeout)) {
          w.timer = setTimeout(() => this.finishWaiter(w), Math.max(0, opts.timeout));
        }
        if (signal) {
          const onAbort = () => this.finishWaiter(w, signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
          w.unlisten = () => signal.removeEventListener('abort', onAbort);
        }
        this.waiters.add(w);
        this.arm(epoch);
      });
    } catch (err) {
      for (const r of results) r?.release();
      return Promise.reject(translate(err));
    }
  }

  private arm(epoch: number): void {
    this.armed = true;
    this.live().armWait(epoch, this.onSeal);
  }

  private finishWaiter(w: Waiter, err?: unknown): void {
    if (!this.waiters.delete(w)) return;
    if (w.timer) clearTimeout(w.timer);
    w.unlisten?.();
    if (this.waiters.size === 0 && this.armed && this.handle) {
      this.handle.disarmWait();
      this.armed = false;
    }
    if (err !== undefined) {
      for (const r of w.results) r?.release();
      w.reject(err);
    } else {
      w.resolve(w.results);
    }
  }

  private recheckWaiters(): void {
    if (!this.handle) return;
    const epoch = this.handle.sealEpoch();
    for (const w of [...this.waiters]) {
      try {
        for (let i = 0; i < w.ids.length && w.pending > 0; i++) {
          const id = w.ids[i];
          if (!id || w.results[i]) continue;
          const status = this.handle.get(id.bytes, this.out);
          if (status === GetStatus.Ready) {
            w.results[i] = this.wrap(id);
            w.pending--;
          }
        }
        if (w.pending === 0) this.finishWaiter(w);
      } catch (err) {
        this.finishWaiter(w, translate(err));
      }
    }
    if (this.waiters.size > 0) this.arm(epoch);
  }

  /** Drops one pin this process holds on the object (prefer ObjectBuffer.release()). */
  release(id: ObjectId): void {
    try {
      this.live().release(id.bytes);
    } catch (err) {
      throw translate(err);
    }
  }

  /** Whether the object is sealed (in memory or spilled) and not being deleted. */
  contains(id: ObjectId): boolean {
    try {
      return this.live().contains(id.bytes);
    } catch (err) {
      throw translate(err);
    }
  }

  /** Deletes a sealed object: at once, or when its last pin is released. */
  delete(id: ObjectId): void {
    try {
      this.live().delete(id.bytes);
    } catch (err) {
      throw translate(err);
    }
    this.roomMayHaveCome();
  }

  /** Every object in the store now, with its state and pins (for tools and tests). */
  list(): ObjectInfo[] {
    try {
      return this.live()
        .list()
        .map((o: NativeObjectInfo) => ({ ...o, id: ObjectId.fromBytes(o.id) }));
    } catch (err) {
      throw translate(err);
    }
  }

  /** The store's counters now: sizes, object counts, evictions, spills, restores (docs/store.md). */
  stats(): StoreStats {
    try {
      return this.live().stats();
    } catch (err) {
      throw translate(err);
    }
  }

  /** Aborts the unsealed objects and drops the pins of every client whose process died. Returns how many. */
  reapDeadClients(): number {
    try {
      return this.live().reapDeadClients();
    } catch (err) {
      throw translate(err);
    }
  }

  /** Offset of a view inside this process's mapping of the arena, or -1 (tests, diagnostics). */
  viewOffset(view: Uint8Array): number {
    return this.live().viewOffset(view);
  }

  /**
   * Resolves once the warmer has the first warmAhead bytes ready (true), or when timeoutMs
   * passes first (false). init() waits on it briefly, so that a first big put right after
   * init() runs at memory speed.
   */
  async whenWarm(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.handle) return false;
      if (this.handle.stats().committed >= this.warmAhead) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, WARM_POLL_MS));
    }
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.handle === null;
  }

  /**
   * Detaches: pending gets fail, this process's unsealed objects are aborted and
   * its pins dropped. Views already handed out stay mapped until collected. The
   * arena's memory is freed when the last process closes or exits. The creator
   * also deletes the spill files and the spill directory it made.
   */
  close(): void {
    const h = this.handle;
    if (!h) return;
    for (const w of [...this.waiters])
      this.finishWaiter(w, new StoreClosedError('the object store was closed while waiting', 'STORE_CLOSED'));
    if (this.isCreator) {
      try {
        h.removeSpillFiles();
      } catch {
        // Best effort.
      }
    }
    this.handle = null;
    h.close();
    if (this.isCreator && this.spillDir) removeSpillDir(this.spillDir);
  }

  /** close(), so that `using store = ObjectStore.create()` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }
}
