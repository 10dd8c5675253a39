// ObjectRef: a future for a value in the cluster. It is a Uint8Array holding
// its 28-byte id, which makes it a "host object" to Node's v8 serializer: a
// ref nested anywhere inside a value is found by the serializer itself, with
// no extra walk over the value (see serialization.ts).
import { inspect } from 'node:util';
import { OBJECT_ID_SIZE, TASK_ID_SIZE } from './ids.js';

declare const valueType: unique symbol;

/** Hooks the runtime installs so refs can count themselves (ownership.ts). */
export interface RefTracker {
  onCreate(ref: ObjectRef<unknown>): void;
  onRelease(hex: string): void;
}

let tracker: RefTracker | undefined;
export function setRefTracker(t: RefTracker | undefined): void {
  tracker = t;
}

/** A store pin a view of a value read through a ref holds (the store's ObjectBuffer). */
export interface ViewPin {
  release(): void;
  readonly released: boolean;
}

/**
 * Pins held through views of values get() returned, per handle: the handle's release() (or the
 * end of its `using` block) drops them. Weak, so a collected handle costs nothing here; its
 * views' pins then go when the views themselves are collected.
 */
const viewPins = new WeakMap<ObjectRef<unknown>, HeldPins>();

/** A handle's pins, and the length at which those the GC already released are swept out. */
interface HeldPins {
  pins: ViewPin[];
  sweepAt: number;
}

/**
 * @internal Records that get() of `ref` returned views pinning `pin`: ref.release() releases it.
 * (For a handle released while that get ran, only the views' collection does.)
 */
export function holdViewPin(ref: ObjectRef<unknown>, pin: ViewPin): void {
  const held = viewPins.get(ref);
  if (!held) {
    viewPins.set(ref, { pins: [pin], sweepAt: 8 });
    return;
  }
  const { pins } = held;
  if (pins.length >= held.sweepAt) {
    // Pins the GC already dropped (views collected) go, so a long-lived ref read in a loop
    // stays small; the next sweep waits until the list has doubled, so a loop whose views are
    // all still alive costs amortized O(1) per get, not a walk of every pin.
    let live = 0;
    for (const p of pins) if (!p.released) pins[live++] = p;
    pins.length = live;
    held.sweepAt = Math.max(8, live * 2);
  }
  pins.push(pin);
}

function releaseViewPins(ref: ObjectRef<unknown>): void {
  const held = viewPins.get(ref);
  if (!held) return;
  viewPins.delete(ref);
  for (const p of held.pins) p.release();
}

/** Options of ObjectRef.release(). */
export interface ReleaseOptions {
  /**
   * Keep the views of values get() of this handle returned valid (their pins go when they are
   * garbage-collected) instead of unpinning them now. Default false.
   */
  keepViews?: boolean;
}

/** Set while newUntrackedRef runs: the ref's maker counts it itself. */
let untracked = false;

/**
 * @internal A ref whose maker records it (a task's return, whose owner entry is made with
 * it): the tracker's onCreate, a lookup that would find nothing, is skipped.
 */
export function newUntrackedRef<T>(id: Uint8Array): ObjectRef<T> {
  untracked = true;
  try {
    return new ObjectRef<T>(id);
  } finally {
    untracked = false;
  }
}

// Refs are views into shared slabs rather than each owning a 28-byte
// ArrayBuffer: a ref then costs one object instead of three (a million queued
// tasks hold a million refs).
//
// Each ref is registered with the finalizer under a number (its slab's and its
// slot's), with no unregister token: a token costs an entry in the registry's
// hash table per ref. The finalizer reads the id back from the slab, which the
// table below keeps until every ref cut from it has been collected; release()
// marks the slot instead of unregistering, and the finalizer skips marked slots.
const REFS_PER_SLAB = 256;

interface Slab {
  readonly no: number;
  readonly buf: ArrayBuffer;
  /** Slots whose ref was released by hand (made on the first release). */
  released: Uint8Array | undefined;
  /** Refs cut from it that were not collected yet. */
  live: number;
}

const slabs = new Map<number, Slab>();
const slabOfBuffer = new WeakMap<ArrayBuffer, Slab>();
/** Set by the first release() in this process. */
let anyReleased = false;
let slab: Slab = { no: -1, buf: new ArrayBuffer(0), released: undefined, live: 0 };
let slabPos = 0;
let nextSlabNo = 0;

const finalizer = new FinalizationRegistry<number>((cell) => {
  const no = Math.floor(cell / REFS_PER_SLAB);
  const s = slabs.get(no);
  if (!s) return;
  const slot = cell - no * REFS_PER_SLAB;
  if (s.released?.[slot] !== 1) {
    const hex = Buffer.from(s.buf, slot * OBJECT_ID_SIZE, OBJECT_ID_SIZE).toString('hex');
    tracker?.onRelease(hex);
  }
  if (--s.live === 0 && s !== slab) slabs.delete(no);
});

/**
 * A reference to an object in the cluster: a task's result, an actor call's, or a `put` value.
 * `get(ref)` reads the value; passed to a task, it is resolved there. The object lives while a
 * ref to it does (docs/memory.md).
 */
export class ObjectRef<T = unknown> extends Uint8Array {
  /** Phantom: makes ObjectRef<number> and ObjectRef<string> different types. */
  declare readonly [valueType]?: T;
  #hex: string | undefined;

  /** @internal Uint8Array methods that make new arrays (subarray, map, slice) must not make refs. */
  static get [Symbol.species]() {
    return Uint8Array;
  }

  /** @internal Use `sunray.put` or a remote call to make refs. */
  constructor(id: Uint8Array) {
    if (id.length !== OBJECT_ID_SIZE)
      throw new RangeError(`object ids are ${OBJECT_ID_SIZE} bytes, got ${id.length}`);
    if (slabPos === slab.buf.byteLength) newSlab();
    const s = slab;
    const pos = slabPos;
    super(s.buf, pos, OBJECT_ID_SIZE);
    slabPos = pos + OBJECT_ID_SIZE;
    this.set(id);
    if (!untracked) tracker?.onCreate(this);
    s.live++;
    finalizer.register(this, s.no * REFS_PER_SLAB + pos / OBJECT_ID_SIZE);
  }

  /** The id in hex (56 characters). */
  get hex(): string {
    if (this.#hex === undefined)
      this.#hex = Buffer.from(this.buffer, this.byteOffset, OBJECT_ID_SIZE).toString('hex');
    return this.#hex;
  }

  /**
   * The id (hex) of the task that made this object (Ray's ObjectRef.task_id()), as listTasks,
   * getTask and getLog name it; a put() object's is that of the task (or driver) that put it.
   */
  get taskId(): string {
    return this.hex.slice(0, TASK_ID_SIZE * 2);
  }

  /** The id as a Buffer (a copy). */
  get id(): Buffer {
    return Buffer.from(this);
  }

  /**
   * Drops this handle now rather than when it is garbage-collected. Idempotent. It also
   * releases the store pins held by zero-copy views (Buffers, typed arrays) of values that
   * get() of this handle returned in this process: stop using those views first; after
   * release their memory may be reused by other objects (docs/store.md, "Pins and views").
   * With `{ keepViews: true }` those views stay valid, as values outlive refs in Ray: their
   * pins then go when the views are garbage-collected.
   */
  release(opts?: ReleaseOptions): void {
    const s = slabOfBuffer.get(this.buffer as ArrayBuffer);
    if (!s) return; // not made by the constructor (cannot happen)
    const slot = this.byteOffset / OBJECT_ID_SIZE;
    s.released ??= new Uint8Array(REFS_PER_SLAB);
    if (s.released[slot] === 1) return;
    s.released[slot] = 1;
    anyReleased = true;
    if (opts?.keepViews) viewPins.delete(this);
    else releaseViewPins(this);
    tracker?.onRelease(this.hex);
  }

  /** Whether release() was called on this handle (get() and wait() of it then fail at once). */
  get released(): boolean {
    // Asked on every get(): programs that never release pay nothing for the lookup.
    if (!anyReleased) return false;
    return slabOfBuffer.get(this.buffer as ArrayBuffer)?.released?.[this.byteOffset / OBJECT_ID_SIZE] === 1;
  }

  /**
   * As release(): `using ref = sunray.put(x)` drops the handle, and the pins of the views
   * get() of it returned, at the end of the block.
   */
  [Symbol.dispose](): void {
    this.release();
  }

  override toString(): string {
    return `ObjectRef(${this.hex})`;
  }

  /** 'ObjectRef(<hex>)', so a ref in logged JSON says what it is. */
  toJSON(): string {
    return this.toString();
  }

  /** What console.log and util.inspect show: 'ObjectRef(<hex>)'. */
  [inspect.custom](): string {
    return this.toString();
  }
}

function newSlab(): void {
  const old = slab;
  slab = {
    no: nextSlabNo++,
    buf: new ArrayBuffer(OBJECT_ID_SIZE * REFS_PER_SLAB),
    released: undefined,
    live: 0,
  };
  slabPos = 0;
  slabs.set(slab.no, slab);
  slabOfBuffer.set(slab.buf, slab);
  // A full slab whose refs were all collected already goes now (the finalizer kept it as current).
  if (old.live === 0) slabs.delete(old.no);
}

export function isObjectRef(x: unknown): x is ObjectRef<unknown> {
  return x instanceof ObjectRef;
}
