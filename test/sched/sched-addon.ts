// Loader for the scheduler half of the native addon, as these tests use it
// (typed by lib/base/addon.ts). SUNRAY_SCHED_ADDON may point at another build
// of it (a dev build before the rest of the addon exists); otherwise
// node-gyp-build finds the package's own build or prebuild.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { NativeAddon, NativeDoorbell, NativeRing } from '../../lib/base/addon.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const childScript = resolve(import.meta.dirname, 'ring-child.mjs');

/** The scheduler half of the addon (its types are lib/base/addon.ts's, the one typed binding). */
export type SchedAddon = Pick<
  NativeAddon,
  'createSegment' | 'createEventFd' | 'Ring' | 'Doorbell' | 'ResourcePool'
>;
export type Ring = NativeRing;
export type Doorbell = NativeDoorbell;

export function loadSched(): SchedAddon {
  const require = createRequire(import.meta.url);
  const path = process.env.SUNRAY_SCHED_ADDON;
  if (path) return require(path) as SchedAddon;
  const load = require('node-gyp-build') as (dir: string) => unknown;
  return load(repoRoot) as SchedAddon;
}

/** [u32 length][bytes] frames. */
export function frames(msgs: Uint8Array[]): Buffer {
  let n = 0;
  for (const m of msgs) n += 4 + m.length;
  const out = Buffer.allocUnsafe(n);
  let off = 0;
  for (const m of msgs) {
    out.writeUInt32LE(m.length, off);
    out.set(m, off + 4);
    off += 4 + m.length;
  }
  return out;
}

export function* parseFrames(buf: Buffer): Generator<Buffer> {
  let off = 0;
  while (off < buf.length) {
    const n = buf.readUInt32LE(off);
    yield buf.subarray(off + 4, off + 4 + n);
    off += 4 + n;
  }
}
