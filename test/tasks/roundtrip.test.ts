// Data arrives as it was sent: every typed array and DataView, of any size (inline in a
// message, or through the store) and at any offset in its buffer, and every string (lone
// surrogates too), as a task argument, an actor argument, a return value, nested in
// objects, and through put(). Property tests over a real sunray.

import fc from 'fast-check';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 256 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

const echo = sunray.remote((x: unknown) => x);

/** Builds in the worker a view of type over a copy of bytes, at byteOffset of a larger buffer. */
const make = sunray.remote((bytes: Uint8Array, type: string, byteOffset: number, slack: number) => {
  const buf = new ArrayBuffer(byteOffset + bytes.length + slack);
  new Uint8Array(buf, byteOffset).set(bytes);
  if (type === 'Buffer') return Buffer.from(buf, byteOffset, bytes.length);
  if (type === 'DataView') return new DataView(buf, byteOffset, bytes.length);
  const C = (globalThis as any)[type];
  return new C(buf, byteOffset, bytes.length / C.BYTES_PER_ELEMENT);
});

const Echo = sunray.remote(
  class Echo {
    echo(x: unknown) {
      return x;
    }
  },
);

type ViewCtor = { name: string; BYTES_PER_ELEMENT?: number } & (new (
  b: ArrayBuffer,
  o: number,
  l: number,
) => ArrayBufferView);

const viewTypes: ViewCtor[] = [
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
  Buffer as unknown as ViewCtor,
  ...((globalThis as any).Float16Array ? [(globalThis as any).Float16Array as ViewCtor] : []),
] as ViewCtor[];

interface Case {
  type: ViewCtor;
  /** Bytes of the view (a whole number of elements). */
  bytes: Uint8Array;
  /** Elements before the view in its buffer, and bytes after it. */
  offsetElements: number;
  slack: number;
}

const bytesPer = (t: ViewCtor) => (t === DataView || t.name === 'Buffer' ? 1 : t.BYTES_PER_ELEMENT!);

function viewOf(c: Case): ArrayBufferView {
  const per = bytesPer(c.type);
  const off = c.offsetElements * per;
  const buf = new ArrayBuffer(off + c.bytes.length + c.slack);
  new Uint8Array(buf, off).set(c.bytes);
  if (c.type.name === 'Buffer') return Buffer.from(buf, off, c.bytes.length);
  return new c.type(buf, off, c.type === DataView ? c.bytes.length : c.bytes.length / per);
}

/** Sizes around the edges that matter: inline views (< 4 KiB), out of band in a message, the store. */
const KiB = 1024;
const size = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.integer({ min: 4 * KiB - 16, max: 4 * KiB + 16 }),
  fc.integer({ min: 0, max: 300 * KiB }),
  fc.integer({ min: 100 * KiB - 256, max: 100 * KiB + 256 }),
);

const cases: fc.Arbitrary<Case> = fc
  .record({
    type: fc.constantFrom(...viewTypes),
    size,
    seed: fc.integer({ min: 0, max: 255 }),
    offsetElements: fc.integer({ min: 0, max: 9 }),
    slack: fc.integer({ min: 0, max: 15 }),
  })
  .map(({ type, size, seed, offsetElements, slack }) => {
    const per = bytesPer(type);
    const n = Math.floor(size / per) * per;
    // Varied bytes (NaN payloads, negative zero and all): compared byte for byte.
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 131 + seed * 7 + (i >> 8)) & 0xff;
    return { type, bytes, offsetElements, slack };
  });

function expectSame(got: unknown, c: Case, how: string): void {
  const what = `${how}: ${c.type.name} of ${c.bytes.length} bytes at element ${c.offsetElements}`;
  expect(Object.getPrototypeOf(got), what).toBe(c.type.prototype);
  const view = got as ArrayBufferView;
  expect(view.byteLength, what).toBe(c.bytes.length);
  const gotBytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  expect(Buffer.compare(gotBytes, c.bytes), what).toBe(0);
}

const paths = ['task', 'actor', 'return', 'nested', 'put', 'put as argument'] as const;

describe('typed arrays and DataViews', () => {
  test('the issue: a Float64Array of 1000 as a task argument', async () => {
    const v = new Float64Array(1000).map((_, i) => i / 3);
    expect(await sunray.get(echo.remote(v))).toEqual(v);
  });

  test('of every type, size and offset, by every path, arrive identical', async () => {
    const actor = Echo.remote();
    await fc.assert(
      fc.asyncProperty(cases, fc.constantFrom(...paths), async (c, path) => {
        const v = viewOf(c);
        switch (path) {
          case 'task':
            expectSame(await sunray.get(echo.remote(v)), c, path);
            break;
          case 'actor':
            expectSame(await sunray.get(actor.echo.remote(v)), c, path);
            break;
          case 'return':
            expectSame(
              await sunray.get(
                make.remote(c.bytes, c.type.name, c.offsetElements * bytesPer(c.type), c.slack),
              ),
              c,
              path,
            );
            break;
          case 'nested': {
            const out = (await sunray.get(echo.remote({ list: [1, v], map: new Map([['k', { v }]]) }))) as {
              list: unknown[];
              map: Map<string, { v: unknown }>;
            };
            expectSame(out.list[1], c, path);
            expectSame(out.map.get('k')!.v, c, path);
            break;
          }
          case 'put':
            expectSame(await sunray.get(sunray.put(v)), c, path);
            break;
          case 'put as argument':
            // The owner inlines a small put's payload into the task's arguments.
            expectSame(await sunray.get(actor.echo.remote(sunray.put(v))), c, path);
            break;
        }
      }),
      { numRuns: 250 },
    );
    sunray.kill(actor);
  });
});

/** One UTF-16 code unit or code point: lone surrogates of both halves, any BMP unit, astral. */
const unit = fc.oneof(
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
);
const strings = fc.oneof(
  fc.string({ unit, maxLength: 40 }),
  fc.string({ unit, minLength: 1000, maxLength: 1100 }), // both sides of the short-string path
);

describe('strings', () => {
  test('the issue: a lone surrogate through put', async () => {
    expect(await sunray.get(sunray.put('\ud800'))).toBe('\ud800');
  });

  test('any JS string comes back identical through put, as an argument and as a return', async () => {
    const actor = Echo.remote();
    const concat = sunray.remote((a: string, b: string) => a + b);
    await fc.assert(
      fc.asyncProperty(strings, strings, async (a, b) => {
        expect(await sunray.get(sunray.put(a))).toBe(a);
        expect(await sunray.get(echo.remote(a))).toBe(a);
        expect(await sunray.get(actor.echo.remote(b))).toBe(b);
        expect(await sunray.get(concat.remote(a, b))).toBe(a + b);
        expect(await sunray.get(echo.remote({ s: a, list: [b] }))).toEqual({ s: a, list: [b] });
      }),
      { numRuns: 150 },
    );
    sunray.kill(actor);
  });

  test('an actor method named by a lone surrogate can be called', async () => {
    const Odd = sunray.remote(
      class Odd {
        '\udc00x'(s: string) {
          return `${s}!`;
        }
      },
    );
    const a = Odd.remote() as any;
    expect(await sunray.get(a['\udc00x'].remote('\ud800'))).toBe('\ud800!');
    sunray.kill(a);
  });
});
