// Which values read from the store keep its memory pinned, and what a handle read in a
// loop costs: only payloads with out-of-band sections (views) pin; primitives never do;
// a handle whose views all stay alive pays amortized O(1) per get to record their pins.
import { describe, expect, test } from 'vitest';
import { holdViewPin, ObjectRef } from '../../lib/base/object-ref.js';
import { hasOutOfBandSections, serialize } from '../../lib/base/serialization.js';

describe('hasOutOfBandSections', () => {
  test('primitives, whose header holds a kind where sections would be counted, never pin', () => {
    for (const v of [0, 7, -1.5, 'x', '', true, false, null, undefined]) {
      expect(hasOutOfBandSections(serialize(v))).toBe(false);
    }
  });

  test('plain values without buffers do not; a value holding a large buffer does', () => {
    expect(hasOutOfBandSections(serialize({ a: 1, b: 'two', c: [3] }))).toBe(false);
    expect(hasOutOfBandSections(serialize('s'.repeat(100_000)))).toBe(false);
    expect(hasOutOfBandSections(serialize({ data: Buffer.alloc(1 << 20, 1) }))).toBe(true);
    expect(hasOutOfBandSections(serialize(new Float64Array(1 << 17)))).toBe(true);
  });

  test('short or foreign payloads are not taken for sections', () => {
    expect(hasOutOfBandSections(Buffer.alloc(0))).toBe(false);
    expect(hasOutOfBandSections(Buffer.alloc(64, 0xff))).toBe(false);
  });
});

describe('holdViewPin', () => {
  /** A pin that counts how often its state is looked at. */
  function countingPins(n: number, released: (i: number) => boolean) {
    let looks = 0;
    let freed = 0;
    const pins = Array.from({ length: n }, (_, i) => ({
      get released() {
        looks++;
        return released(i);
      },
      release() {
        freed++;
      },
    }));
    return { pins, looks: () => looks, freed: () => freed };
  }

  test('a handle whose views all stay alive: sweeps stay linear in the number of gets', () => {
    const ref = new ObjectRef(Buffer.alloc(28, 1));
    const n = 100_000;
    const c = countingPins(n, () => false);
    for (const p of c.pins) holdViewPin(ref, p);
    // Each sweep walks the list and the next waits until it has doubled: under 2n looks.
    expect(c.looks()).toBeLessThan(2 * n);
    ref.release();
    expect(c.freed()).toBe(n);
  });

  test('pins whose views were collected are swept out, live ones kept until release()', () => {
    const ref = new ObjectRef(Buffer.alloc(28, 2));
    const c = countingPins(1000, (i) => i % 10 !== 0); // one in ten still alive
    for (const p of c.pins) holdViewPin(ref, p);
    ref.release();
    // Released ones were dropped at sweeps; the ones added since the last sweep are all
    // released too, so fewer than the 1000 are released again, and every live one is.
    expect(c.freed()).toBeLessThan(1000);
    expect(c.freed()).toBeGreaterThanOrEqual(100);
  });
});
