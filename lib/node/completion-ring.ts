// The node's completion ring: the one shared-memory ring every worker of the node writes
// its frames into (Done, Submit, Request, ...), with its eventfd doorbell, read by the node
// manager's loop. Its fds are inherited by each worker at spawn. A worker that dies in the
// middle of a write leaves a slot claimed: recover() repairs that.

import { closeSync } from 'node:fs';
import type { NativeDoorbell, NativeRing } from '../base/addon.js';
import type { Reader } from '../base/codec.js';
import { warn } from '../base/warnings.js';
import {
  ChannelReader,
  COMPLETION_PARTICIPANTS,
  createEventFd,
  createRingSegment,
  openDoorbell,
  openRing,
} from '../protocol/channel.js';
import type { ObjectStore } from '../store/index.js';

/** Tries to repair the ring after a worker died, while messages wait for room (10 ms apart). */
const RECOVER_ATTEMPTS = 100;

/** The node's completion ring and its doorbell: made once, inherited by every worker, read by the node. */
export class CompletionRing {
  /** The ring's memory (memfd), inherited by workers. */
  readonly fd: number;
  /** Its doorbell (eventfd), inherited by workers. */
  readonly bellFd: number;
  private readonly ring: NativeRing;
  private readonly bell: NativeDoorbell;
  private readonly reader: ChannelReader;
  private closed = false;

  /** onFrame: each frame a worker sent, in order, on this process's loop. */
  constructor(store: ObjectStore, onFrame: (r: Reader, type: number) => void) {
    this.fd = createRingSegment(COMPLETION_PARTICIPANTS);
    this.bellFd = createEventFd();
    this.ring = openRing(this.fd, true, COMPLETION_PARTICIPANTS);
    this.bell = openDoorbell(this.ring, this.bellFd);
    this.reader = new ChannelReader(this.ring, this.bell, store, onFrame);
  }

  /** Starts reading (the reader does not keep the loop alive until setRef(true)). */
  start(): void {
    this.reader.start();
    this.reader.setRef(false);
  }

  /** Whether reading keeps this process's event loop alive (while work is outstanding). */
  setRef(ref: boolean): void {
    this.reader.setRef(ref);
  }

  /** Reads what waits in the ring now. */
  pump(): void {
    this.reader.pump();
  }

  /** Repairs the ring after worker `pid` died mid-push; retries while messages wait for room. */
  recover(pid: number, attempt = 0): void {
    if (this.closed) return;
    try {
      const stats = this.ring.recover(pid);
      if (stats.completed + stats.requeued > 0) this.bell.notify();
      if (stats.pending > 0 && attempt < RECOVER_ATTEMPTS)
        setTimeout(() => this.recover(pid, attempt + 1), 10).unref();
    } catch (err) {
      warn(
        'SUNRAY_RING_REPAIR',
        `could not repair the completion ring after worker ${pid} died: ${(err as Error).message}`,
      );
    }
  }

  /** Stops reading and closes the fds (the workers are gone). */
  close(): void {
    this.closed = true;
    this.reader.stop();
    for (const fd of [this.fd, this.bellFd]) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}
