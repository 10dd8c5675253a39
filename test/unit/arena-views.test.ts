// ArenaViews picks the window a view is cut from: one window when the mapping fits Node's
// Buffer limit, overlapping windows when it does not, a window of its own for an object
// that straddles a window's end. A fake handle records the windows asked for.
import { expect, test } from 'vitest';
import { ArenaViews } from '../../lib/store/arena-views.js';

function fakeHandle() {
  const asked: [number, number][] = [];
  return {
    asked,
    window(offset: number, length: number): ArrayBuffer {
      asked.push([offset, length]);
      return new ArrayBuffer(length);
    },
  };
}

test('a mapping within the limit is one window, made once', () => {
  const h = fakeHandle();
  const v = new ArenaViews(h, 1000, 4096);
  expect(v.view(10, 20).length).toBe(20);
  expect(v.view(900, 100).byteOffset).toBe(900);
  expect(h.asked).toEqual([[0, 1000]]);
});

test('a mapping over the limit is seen through windows half the limit apart', () => {
  const h = fakeHandle();
  const v = new ArenaViews(h, 10_000, 4000);
  // Window 1 starts at 2000 and covers [2000, 6000).
  const a = v.view(2500, 3000);
  expect([a.byteOffset, a.length]).toEqual([500, 3000]);
  // The last window is cut at the mapping's end.
  v.view(9000, 1000);
  expect(h.asked).toEqual([
    [2000, 4000],
    [8000, 2000],
  ]);
  // Reused, not made again.
  v.view(2000, 1);
  expect(h.asked.length).toBe(2);
});

test('an object straddling its window end gets a window of its own', () => {
  const h = fakeHandle();
  const v = new ArenaViews(h, 10_000, 4000);
  const big = v.view(3000, 3500); // window 1 covers [2000, 6000): 6500 is past it
  expect([big.byteOffset, big.length]).toEqual([0, 3500]);
  expect(h.asked).toEqual([[3000, 3500]]);
});
