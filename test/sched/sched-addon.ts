// Types and loader for the scheduler half of the native addon, as these tests
// use it. SUNRAY_SCHED_ADDON may point at another build of it (a dev build
// before the rest of the addon exists); otherwise node-gyp-build finds the
// package's own build or prebuild.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const childScript = resolve(import.meta.dirname, 'ring-child.mjs');

export interface RingOptions {
  slots?: number;
  slotSize?: number;
  init?: boolean;
  maxParticipants?: number;
  holdBytes?: number;
  track?: boolean;
  join?: boolean;
}

export interface RecoverStats {
  records: number;
  completed: number;
  tombstoned: number;
  requeued: number;
  pending: number;
  lost: number;
  skippedAlive: number;
}

export interface Ring {
  push(buf: Uint8Array): boolean;
  pushFrames(buf: Uint8Array): number;
  drain(maxBytes?: number): Buffer | null;
  done(): void;
  size(): number;
  recover(pid: number): RecoverStats;
  close(): void;
  readonly capacity: number;
  readonly slotSize: number;
  readonly maxPayload: number;
  readonly heldCount: number;
}

export interface Doorbell {
  notify(): boolean;
  pushAndNotify(buf: Uint8Array): boolean;
  pushFramesAndNotify(buf: Uint8Array): number;
  prepareSleep(): boolean;
  drainOrSleep(maxBytes?: number): Buffer | null;
  watch(cb: () => void): void;
  unwatch(): void;
  ref(): void;
  unref(): void;
  close(): void;
  readonly wakeups: number;
}

export interface Grant {
  id: number;
  gpuIds: number[];
  ids: Record<string, number[]>;
}

export interface ResourcePool {
  tryAcquire(demand: Record<string, number>): Grant | null;
  release(grant: Grant | number): void;
  available(): Record<string, number>;
  total(): Record<string, number>;
  feasible(demand: Record<string, number>): boolean;
  fits(demand: Record<string, number>): boolean;
}

export interface SchedAddon {
  createSegment(bytes: number): { fd: number; size: number };
  createEventFd(): number;
  Ring: {
    new (segmentFd: number, offset: number, options?: RingOptions): Ring;
    bytesNeeded(slots: number, slotSize: number, maxParticipants?: number, holdBytes?: number): number;
  };
  Doorbell: new (ring: Ring, eventFd: number) => Doorbell;
  ResourcePool: new (totals: Record<string, number>, options?: { unitResources?: string[] }) => ResourcePool;
}

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
