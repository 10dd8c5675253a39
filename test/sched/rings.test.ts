// The scheduler binding from JS, across real processes: a parent and a child
// `node` share a memfd segment (passed through spawn's stdio array) holding
// two rings, each with an eventfd doorbell watched by uv_poll.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  childScript,
  type Doorbell,
  frames,
  loadSched,
  parseFrames,
  type Ring,
  type SchedAddon,
} from './sched-addon.js';

let addon: SchedAddon;
beforeAll(() => {
  addon = loadSched();
});

const SLOTS = 16384;
const SLOT_SIZE = 128;

interface Link {
  child: ChildProcess;
  exited: Promise<number | null>;
  seg: { fd: number; size: number };
  efdA: number;
  efdB: number;
  ringA: Ring; // parent -> child
  ringB: Ring; // child -> parent
  out: Doorbell;
  inbox: Doorbell;
  received: Buffer[];
  waiters: Array<() => void>;
  close(): Promise<void>;
}

const links: Link[] = [];
afterEach(async () => {
  while (links.length) await links.pop()?.close();
});

function startLink(mode = 'echo'): Promise<Link> {
  const need = addon.Ring.bytesNeeded(SLOTS, SLOT_SIZE, 4, 0);
  const offB = Math.ceil(need / 4096) * 4096;
  const seg = addon.createSegment(offB * 2);
  const ringA = new addon.Ring(seg.fd, 0, {
    slots: SLOTS,
    slotSize: SLOT_SIZE,
    init: true,
    maxParticipants: 4,
    holdBytes: 0,
  });
  const ringB = new addon.Ring(seg.fd, offB, {
    slots: SLOTS,
    slotSize: SLOT_SIZE,
    init: true,
    maxParticipants: 4,
    holdBytes: 0,
  });
  const efdA = addon.createEventFd();
  const efdB = addon.createEventFd();
  const child = spawn(process.execPath, [childScript, mode], {
    stdio: ['ignore', 'inherit', 'inherit', seg.fd, efdA, efdB],
    env: { ...process.env, SUNRAY_RING_A: '0', SUNRAY_RING_B: String(offB) },
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const out = new addon.Doorbell(ringA, efdA);
  const inbox = new addon.Doorbell(ringB, efdB);
  const link: Link = {
    child,
    exited,
    seg,
    efdA,
    efdB,
    ringA,
    ringB,
    out,
    inbox,
    received: [],
    waiters: [],
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      inbox.close();
      out.close();
      ringA.close();
      ringB.close();
      closeSync(efdA);
      closeSync(efdB);
      closeSync(seg.fd);
    },
  };
  links.push(link);
  const pump = () => {
    for (let b = inbox.drainOrSleep(); b !== null; b = inbox.drainOrSleep()) {
      for (const f of parseFrames(b)) link.received.push(Buffer.from(f));
      const ws = link.waiters.splice(0);
      for (const w of ws) w();
    }
  };
  inbox.watch(pump);
  pump();
  return new Promise((res, rej) => {
    child.on('error', rej);
    if (mode !== 'echo') return res(link);
    waitFor(link, 1).then(() => {
      expect(link.received.shift()?.toString()).toBe('ready');
      res(link);
    }, rej);
  });
}

function waitFor(link: Link, n: number, timeoutMs = 10_000): Promise<void> {
  if (link.received.length >= n) return Promise.resolve();
  return new Promise((res, rej) => {
    const t = setTimeout(
      () => rej(new Error(`timed out waiting for ${n} messages, have ${link.received.length}`)),
      timeoutMs,
    );
    const check = () => {
      if (link.received.length >= n) {
        clearTimeout(t);
        res();
      } else link.waiters.push(check);
    };
    check();
  });
}

async function stats(link: Link): Promise<{ frames: number; wakeups: number; drains: number }> {
  link.received.length = 0;
  expect(link.out.pushAndNotify(Buffer.from('stats'))).toBe(true);
  await waitFor(link, 1);
  return JSON.parse(link.received.shift()?.toString() ?? '{}');
}

describe('rings between processes with eventfd doorbells', () => {
  it('ping-pongs messages in order and prints the round trip', async () => {
    const link = await startLink();
    const N = 5000;
    const times: number[] = [];
    // One promise per ping, resolved straight from the watch callback (no
    // timer per message: it would dominate what we measure).
    const next = () => new Promise<void>((res) => (link.received.length ? res() : link.waiters.push(res)));
    const deadline = setTimeout(() => {
      for (const w of link.waiters.splice(0)) w(); // unblock: the next expect then fails
    }, 30_000);
    for (let i = 0; i < N; i++) {
      const msg = Buffer.from(`ping ${i}`);
      const t0 = process.hrtime.bigint();
      expect(link.out.pushAndNotify(msg)).toBe(true);
      await next();
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
      expect(link.received.shift()?.toString()).toBe(`ping ${i}`);
    }
    clearTimeout(deadline);
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]?.toFixed(1);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    console.log(
      `[sched] JS<->JS ring round trip over ${N} pings: mean ${mean.toFixed(1)} us, p50 ${at(0.5)} us, p99 ${at(0.99)} us`,
    );
    const s = await stats(link);
    expect(s.frames).toBe(N);
    link.out.pushAndNotify(Buffer.from('exit'));
    expect(await link.exited).toBe(0); // closed handles let it exit by itself
  });

  it('drains a batch of 10,000 frames in few wake-ups', async () => {
    const link = await startLink();
    const before = await stats(link);
    const N = 10_000;
    const msgs = Array.from({ length: N }, (_, i) => Buffer.from(`task ${i}`));
    const buf = frames(msgs);
    const t0 = process.hrtime.bigint();
    let off = 0;
    while (off < buf.length) off += link.out.pushFramesAndNotify(buf.subarray(off));
    await waitFor(link, N);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    const got = link.received.splice(0, N);
    const after = await stats(link);
    const wakeups = after.wakeups - before.wakeups - 1; // minus the stats request itself
    console.log(
      `[sched] 10,000 frames echoed through two rings in ${(us / 1000).toFixed(2)} ms ` +
        `(${Math.round((N / us) * 1e6)} msgs/s each way), child wake-ups ${wakeups}, drains ${after.drains - before.drains - 1}`,
    );
    expect(got.map((b) => b.toString())).toEqual(msgs.map((m) => m.toString()));
    expect(after.frames - before.frames).toBe(N);
    expect(wakeups).toBeLessThanOrEqual(5);
    link.out.pushAndNotify(Buffer.from('exit'));
    expect(await link.exited).toBe(0);
  });

  it('a child that unrefs its watched doorbell exits on its own', async () => {
    const link = await startLink('unref');
    const code = await Promise.race([link.exited, new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
    expect(code).toBe(0);
  });

  it('recovers a ring after the consumer process is SIGKILLed', async () => {
    const link = await startLink();
    // the child consumes; kill it, then recover its claims from the parent
    link.child.kill('SIGKILL');
    await link.exited;
    const pid = link.child.pid ?? 0;
    const rs = link.ringA.recover(pid);
    expect(rs.records).toBeGreaterThanOrEqual(1);
    expect(rs.lost).toBe(0);
    // after recovery the ring works for a new consumer
    const reader = new addon.Ring(link.seg.fd, 0, {});
    expect(link.ringA.push(Buffer.from('after'))).toBe(true);
    const b = reader.drain();
    expect(b && [...parseFrames(b)].map(String)).toEqual(['after']);
    reader.close();
  });
});

describe('binding argument checks', () => {
  it('rejects bad input precisely', () => {
    expect(() => addon.Ring.bytesNeeded(3, 64)).toThrow(/power of two/);
    const seg = addon.createSegment(addon.Ring.bytesNeeded(8, 64));
    try {
      expect(() => new addon.Ring(seg.fd, 0, {})).toThrow(/bad magic/);
      const r = new addon.Ring(seg.fd, 0, { slots: 8, slotSize: 64, init: true });
      expect(r.maxPayload).toBe(40);
      expect(() => r.push(Buffer.alloc(41))).toThrow(expect.objectContaining({ code: 'ERR_SUNRAY_TOO_BIG' }));
      expect(() => r.pushFrames(Buffer.from([10, 0, 0, 0, 1]))).toThrow(/claims 10 bytes/);
      expect(() => new addon.Doorbell({} as Ring, 0)).toThrow(/must be a Ring/);
      for (let i = 0; i < 8; i++) expect(r.push(Buffer.from([i]))).toBe(true);
      expect(r.push(Buffer.from([9]))).toBe(false);
      expect(r.size()).toBe(8);
      const d = r.drain();
      expect(d?.length).toBe(8 * 5);
      expect(r.drain()).toBeNull();
      r.close();
      expect(() => r.size()).toThrow(/closed/);
    } finally {
      closeSync(seg.fd);
    }
  });
});

describe('ResourcePool', () => {
  it('accounts fixed-point, fractional GPUs and ids, infeasible demands', () => {
    const pool = new addon.ResourcePool({ CPU: 2, GPU: 2, memory: 4e9 });
    const grants = Array.from({ length: 10 }, () => pool.tryAcquire({ CPU: 0.1 }));
    expect(grants.every((g) => g !== null)).toBe(true);
    expect(pool.available().CPU).toBe(1);
    for (const g of grants) if (g) pool.release(g);
    expect(pool.available().CPU).toBe(2);
    const a = pool.tryAcquire({ GPU: 0.5 });
    const b = pool.tryAcquire({ GPU: 0.5 });
    expect(a?.gpuIds).toEqual([0]);
    expect(b?.gpuIds).toEqual([0]);
    const c = pool.tryAcquire({ GPU: 1 });
    expect(c?.gpuIds).toEqual([1]);
    expect(pool.tryAcquire({ GPU: 0.1 })).toBeNull();
    expect(pool.fits({ GPU: 0.1 })).toBe(false);
    expect(pool.feasible({ GPU: 2 })).toBe(true);
    expect(pool.feasible({ GPU: 3 })).toBe(false);
    expect(pool.feasible({ TPU: 1 })).toBe(false);
    expect(() => pool.tryAcquire({ CPU: -1 })).toThrow(/'CPU'.*negative/);
    expect(() => pool.tryAcquire({ CPU: Number.NaN })).toThrow(/NaN/);
    expect(() => pool.tryAcquire({ GPU: 1.5 })).toThrow(/whole/);
    if (a) pool.release(a);
    if (a) expect(() => pool.release(a)).toThrow(/released twice/);
    expect(pool.total()).toEqual({ CPU: 2, GPU: 2, memory: 4e9 });
  });
});
