// A small binary writer/reader for the runtime's own messages. Task specs and
// replies cross the rings many thousands of times a second, so they are packed
// by hand: fixed-width fields, length-prefixed strings and byte runs.
//
// Strings are UTF-8 with a u32 byte count. UTF-8 cannot hold a lone surrogate
// (a method named '\ud800' would arrive as '\ufffd'), so a string that is not
// well-formed UTF-16 goes as UTF-16LE instead, marked by the count's top bit:
// every JS string arrives as it was sent.

const utf8 = new TextEncoder();
/** Set in a string's length prefix: its bytes are UTF-16LE, not UTF-8. */
const UTF16_FLAG = 0x80000000;

/** Whether s survives UTF-8 (String.prototype.isWellFormed; TypeScript's ES2023 lib lacks it). */
function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** A string's bytes with their length prefix, in the form Reader.str reads. */
function encodeString(s: string): Buffer {
  if (wellFormed(s)) {
    const n = Buffer.byteLength(s, 'utf8');
    const b = Buffer.allocUnsafe(4 + n);
    b.writeUInt32LE(n, 0);
    b.write(s, 4, 'utf8');
    return b;
  }
  const b = Buffer.allocUnsafe(4 + s.length * 2);
  b.writeUInt32LE(s.length * 2 + UTF16_FLAG, 0);
  b.write(s, 4, 'utf16le');
  return b;
}

// The short strings of the hot messages (function ids, names, methods, demands) repeat for
// every task: each is encoded once, with its length prefix, and copied from then on
// (encoding into a fresh view cost ~140 ns a string; the copy ~20).
const SHORT_STRING = 64;
const SHORT_STRINGS_MAX = 4096;
const shortStrings = new Map<string, Buffer>();

function shortStringBytes(s: string): Buffer {
  let b = shortStrings.get(s);
  if (b === undefined) {
    b = encodeString(s);
    if (shortStrings.size >= SHORT_STRINGS_MAX) shortStrings.clear();
    shortStrings.set(s, b);
  }
  return b;
}

export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  i32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32LE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }

  f64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  str(s: string): this {
    if (s.length <= SHORT_STRING) return this.raw(shortStringBytes(s));
    if (!wellFormed(s)) return this.raw(encodeString(s));
    // Worst case 3 bytes per UTF-16 unit.
    this.ensure(4 + s.length * 3);
    const n = utf8.encodeInto(s, this.buf.subarray(this.pos + 4)).written;
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.u32(b.length);
    return this.raw(b);
  }

  /** A latin1 string's bytes (one per character) with no length prefix: an id kept as a string. */
  latin1(s: string): this {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, s.length, 'latin1');
    return this;
  }

  /** Bytes with no length prefix: fixed-size fields such as ids. */
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  get length(): number {
    return this.pos;
  }

  /** Overwrites 4 bytes already written (a length prefix filled in afterwards). */
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, at);
  }

  /** Drops everything written from `at` on. */
  truncate(at: number): void {
    this.pos = Math.min(this.pos, at);
  }

  /** A copy of bytes [from, to) written so far. */
  copyOut(from: number, to: number = this.pos): Buffer {
    return Buffer.from(this.buf.subarray(from, to));
  }

  /** A view of what was written (no copy; the writer must not be reused while it lives). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class Reader {
  pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private end = buf.length,
  ) {
    this.pos = start;
  }

  /** Reads the frame at start..end of the same buffer next (one Reader per batch of frames). */
  reset(start: number, end: number): this {
    this.pos = start;
    this.end = end;
    return this;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new RangeError(
        `truncated message: wanted ${n} bytes at ${this.pos}, have ${this.end - this.pos}`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number; // in bounds: need() checked
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    return this.u8() !== 0;
  }

  str(): string {
    let n = this.u32();
    let encoding: 'utf8' | 'utf16le' = 'utf8';
    if (n >= UTF16_FLAG) {
      n -= UTF16_FLAG;
      encoding = 'utf16le';
    }
    this.need(n);
    // Buffer's own decoder beats TextDecoder for the short strings messages carry.
    const s = n === 0 ? '' : this.buf.toString(encoding, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Steps over n bytes. */
  skip(n: number): this {
    this.need(n);
    this.pos += n;
    return this;
  }

  /** Steps over a length-prefixed string or byte run. */
  skipBytes(): this {
    return this.skip(this.u32() & ~UTF16_FLAG);
  }

  /** Whether the bytes from `from` to the read position are exactly b (no Buffer made). */
  spanEquals(b: Buffer, from: number): boolean {
    return this.pos - from === b.length && b.compare(this.buf, from, this.pos) === 0;
  }

  /** A copy of the bytes from `from` to the read position. */
  copySpan(from: number): Buffer {
    return Buffer.from(this.buf.subarray(from, this.pos));
  }

  /** A view into the message (no copy). */
  bytes(): Buffer {
    const n = this.u32();
    return this.raw(n);
  }

  raw(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** n bytes copied out (the message's buffer may be reused once it is handled). */
  copy(n: number): Buffer {
    this.need(n);
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** n bytes as a latin1 string (one character per byte: ids.ts taskKeyOf). */
  latin1(n: number): string {
    this.need(n);
    const s = this.buf.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.pos;
  }
}
