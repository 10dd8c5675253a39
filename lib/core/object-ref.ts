// ObjectRef: a future for a value in the cluster. It is a Uint8Array holding
// its 28-byte id, which makes it a "host object" to Node's v8 serializer: a
// ref nested anywhere inside a value is found by the serializer itself, with
// no extra walk over the value (see serialization.ts).
import { inspect } from 'node:util';
import { OBJECT_ID_SIZE } from './ids.js';

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

const finalizer = new FinalizationRegistry<string>((hex) => tracker?.onRelease(hex));

// Refs are views into shared slabs rather than each owning a 28-byte
// ArrayBuffer: a ref then costs one object instead of three (a million queued
// tasks hold a million refs). A slab lives while any of its refs does.
const REFS_PER_SLAB = 256;
let slab = new ArrayBuffer(0);
let slabPos = 0;

export class ObjectRef<T = unknown> extends Uint8Array {
  /** Phantom: makes ObjectRef<number> and ObjectRef<string> different types. */
  declare readonly [valueType]?: T;
  #hex: string | undefined;
  #released = false;

  // Uint8Array methods that make new arrays (subarray, map, slice) must not make refs.
  static get [Symbol.species]() {
    return Uint8Array;
  }

  /** @internal Use `sunray.put` or a remote call to make refs. */
  constructor(id: Uint8Array) {
    if (id.length !== OBJECT_ID_SIZE)
      throw new RangeError(`object ids are ${OBJECT_ID_SIZE} bytes, got ${id.length}`);
    if (slabPos + OBJECT_ID_SIZE > slab.byteLength) {
      slab = new ArrayBuffer(OBJECT_ID_SIZE * REFS_PER_SLAB);
      slabPos = 0;
    }
    super(slab, slabPos, OBJECT_ID_SIZE);
    slabPos += OBJECT_ID_SIZE;
    this.set(id);
    tracker?.onCreate(this);
    finalizer.register(this, this.hex, this);
  }

  /** The id in hex (56 characters). */
  get hex(): string {
    if (this.#hex === undefined)
      this.#hex = Buffer.from(this.buffer, this.byteOffset, OBJECT_ID_SIZE).toString('hex');
    return this.#hex;
  }

  /** The id as a Buffer (a copy). */
  get id(): Buffer {
    return Buffer.from(this);
  }

  /** Drops this handle now rather than when it is garbage-collected. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    finalizer.unregister(this);
    tracker?.onRelease(this.hex);
  }

  get released(): boolean {
    return this.#released;
  }

  [Symbol.dispose](): void {
    this.release();
  }

  override toString(): string {
    return `ObjectRef(${this.hex})`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export function isObjectRef(x: unknown): x is ObjectRef<unknown> {
  return x instanceof ObjectRef;
}
