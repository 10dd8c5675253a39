// lib/base/addon.ts is the one typed binding of the native addon: every
// function and class the loaded addon exports, and every method and accessor
// of each wrapped class, is declared there, no more and no less. The lists
// below are typed as Record<keyof Interface, true>, so tsc fails when they
// drift from the interfaces, and this test fails when the addon does.
import { expect, test } from 'vitest';
import {
  GetStatus,
  type NativeAddon,
  type NativeDoorbell,
  type NativeResourcePool,
  type NativeRing,
  type NativeRingClass,
  type NativeStoreHandle,
  type NativeStoreHandleClass,
  native,
} from '../../lib/base/addon.js';

const ADDON: Record<keyof NativeAddon, true> = {
  addonVersion: true,
  napiVersion: true,
  adjustExternalMemory: true,
  copyBytes: true,
  StoreHandle: true,
  createSegment: true,
  createEventFd: true,
  Ring: true,
  Doorbell: true,
  ResourcePool: true,
  setRecvLowWater: true,
  createSocketPair: true,
  sendFds: true,
  recvFds: true,
  dieWithParent: true,
  parentDeathSignal: true,
};

const STORE_HANDLE: Record<keyof NativeStoreHandle, true> = {
  window: true,
  mappingSize: true,
  fd: true,
  path: true,
  capacity: true,
  clientSlot: true,
  isCreator: true,
  spillDir: true,
  create: true,
  seal: true,
  abort: true,
  get: true,
  release: true,
  contains: true,
  delete: true,
  list: true,
  stats: true,
  reapDeadClients: true,
  reapClient: true,
  removeSpillFiles: true,
  sealEpoch: true,
  armWait: true,
  disarmWait: true,
  viewOffset: true,
  close: true,
};
const STORE_HANDLE_STATICS: Record<keyof NativeStoreHandleClass, true> = { create: true, attach: true };

const RING: Record<keyof NativeRing, true> = {
  push: true,
  pushFrames: true,
  drain: true,
  done: true,
  size: true,
  recover: true,
  close: true,
  capacity: true,
  slotSize: true,
  maxPayload: true,
  heldCount: true,
};
const RING_STATICS: Record<keyof NativeRingClass, true> = { bytesNeeded: true };

const DOORBELL: Record<keyof NativeDoorbell, true> = {
  notify: true,
  pushAndNotify: true,
  pushFramesAndNotify: true,
  prepareSleep: true,
  drainOrSleep: true,
  watch: true,
  unwatch: true,
  ref: true,
  unref: true,
  close: true,
  setSpin: true,
  wakeups: true,
  stats: true,
};

const RESOURCE_POOL: Record<keyof NativeResourcePool, true> = {
  tryAcquire: true,
  release: true,
  available: true,
  total: true,
  feasible: true,
  fits: true,
};

/** The members a wrapped class defines on its prototype (methods and accessors). */
function members(cls: unknown): string[] {
  const proto = (cls as { prototype: object }).prototype;
  return Object.getOwnPropertyNames(proto)
    .filter((k) => k !== 'constructor')
    .sort();
}

/** The static methods of a wrapped class. */
function statics(cls: unknown): string[] {
  const fn = cls as object;
  return Object.getOwnPropertyNames(fn)
    .filter((k) => typeof (fn as Record<string, unknown>)[k] === 'function')
    .sort();
}

test('every export of the addon is declared in NativeAddon, and nothing else', () => {
  expect(Object.keys(native).sort()).toEqual(Object.keys(ADDON).sort());
});

test('each wrapped class has exactly the members its interface declares', () => {
  expect(members(native.StoreHandle)).toEqual(Object.keys(STORE_HANDLE).sort());
  expect(statics(native.StoreHandle)).toEqual(Object.keys(STORE_HANDLE_STATICS).sort());
  expect(members(native.Ring)).toEqual(Object.keys(RING).sort());
  expect(statics(native.Ring)).toEqual(Object.keys(RING_STATICS).sort());
  expect(members(native.Doorbell)).toEqual(Object.keys(DOORBELL).sort());
  expect(members(native.ResourcePool)).toEqual(Object.keys(RESOURCE_POOL).sort());
});

test('the typed functions return what their types say', () => {
  expect(typeof native.addonVersion).toBe('string');
  expect(native.napiVersion).toBeGreaterThan(0);
  const before = native.adjustExternalMemory(0);
  expect(native.adjustExternalMemory(1024)).toBe(before + 1024);
  expect(native.adjustExternalMemory(-1024)).toBe(before);
  const grant = new native.ResourcePool({ CPU: 2 }).tryAcquire({ CPU: 1 });
  expect(grant).toMatchObject({ id: expect.any(Number), gpuIds: [], ids: {} });
  expect(native.Ring.bytesNeeded(16, 512)).toBeGreaterThan(16 * 512);
  expect(Object.values(GetStatus)).toEqual([0, 1, 2, 3]);
});
