// A one-way message channel over a shared-memory ring (native/ipc): frames
// sent in one JS turn are pushed in one batch and the reader is woken at most
// once, and only if it sleeps. Frames larger than a ring slot are parked in
// the object store and the ring carries their id (Msg.Blob).
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { type NativeDoorbell, type NativeRing, native } from '../base/addon.js';
import { Reader, Writer } from '../base/codec.js';
import { InvalidArgumentError } from '../base/errors.js';
import type { ObjectStore } from '../store/index.js';
import { ObjectId } from '../store/index.js';
import { Msg } from './worker-messages.js';

export const RING_SLOTS = 4096;
/**
 * The completion ring carries every worker's submissions as well as its results: a few
 * actors each submitting thousands of tasks at once filled 4096 slots, and then results
 * waited behind them (a full ring is retried after 1 ms). 16 MiB of slots, touched only
 * as far as traffic reaches.
 */
export const COMPLETION_RING_SLOTS = 32768;
export const RING_SLOT_SIZE = 512;

/** Slots of a ring by its kind: the completion ring is the one with many participants. */
function ringSlots(participants: number): number {
  return participants > INBOX_PARTICIPANTS ? COMPLETION_RING_SLOTS : RING_SLOTS;
}

/**
 * Participants a ring can record (each process that opens it is one). The
 * completion ring is shared by every worker the node ever starts; an inbox has
 * two ends. Records of dead processes are freed by recover(pid).
 */
// The ring tags claims with 7 bits, so 126 participants at most: the manager
// and up to MAX_WORKERS live workers.
export const COMPLETION_PARTICIPANTS = 126;
export const MAX_WORKERS = 120;

/** init({ maxWorkerProcesses }), checked: a whole number from 1 to MAX_WORKERS (the default). */
export function checkMaxWorkerProcesses(n: number | undefined): number {
  if (n === undefined) return MAX_WORKERS;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new InvalidArgumentError(
      `maxWorkerProcesses must be a whole number from 1 to ${MAX_WORKERS}, got ${String(n)}: a node's ` +
        `worker processes (actors included) share one completion ring, which has room for ${MAX_WORKERS}`,
    );
  }
  return n;
}

/**
 * An inbox is read by its worker and written by the node manager and, for an actor, by
 * each caller with a direct channel to it (and for a caller, by each actor answering it).
 */
export const INBOX_PARTICIPANTS = 64;
/** Direct channels into one inbox at most; past that, calls are routed by the node manager. */
export const MAX_DIRECT_PEERS = INBOX_PARTICIPANTS - 4;

/** A shared-memory segment holding one ring (a memfd: the caller closes the fd). */
export function createRingSegment(participants: number): number {
  return native.createSegment(
    native.Ring.bytesNeeded(ringSlots(participants), RING_SLOT_SIZE, participants, 0),
  ).fd;
}

// Consumers do not keep copies of claimed messages (track: false): the node
// manager knows which tasks a dead worker had and re-runs them itself.
export function openRing(fd: number, init: boolean, participants: number): NativeRing {
  return new native.Ring(fd, 0, {
    slots: ringSlots(participants),
    slotSize: RING_SLOT_SIZE,
    init,
    maxParticipants: participants,
    holdBytes: 0,
    track: false,
  });
}

export function createEventFd(): number {
  return native.createEventFd();
}

export function openDoorbell(ring: NativeRing, eventFd: number): NativeDoorbell {
  return new native.Doorbell(ring, eventFd);
}

const RESOLVED = Promise.resolve();

export class ChannelWriter {
  private batch = new Writer(4096);
  /** Bytes at the batch's start the ring already took (while it was full). */
  private pushedBytes = 0;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Largest frame that fits a slot (read once: a native accessor); bigger ones go through the store. */
  private readonly maxInline: number;

  constructor(
    private readonly ring: NativeRing,
    private readonly bell: NativeDoorbell,
    private readonly store: ObjectStore,
  ) {
    this.maxInline = ring.maxPayload;
  }

  send(frame: Buffer): void {
    if (this.closed) return;
    if (frame.length > this.maxInline) frame = this.park(frame);
    this.batch.u32(frame.length).raw(frame);
    this.schedule();
  }

  /**
   * Appends a frame that fill() writes in place, straight into the batch: the
   * hot messages (Execute, Done, Submit) are built with no buffer of their own.
   */
  sendWith(fill: (w: Writer) => void): void {
    if (this.closed) return;
    const start = this.batch.length;
    this.batch.u32(0);
    fill(this.batch);
    const len = this.batch.length - start - 4;
    if (len > this.maxInline) {
      const frame = this.batch.copyOut(start + 4);
      this.batch.truncate(start);
      const blob = this.park(frame);
      this.batch.u32(blob.length).raw(blob);
    } else {
      this.batch.patchU32(start, len);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // A resolved promise rather than queueMicrotask, which makes an AsyncResource per call.
    RESOLVED.then(this.flushLater);
  }

  private readonly flushLater = () => {
    if (this.scheduled) this.flush();
  };

  /** Pushes now, rather than at the end of the turn (for latency-critical single frames). */
  flush(): void {
    this.scheduled = false;
    if (this.closed || this.batch.length === 0) return;
    const all = this.batch.finish();
    const pending = this.pushedBytes > 0 ? all.subarray(this.pushedBytes) : all;
    const pushed = this.ring.pushFrames(pending);
    if (pushed > 0) this.bell.notify();
    if (pushed < pending.length) {
      // Ring full: the rest stays where it is (no copy: a burst of submissions can be many
      // MiB) and is retried shortly; the reader is draining. New frames append after it.
      this.pushedBytes += pushed;
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.flush();
        }, 1);
      }
    } else {
      // The ring copied the frames: the batch buffer is reused as it is.
      this.batch.truncate(0);
      this.pushedBytes = 0;
    }
  }

  /** Everything sent so far is in the ring (none waits for room after a flush). */
  get drained(): boolean {
    return this.batch.length === 0;
  }

  /** Frees what a dead writer of this ring left claimed in it (ring.ts recover), and wakes the reader. */
  recover(pid: number): void {
    if (this.closed) return;
    const stats = this.ring.recover(pid);
    if (stats.completed + stats.requeued > 0) this.bell.notify();
  }

  private park(frame: Buffer): Buffer {
    const id = ObjectId.fromBytes(randomBytes(28));
    const buf = this.store.create(id, frame.length);
    buf.set(frame);
    this.store.seal(id);
    return Buffer.from(new Writer(40).u8(Msg.Blob).raw(id.bytes).finish());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.bell.close();
    this.ring.close();
  }
}

/**
 * A reader that just handled a message spins this long for the next one before
 * its loop sleeps: a request/reply pair then costs no wake-up system calls.
 * Only while traffic is recent (HOT_WINDOW_US), and never on one core, where a
 * spinner would only delay the process it waits for. SUNRAY_SPIN_US=0 turns it off.
 */
const SPIN_US = availableParallelism() > 1 ? envNumber('SUNRAY_SPIN_US', 50) : 0;
const HOT_WINDOW_US = 2000;

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(v) && v >= 0 ? v : fallback;
}

/** Drains a ring whenever its doorbell rings, handing each frame to onFrame. */
export class ChannelReader {
  private active = false;

  constructor(
    private readonly ring: NativeRing,
    private readonly bell: NativeDoorbell,
    private readonly store: ObjectStore,
    private readonly onFrame: (r: Reader, type: number) => void,
  ) {}

  start(): void {
    this.active = true;
    this.bell.watch(() => this.pump());
    this.bell.setSpin(SPIN_US, HOT_WINDOW_US);
    this.pump();
  }

  /** Whether the reader keeps the process alive while it waits. */
  setRef(ref: boolean): void {
    if (ref) this.bell.ref();
    else this.bell.unref();
  }

  pump(): void {
    while (this.active) {
      const chunk = this.bell.drainOrSleep();
      if (!chunk) return;
      this.dispatch(chunk);
    }
  }

  private dispatch(chunk: Buffer): void {
    let pos = 0;
    // One Reader for the chunk, moved frame to frame: handlers use it before they return
    // (what they keep, they copy), and a nested dispatch would make its own.
    const r = new Reader(chunk);
    while (pos + 4 <= chunk.length && this.active) {
      const len = chunk.readUInt32LE(pos);
      const end = pos + 4 + len;
      r.reset(pos + 4, end);
      const type = r.u8();
      if (type === Msg.Blob) this.unpark(r);
      else this.onFrame(r, type);
      pos = end;
    }
  }

  private unpark(r: Reader): void {
    const id = ObjectId.fromBytes(r.raw(28));
    const obj = this.store.tryGet(id);
    if (!obj) throw new Error(`lost a parked message ${id.hex()}: the store no longer has it`);
    const frame = Buffer.from(obj.data);
    obj.release();
    this.store.delete(id);
    const inner = new Reader(frame);
    const type = inner.u8();
    this.onFrame(inner, type);
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.bell.unwatch();
    this.bell.close();
    this.ring.close();
  }
}
