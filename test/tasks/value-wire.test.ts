// How values are laid out on the wire, without processes: a payload read at any place in
// memory gives correct typed arrays (copies where a view could not start there, views
// where it can); task arguments keep large payloads aligned so that workers read their
// typed arrays in place; strings keep every UTF-16 code unit, in values and in messages.
import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../lib/base/codec.js';
import { IdGenerator, OBJECT_ID_SIZE } from '../../lib/base/ids.js';
import { deserialize, OUT_OF_BAND_THRESHOLD, serialize } from '../../lib/base/serialization.js';
import {
  ArgKind,
  CallSpec,
  decodeArgs,
  encodeArgs,
  readSpec,
  type SpecBase,
  TaskKind,
  type WireArg,
  writeSpec,
} from '../../lib/protocol/spec.js';

/** A copy of payload at byte `at` of a fresh buffer: where a message would put it. */
function placedAt(payload: Buffer, at: number): Buffer {
  const out = Buffer.from(new ArrayBuffer(at + payload.length + 3), at, payload.length);
  out.set(payload);
  return out;
}

const wide = () => new Float64Array(2000).map((_, i) => i * 1.5 - 7);

describe('out-of-band typed arrays', () => {
  it('read correctly wherever the payload sits; in place where the view can start there', () => {
    const value = { f64: wide(), i32: new Int32Array(3000).map((_, i) => -i), u8: Buffer.alloc(5000, 7) };
    expect(value.f64.byteLength).toBeGreaterThanOrEqual(OUT_OF_BAND_THRESHOLD);
    const payload = serialize(value);
    for (let at = 0; at < 16; at++) {
      const placed = placedAt(payload, at);
      const back = deserialize(placed) as typeof value;
      expect(back.f64, `at ${at}`).toEqual(value.f64);
      expect(back.i32, `at ${at}`).toEqual(value.i32);
      expect(back.u8.equals(value.u8), `at ${at}`).toBe(true);
      // Bytes need no alignment: always a view of the payload (zero copy).
      expect(back.u8.buffer).toBe(placed.buffer);
      // Wider elements: a view of the payload only where they can start.
      expect(back.f64.buffer === placed.buffer, `at ${at}`).toBe(at % 8 === 0);
      expect(back.i32.buffer === placed.buffer, `at ${at}`).toBe(at % 4 === 0);
    }
  });

  it('a corrupt length that is no whole number of elements is a SerializationError, not a RangeError', () => {
    const payload = Buffer.from(serialize(wide()));
    // The first section's length (header: magic, count, skeleton length, then offset and length).
    payload.writeDoubleLE(8 * 2000 - 3, 24);
    expect(() => deserialize(payload)).toThrow(/not a whole number of Float64Array elements/);
  });
});

const base: SpecBase = {
  kind: TaskKind.Task,
  fnId: 'f',
  name: 'echo',
  numReturns: 1,
  demand: { CPU: 1 },
  maxRetries: 3,
  retryExceptions: false,
  actorId: Buffer.alloc(16),
  method: '',
  maxConcurrency: 1,
  strategy: '',
  retryOn: '',
  concurrencyGroup: '',
  stream: '',
  runtimeEnv: '',
};

describe('task arguments', () => {
  const small = serialize({ n: 1 });
  const large = serialize(wide());
  const id = Buffer.alloc(OBJECT_ID_SIZE, 9);
  /** Arguments whose first payload is `lead` bytes long: the large one after it lands anywhere. */
  const argsWith = (lead: number): WireArg[] => [
    { kind: ArgKind.Value, payload: serialize('x'.repeat(lead)) },
    { kind: ArgKind.Value, payload: large },
    { kind: ArgKind.StoreRef, id },
    { kind: ArgKind.Value, payload: small },
    { kind: ArgKind.Value, payload: large },
  ];

  it.for([0, 1, 2, 3, 4, 5, 6, 7])(
    'decode to the payloads encoded, large ones 8-byte aligned (lead %i)',
    (lead) => {
      const args = argsWith(lead);
      const wire = encodeArgs(args);
      const back = decodeArgs(wire);
      expect(back.map((a) => a.kind)).toEqual(args.map((a) => a.kind));
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        const b = back[i]!;
        if (a.kind === ArgKind.Value && b.kind === ArgKind.Value) {
          expect(b.payload.equals(a.payload)).toBe(true);
          if (a.payload.length >= OUT_OF_BAND_THRESHOLD)
            expect((b.payload.byteOffset - wire.byteOffset) % 8).toBe(0);
        } else if (b.kind === ArgKind.StoreRef) expect(b.id.equals(id)).toBe(true);
      }
    },
  );

  it('small arguments are packed as before: no padding', () => {
    const wire = encodeArgs([
      { kind: ArgKind.Value, payload: small },
      { kind: ArgKind.Value, payload: small },
    ]);
    expect(wire.length).toBe(4 + 2 * (1 + 4 + small.length));
  });

  it.for([0, 1, 2, 3, 4, 5, 6, 7])(
    'a worker reads a large typed array argument in place (lead %i)',
    (lead) => {
      for (let skew = 0; skew < 8; skew++) {
        const args = argsWith(lead);
        const spec = new CallSpec(base, new IdGenerator(Buffer.alloc(16, 1)).nextTaskKey(), encodeArgs(args));
        const w = new Writer(64);
        for (let i = 0; i < skew; i++) w.u8(0);
        writeSpec(w, spec);
        const frame = Buffer.from(w.finish());
        const r = new Reader(frame, skew);
        const got = readSpec(r);
        const wire = decodeArgs(got.args);
        const arg = wire[1]!;
        if (arg.kind !== ArgKind.Value) throw new Error('expected a value');
        const f64 = deserialize(arg.payload) as Float64Array;
        expect(f64).toEqual(wide());
        expect(f64.buffer, `skew ${skew}`).toBe(got.args.buffer); // a view, not a copy
      }
    },
  );
});

describe('strings', () => {
  const odd = ['\ud800', '\udfff', 'a\ud800b', '\udc00\ud800', '😀\ud83d', `${'x'.repeat(80)}\ud800`];

  it('any string survives a value payload, short ones still on the fast path', () => {
    for (const s of [...odd, '', 'héllo', '😀', 'x'.repeat(2000)]) expect(deserialize(serialize(s))).toBe(s);
    // Well-formed short strings keep the primitive form ('SRP1'), with no v8 serializer.
    expect(serialize('héllo').readUInt32LE(0)).toBe(0x31505253);
  });

  it('message strings (names, methods) keep lone surrogates, and skip over correctly', () => {
    const w = new Writer(16);
    for (const s of [...odd, 'plain', '']) w.str(s).u32(0xabcdef);
    const r = new Reader(Buffer.from(w.finish()));
    for (const s of [...odd, 'plain', '']) {
      expect(r.str()).toBe(s);
      expect(r.u32()).toBe(0xabcdef);
    }
    const skip = new Reader(Buffer.from(new Writer().str('\ud800 long enough? no').str('ok').finish()));
    expect(skip.skipBytes().str()).toBe('ok');
  });
});
