// How values cross processes. Node's v8 serializer does the structure; three
// things are added through its host-object hook, which v8 calls for every
// ArrayBufferView inside a value:
//   - ObjectRefs (which are Uint8Arrays, see object-ref.ts) are written as ids
//     and collected, so the owner learns which refs escaped;
//   - other registered host types (actor handles) likewise;
//   - large typed arrays and Buffers are written out of band: the bytes go
//     once into a 64-byte-aligned section after the skeleton, and the reader
//     gets views over those sections (zero copy when the payload is a view
//     into the shared-memory store). Sections are aligned relative to the
//     payload's start only: a payload that sits at an odd place in memory
//     (inside a message) gets copies of the sections its views cannot
//     start at (a Float64Array needs an offset that is a multiple of 8).
//
// Payload layout (little endian):
//   u32 magic 'SRV1' | u32 sections | f64 skeletonLength | sections x (f64 offset, f64 length)
//   skeleton (v8 format) | padding to 64 | section 0 | padding | section 1 ...
// Primitives (the usual result of a small task) skip v8, whose serializer and
// deserializer cost microseconds to set up:
//   u32 magic 'SRP1' | u8 kind | 3 bytes padding | bytes (f64, or a UTF-8 string)
// UTF-8 cannot hold a lone surrogate ('\ud800'): such strings take the v8 path,
// which keeps every UTF-16 code unit.
import v8 from 'node:v8';
import { native } from './addon.js';
import { SerializationError } from './errors.js';
import { OBJECT_ID_SIZE } from './ids.js';
import { ObjectRef } from './object-ref.js';

const MAGIC = 0x31565253; // 'SRV1'
const PRIM_MAGIC = 0x31505253; // 'SRP1'
const PRIM_HEADER = 8;
/** Longer strings take the v8 path (which may store them as Latin-1, half the size). */
const PRIM_STRING_MAX = 1024;

enum Prim {
  Undefined = 0,
  Null = 1,
  True = 2,
  False = 3,
  Number = 4,
  String = 5,
}

const EMPTY = Buffer.alloc(0);
const NO_REFS: readonly ObjectRef<unknown>[] = Object.freeze([]);
const NO_SECTIONS: readonly ArrayBufferView[] = Object.freeze([]);
const ALIGN = 64;
/** Views at least this large travel out of band. */
export const OUT_OF_BAND_THRESHOLD = 4096;
/** Sections this large are copied natively (native.copyBytes: an untouched source is mapped in one call). */
const BULK_COPY_BYTES = 1024 * 1024;

enum HostTag {
  InlineView = 0,
  OutOfBandView = 1,
  Ref = 2,
  Custom = 3,
}

type ViewCtor = new (b: ArrayBufferLike, o: number, l: number) => ArrayBufferView;

// Index <-> constructor for typed arrays; Buffer first so it wins over Uint8Array. Every
// process of a session runs the same Node, so Float16Array (where Node has it) is last
// and the indices before it never move.
const viewTypes: ReadonlyArray<Function> = [
  Buffer,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
  ...((globalThis as { Float16Array?: Function }).Float16Array
    ? [(globalThis as unknown as { Float16Array: Function }).Float16Array]
    : []),
];
/** Bytes per element of each view type: where in a buffer a view of it may start. */
const viewAlign: readonly number[] = viewTypes.map(
  (C) => (C as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1,
);

function viewTypeIndex(view: ArrayBufferView): number {
  for (let i = 0; i < viewTypes.length; i++) {
    const C = viewTypes[i];
    if (C && view instanceof C) return i;
  }
  throw new SerializationError(`unsupported ArrayBufferView type ${view.constructor.name}`);
}

/** Each zero-copy view read from a payload, to the payload it was read from (see OutOfBandView). */
const viewOwners = new WeakMap<ArrayBufferView, Uint8Array>();

function makeView(type: number, buf: ArrayBufferLike, offset: number, byteLength: number): ArrayBufferView {
  const Ctor = viewTypes[type];
  if (!Ctor) throw new SerializationError(`corrupt payload: unknown view type ${type}`);
  if (Ctor === Buffer) return Buffer.from(buf as ArrayBuffer, offset, byteLength);
  if (Ctor === DataView) return new DataView(buf as ArrayBuffer, offset, byteLength);
  const bytesPer = viewAlign[type] ?? 1;
  if (byteLength % bytesPer !== 0) {
    throw new SerializationError(
      `corrupt payload: ${byteLength} bytes are not a whole number of ${Ctor.name} elements`,
    );
  }
  return new (Ctor as ViewCtor)(buf, offset, byteLength / bytesPer);
}

/** A host type other than refs and views (actor handles register one). */
export interface HostType<T> {
  name: string;
  test(x: unknown): x is T;
  write(x: T): Buffer;
  read(bytes: Buffer): T;
}
const hostTypes: HostType<unknown>[] = [];
export function registerHostType<T>(t: HostType<T>): void {
  if (!hostTypes.some((h) => h.name === t.name)) hostTypes.push(t);
}

class Serializer extends v8.DefaultSerializer {
  readonly sections: ArrayBufferView[] = [];
  readonly refs: ObjectRef<unknown>[] = [];

  _writeHostObject(obj: object): void {
    if (obj instanceof ObjectRef) {
      this.writeUint32(HostTag.Ref);
      this.writeRawBytes(obj);
      this.refs.push(obj);
      return;
    }
    for (const h of hostTypes) {
      if (h.test(obj)) {
        const bytes = h.write(obj);
        const name = Buffer.from(h.name);
        this.writeUint32(HostTag.Custom);
        this.writeUint32(name.length);
        this.writeRawBytes(name);
        this.writeUint32(bytes.length);
        this.writeRawBytes(bytes);
        return;
      }
    }
    if (!ArrayBuffer.isView(obj)) {
      throw new SerializationError(`cannot serialize a ${obj.constructor?.name ?? 'host object'}`);
    }
    const type = viewTypeIndex(obj);
    if (obj.byteLength >= OUT_OF_BAND_THRESHOLD) {
      this.writeUint32(HostTag.OutOfBandView);
      this.writeUint32(type);
      this.writeUint32(this.sections.length);
      this.sections.push(obj);
      return;
    }
    this.writeUint32(HostTag.InlineView);
    this.writeUint32(type);
    this.writeUint32(obj.byteLength);
    this.writeRawBytes(new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength));
  }
}

class Deserializer extends v8.DefaultDeserializer {
  constructor(
    skeleton: Buffer,
    private readonly payload: Buffer,
    private readonly sections: Array<[number, number]>,
    private readonly onRef: (ref: ObjectRef<unknown>) => void,
  ) {
    super(skeleton);
  }

  _readHostObject(): unknown {
    const tag = this.readUint32();
    switch (tag) {
      case HostTag.Ref: {
        const ref = new ObjectRef(Buffer.from(this.readRawBytes(OBJECT_ID_SIZE) as unknown as Uint8Array));
        this.onRef(ref);
        return ref;
      }
      case HostTag.Custom: {
        const nameLength = this.readUint32();
        const name = Buffer.from(this.readRawBytes(nameLength) as unknown as Uint8Array).toString();
        const h = hostTypes.find((t) => t.name === name);
        const n = this.readUint32();
        const bytes = Buffer.from(this.readRawBytes(n) as unknown as Uint8Array);
        if (!h)
          throw new SerializationError(
            `cannot read a ${name}: that kind of value is not known in this process`,
          );
        return h.read(bytes);
      }
      case HostTag.OutOfBandView: {
        const type = this.readUint32();
        const section = this.sections[this.readUint32()];
        if (!section) throw new SerializationError('corrupt payload: bad section index');
        const [off, len] = section;
        const at = this.payload.byteOffset + off;
        if (at % (viewAlign[type] ?? 1) === 0) {
          const view = makeView(type, this.payload.buffer, at, len);
          // The store pins an object until its payload Buffer is collected; the view is a new
          // object over the same memory, so it keeps the payload (and with it the pin) alive.
          viewOwners.set(view, this.payload);
          return view;
        }
        // The payload sits at an offset this view type cannot start at (an inline payload
        // inside a message): the view gets its own copy rather than a view of the payload.
        const copy = new ArrayBuffer(len);
        new Uint8Array(copy).set(this.payload.subarray(off, off + len));
        return makeView(type, copy, 0, len);
      }
      case HostTag.InlineView: {
        const type = this.readUint32();
        const n = this.readUint32();
        // Copy into a fresh, aligned buffer: inline views are small.
        const copy = new ArrayBuffer(n);
        new Uint8Array(copy).set(this.readRawBytes(n) as unknown as Uint8Array);
        return makeView(type, copy, 0, n);
      }
      default:
        throw new SerializationError(`corrupt payload: unknown host tag ${tag}`);
    }
  }
}

/** A value serialized but not yet laid out: lets a caller size the store object before writing. */
export interface Encoded {
  /** Set for primitives: skeleton then holds their bytes, laid out in the 'SRP1' form. */
  readonly prim?: Prim;
  readonly skeleton: Buffer;
  readonly sections: readonly ArrayBufferView[];
  readonly refs: readonly ObjectRef<unknown>[];
  /** Total payload bytes. */
  readonly size: number;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function headerSize(sections: number): number {
  return 16 + sections * 16;
}

/** String.prototype.isWellFormed (Node 20 has it; TypeScript's ES2023 lib does not declare it). */
type WellFormed = { isWellFormed(): boolean };

function encodePrimitive(value: unknown): Encoded | undefined {
  let prim: Prim;
  let bytes = EMPTY;
  switch (typeof value) {
    case 'undefined':
      prim = Prim.Undefined;
      break;
    case 'boolean':
      prim = value ? Prim.True : Prim.False;
      break;
    case 'number':
      prim = Prim.Number;
      bytes = Buffer.allocUnsafe(8);
      bytes.writeDoubleLE(value, 0);
      break;
    case 'string':
      // A lone surrogate would come back as U+FFFD from UTF-8: such strings take the v8 path.
      if (value.length > PRIM_STRING_MAX || !(value as unknown as WellFormed).isWellFormed())
        return undefined;
      prim = Prim.String;
      bytes = Buffer.from(value, 'utf8');
      break;
    case 'object':
      if (value !== null) return undefined;
      prim = Prim.Null;
      break;
    default:
      return undefined;
  }
  return { prim, skeleton: bytes, sections: NO_SECTIONS, refs: NO_REFS, size: PRIM_HEADER + bytes.length };
}

function decodePrimitive(payload: Buffer): unknown {
  if (payload.length < PRIM_HEADER) throw new SerializationError('corrupt payload: truncated primitive');
  switch (payload[4] as Prim) {
    case Prim.Undefined:
      return undefined;
    case Prim.Null:
      return null;
    case Prim.True:
      return true;
    case Prim.False:
      return false;
    case Prim.Number:
      if (payload.length < PRIM_HEADER + 8) throw new SerializationError('corrupt payload: truncated number');
      return payload.readDoubleLE(PRIM_HEADER);
    case Prim.String:
      return payload.toString('utf8', PRIM_HEADER);
    default:
      throw new SerializationError(`corrupt payload: unknown primitive kind ${payload[4]}`);
  }
}

export function encode(value: unknown): Encoded {
  const prim = encodePrimitive(value);
  if (prim) return prim;
  const s = new Serializer();
  s.writeHeader();
  try {
    s.writeValue(value);
  } catch (err) {
    throw explainSerializationFailure(value, err);
  }
  const skeleton = s.releaseBuffer();
  let size = headerSize(s.sections.length) + skeleton.length;
  for (const v of s.sections) size = align(size) + v.byteLength;
  return { skeleton, sections: s.sections, refs: s.refs, size };
}

/** Lays an encoded value out into target (at least enc.size bytes, ideally 64-byte aligned). */
export function writeEncoded(enc: Encoded, target: Uint8Array): void {
  const view = Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  if (enc.prim !== undefined) {
    view.writeUInt32LE(PRIM_MAGIC, 0);
    view.writeUInt32LE(enc.prim, 4);
    view.set(enc.skeleton, PRIM_HEADER);
    return;
  }
  view.writeUInt32LE(MAGIC, 0);
  view.writeUInt32LE(enc.sections.length, 4);
  view.writeDoubleLE(enc.skeleton.length, 8);
  let pos = headerSize(enc.sections.length);
  view.set(enc.skeleton, pos);
  pos += enc.skeleton.length;
  enc.sections.forEach((sec, i) => {
    pos = align(pos);
    view.writeDoubleLE(pos, 16 + i * 16);
    view.writeDoubleLE(sec.byteLength, 24 + i * 16);
    const bytes = new Uint8Array(sec.buffer, sec.byteOffset, sec.byteLength);
    if (sec.byteLength >= BULK_COPY_BYTES) native.copyBytes(view, pos, bytes);
    else view.set(bytes, pos);
    pos += sec.byteLength;
  });
}

export function encodeToBuffer(enc: Encoded): Buffer {
  // Out-of-band sections only stay aligned if the buffer itself is; allocate
  // from a fresh ArrayBuffer (offset 0) rather than Node's shared pool.
  const out =
    enc.sections.length === 0 ? Buffer.allocUnsafe(enc.size) : Buffer.from(new ArrayBuffer(enc.size));
  writeEncoded(enc, out);
  return out;
}

export function serialize(value: unknown): Buffer {
  return encodeToBuffer(encode(value));
}

/**
 * Whether values read from `payload` can be views into it (it holds out-of-band sections):
 * only then must the memory under it stay pinned while they live. Primitives never are.
 */
export function hasOutOfBandSections(payload: Buffer): boolean {
  return payload.length >= 16 && payload.readUInt32LE(0) === MAGIC && payload.readUInt32LE(4) > 0;
}

/**
 * Reads a payload. Out-of-band views point into `payload` itself: when it is a
 * view of the shared-memory store, nothing is copied.
 */
export function deserialize(payload: Buffer, onRef: (ref: ObjectRef<unknown>) => void = () => {}): unknown {
  if (payload.length >= PRIM_HEADER && payload.readUInt32LE(0) === PRIM_MAGIC)
    return decodePrimitive(payload);
  if (payload.length < 16 || payload.readUInt32LE(0) !== MAGIC) {
    throw new SerializationError('corrupt payload: bad magic (not a sunray value)');
  }
  const n = payload.readUInt32LE(4);
  const skeletonLength = payload.readDoubleLE(8);
  const start = headerSize(n);
  if (start + skeletonLength > payload.length) throw new SerializationError('corrupt payload: truncated');
  const sections: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const off = payload.readDoubleLE(16 + i * 16);
    const len = payload.readDoubleLE(24 + i * 16);
    if (off + len > payload.length) throw new SerializationError('corrupt payload: section out of range');
    sections.push([off, len]);
  }
  const d = new Deserializer(payload.subarray(start, start + skeletonLength), payload, sections, onRef);
  d.readHeader();
  return d.readValue();
}

/** Finds where in `value` the unserializable part is, to name it in the error. */
function explainSerializationFailure(value: unknown, err: unknown): SerializationError {
  if (err instanceof SerializationError) return err;
  const reason = (err instanceof Error ? err.message : String(err)).replace(/\.+$/, '');
  const path = findUnserializable(value, 'value', new Set(), 0);
  const where = path ? ` at ${path.path} (${path.what})` : '';
  return new SerializationError(
    `cannot send ${describe(value)} to another process${where}: ${reason}. ` +
      'Values cross processes by structured clone: plain data, arrays, Maps, Sets, Dates, typed arrays, ' +
      'errors and ObjectRefs. Pass functions as remote functions, and recreate sockets or handles inside the task.',
    path?.path,
    { cause: err },
  );
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') {
    // A generator's constructor has no name: its tag says what it is ('Generator').
    const name = (v as object).constructor?.name || Object.prototype.toString.call(v).slice(8, -1);
    return `a value of type ${name}`;
  }
  return `a ${typeof v}`;
}

function cloneable(v: unknown): boolean {
  try {
    const s = new Serializer();
    s.writeHeader();
    s.writeValue(v);
    return true;
  } catch {
    return false;
  }
}

function findUnserializable(
  v: unknown,
  path: string,
  seen: Set<unknown>,
  depth: number,
): { path: string; what: string } | undefined {
  if (typeof v === 'function') return { path, what: `function ${(v as Function).name || '(anonymous)'}` };
  if (typeof v === 'symbol') return { path, what: 'symbol' };
  if (v === null || typeof v !== 'object' || seen.has(v) || depth > 64) return undefined;
  seen.add(v);
  const entries: Array<[string, unknown]> =
    v instanceof Map
      ? [...v.entries()].map(([k, val], i) => [
          `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : i})`,
          val,
        ])
      : v instanceof Set
        ? [...v].map((val, i) => [`${path}[set item ${i}]`, val])
        : Object.keys(v).map((k) => [
            Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`,
            (v as Record<string, unknown>)[k],
          ]);
  for (const [p, child] of entries) {
    const found = findUnserializable(child, p, seen, depth + 1);
    if (found) return found;
  }
  if (!cloneable(v)) return { path, what: describe(v) };
  return undefined;
}
