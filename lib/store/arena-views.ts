// Views over the arena's mapping. Node makes no Buffer (and, on Node 20, no external
// ArrayBuffer) over its Buffer limit (4 GiB on Node 20), while an arena may be much
// larger: the mapping is seen through windows of at most that limit, starting every
// WINDOW_STEP bytes, so every object up to (limit - step) lies inside one window and a
// view costs what it always did (Buffer.from over a cached ArrayBuffer). A larger object
// that straddles a window's end gets a window of its own. On Node 22+ one window
// covers the whole mapping.
import type { NativeStoreHandle } from '../base/addon.js';
import { MAX_OBJECT_SIZE } from './capacity.js';

/** Where windows start when the mapping needs more than one. */
const WINDOW_STEP = 2 ** 30;

/** The windows of one handle's mapping, made on first use and kept while the handle is. */
export class ArenaViews {
  private readonly windows: (ArrayBuffer | undefined)[] = [];
  private readonly step: number;
  private readonly windowBytes: number;

  constructor(
    private readonly handle: Pick<NativeStoreHandle, 'window'>,
    private readonly mappingSize: number,
    limit: number = MAX_OBJECT_SIZE,
  ) {
    this.windowBytes = Math.min(limit, mappingSize);
    // One window when it covers everything; else overlapping windows WINDOW_STEP apart.
    this.step = mappingSize <= limit ? mappingSize || 1 : Math.min(WINDOW_STEP, Math.floor(limit / 2));
  }

  /** A Buffer over [offset, offset + size) of the mapping. */
  view(offset: number, size: number): Buffer {
    const k = Math.floor(offset / this.step);
    const start = k * this.step;
    if (offset + size <= start + this.windowBytes) {
      const w = (this.windows[k] ??= this.handle.window(
        start,
        Math.min(this.windowBytes, this.mappingSize - start),
      ));
      return Buffer.from(w, offset - start, size);
    }
    return Buffer.from(this.handle.window(offset, size), 0, size);
  }
}
