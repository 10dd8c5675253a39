// The addon's errors as JS sees them, one case per path a C++ failure takes to
// JS (native/addon/napi_util.h has the one translator): the class (Error,
// RangeError, TypeError) and the .code of each. lib/ maps codes to its error
// classes and channels tell a full ring from a bad frame by class, so these
// shapes are part of the addon's API. SUNRAY_ADDON may point at another build
// of the addon (to compare one build with another); otherwise node-gyp-build
// finds the package's own.
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './sched-addon.js';

interface RingHandle {
  push(buf: Uint8Array): boolean;
  pushFrames(buf: Uint8Array): number;
  size(): number;
  close(): void;
}
interface StoreHandle {
  create(id: Uint8Array, dataSize: number, metadata: Uint8Array | null, primary: boolean): number;
  seal(id: Uint8Array): void;
  get(id: Uint8Array, out: Float64Array): number;
  close(): void;
}
interface Addon {
  createSegment(bytes: number): { fd: number; size: number };
  createEventFd(): number;
  sendFds(sock: number, fds: number[]): void;
  recvFds(sock: number): number[] | null;
  dieWithParent(signal: number, parentPid: number): boolean;
  Ring: {
    new (fd: number, offset: number, options?: Record<string, unknown>): RingHandle;
    bytesNeeded(slots: number, slotSize: number): number;
  };
  Doorbell: new (
    ring: unknown,
    eventFd: number,
  ) => { setSpin(spinUs: number, hotUs: number): void; close(): void };
  ResourcePool: new (
    totals: Record<string, number>,
  ) => { tryAcquire(d: Record<string, number>): { id: number } | null; release(g: { id: number }): void };
  StoreHandle: {
    create(capacity: number, maxObjects: number, spillDir: string): StoreHandle;
    attach(fdOrPath: unknown): StoreHandle;
  };
}

let addon: Addon;
beforeAll(() => {
  const require = createRequire(import.meta.url);
  const path = process.env.SUNRAY_ADDON;
  addon = (path ? require(path) : (require('node-gyp-build') as (dir: string) => unknown)(repoRoot)) as Addon;
});

const fds: number[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  for (const fd of fds.splice(0)) closeSync(fd);
});

/** What fn threw: its class name, message and code. */
function thrown(fn: () => unknown): { name: string; message: string; code: unknown } {
  try {
    fn();
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { name: e.constructor.name, message: e.message, code: e.code };
  }
  throw new Error('expected a throw');
}

function segment(bytes: number): number {
  const { fd } = addon.createSegment(bytes);
  fds.push(fd);
  return fd;
}

describe('ring errors', () => {
  it('bad geometry is a RangeError from bytesNeeded, an Error from the constructor', () => {
    expect(thrown(() => addon.Ring.bytesNeeded(3, 64))).toMatchObject({
      name: 'RangeError',
      message: expect.stringMatching(/power of two/),
      code: undefined,
    });
    const fd = segment(1 << 16);
    expect(thrown(() => new addon.Ring(fd, 0, { init: true, slots: 3 }))).toMatchObject({
      name: 'Error',
      message: expect.stringMatching(/power of two/),
      code: undefined,
    });
    expect(thrown(() => new addon.Ring(fd, 0, {}))).toMatchObject({
      name: 'Error',
      message: expect.stringMatching(/bad magic/),
    });
    expect(thrown(() => new addon.Ring(fd, 32, {}))).toMatchObject({
      name: 'RangeError',
      message: expect.stringMatching(/multiple of 64/),
    });
    expect(thrown(() => new addon.Ring(fd, 0, { init: true, slots: -1 }))).toMatchObject({
      name: 'RangeError',
      message: 'option slots must be an integer >= 0',
    });
    expect(thrown(() => new addon.Ring(fd, 0, { init: true, slots: 'x' }))).toMatchObject({
      name: 'TypeError',
    });
  });

  it('a segment fd that is not one is an Error that says so', () => {
    expect(thrown(() => new addon.Ring(-1, 0, {}))).toMatchObject({
      name: 'Error',
      message: expect.stringMatching(/fstat.*Bad file descriptor/),
      code: undefined,
    });
    expect(thrown(() => addon.createSegment(0))).toMatchObject({ name: 'RangeError' });
  });

  it('a message too big is a coded RangeError, a malformed frame a RangeError, a closed ring an Error', () => {
    const fd = segment(addon.Ring.bytesNeeded(8, 64));
    const r = new addon.Ring(fd, 0, { slots: 8, slotSize: 64, init: true });
    expect(thrown(() => r.push(Buffer.alloc(41)))).toMatchObject({
      name: 'RangeError',
      code: 'ERR_SUNRAY_TOO_BIG',
    });
    expect(thrown(() => r.pushFrames(Buffer.from([10, 0, 0, 0, 1])))).toMatchObject({
      name: 'RangeError',
      message: expect.stringMatching(/claims 10 bytes/),
      code: undefined,
    });
    expect(thrown(() => r.push(new Uint16Array(2) as unknown as Uint8Array))).toMatchObject({
      name: 'TypeError',
    });
    r.close();
    expect(thrown(() => r.size())).toMatchObject({ name: 'Error', message: 'ring is closed' });
  });

  it('a doorbell checks its ring and its spin settings', () => {
    const fd = segment(addon.Ring.bytesNeeded(8, 64));
    const r = new addon.Ring(fd, 0, { slots: 8, slotSize: 64, init: true });
    cleanups.push(() => r.close());
    expect(thrown(() => new addon.Doorbell({}, 0))).toMatchObject({
      name: 'TypeError',
      message: expect.stringMatching(/must be a Ring/),
    });
    const efd = addon.createEventFd();
    fds.push(efd);
    const db = new addon.Doorbell(r, efd);
    cleanups.push(() => db.close());
    expect(thrown(() => db.setSpin(-1, 0))).toMatchObject({
      name: 'RangeError',
      message: expect.stringMatching(/spinUs/),
    });
    expect(thrown(() => db.setSpin(Number.NaN, 0))).toMatchObject({ name: 'RangeError' });
    db.setSpin(50, 2000);
  });
});

describe('resource pool errors', () => {
  it('bad amounts are RangeErrors; a grant released twice is an Error', () => {
    expect(thrown(() => new addon.ResourcePool({ CPU: -1 }))).toMatchObject({
      name: 'RangeError',
      code: undefined,
    });
    const pool = new addon.ResourcePool({ CPU: 2 });
    expect(thrown(() => pool.tryAcquire({ CPU: Number.NaN }))).toMatchObject({
      name: 'RangeError',
      message: expect.stringMatching(/NaN/),
    });
    const g = pool.tryAcquire({ CPU: 1 });
    expect(g).not.toBeNull();
    if (!g) return;
    pool.release(g);
    expect(thrown(() => pool.release(g))).toMatchObject({
      name: 'Error',
      message: expect.stringMatching(/released twice/),
    });
  });
});

describe('store errors', () => {
  it('every failure carries the code lib/store maps to its class', () => {
    const h = addon.StoreHandle.create(1 << 20, 0, '');
    const id = Buffer.alloc(28, 7);
    expect(thrown(() => h.get(Buffer.alloc(3), new Float64Array(3)))).toMatchObject({
      name: 'Error',
      code: 'INVALID_OBJECT_ID',
    });
    expect(thrown(() => h.create(id, -1, null, true))).toMatchObject({ name: 'Error', code: 'INVALID_SIZE' });
    expect(thrown(() => h.seal(id))).toMatchObject({ name: 'Error', code: 'OBJECT_NOT_FOUND' });
    expect(thrown(() => h.create(id, 4 << 20, null, true))).toMatchObject({
      name: 'Error',
      code: 'INVALID_SIZE',
    });
    h.close();
    expect(thrown(() => h.seal(id))).toMatchObject({ name: 'Error', code: 'STORE_CLOSED' });
  });

  it('attaching to something that is not an arena says so with a code', () => {
    expect(thrown(() => addon.StoreHandle.attach({}))).toMatchObject({ code: 'INVALID_OPTION' });
    const fd = segment(4096);
    expect(thrown(() => addon.StoreHandle.attach(fd))).toMatchObject({
      name: 'Error',
      code: 'ARENA_MISMATCH',
    });
    expect(thrown(() => addon.StoreHandle.attach('/nonexistent/sunray-arena'))).toMatchObject({
      name: 'Error',
      code: 'ARENA_MISMATCH',
    });
  });
});

describe('fd passing and process errors', () => {
  it('system failures are plain Errors with the reason', () => {
    expect(thrown(() => addon.sendFds(-1, [0]))).toMatchObject({ name: 'Error', code: undefined });
    expect(thrown(() => addon.recvFds(-1))).toMatchObject({ name: 'Error', code: undefined });
    expect(thrown(() => addon.dieWithParent(1000, process.ppid))).toMatchObject({
      name: 'Error',
      message: expect.stringMatching(/PR_SET_PDEATHSIG/),
    });
  });
});
