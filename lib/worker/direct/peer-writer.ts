// A writer into another worker's inbox, from the ring and eventfd fds the node
// manager sent on this worker's control socket (native fd passing, SCM_RIGHTS).
import { closeSync } from 'node:fs';
import { native } from '../../base/addon.js';
import { ChannelWriter, INBOX_PARTICIPANTS, openDoorbell, openRing } from '../../protocol/channel.js';
import type { ObjectStore } from '../../store/index.js';

export class PeerWriter {
  private constructor(
    readonly writer: ChannelWriter,
    private readonly bellFd: number,
  ) {}

  /**
   * Takes the next fds on the control socket: the node manager sends them before the frame
   * that announces them, so they are there when that frame is read.
   */
  static receive(controlFd: number, store: ObjectStore): PeerWriter {
    const fds = native.recvFds(controlFd);
    if (!fds || fds.length !== 2) {
      for (const fd of fds ?? []) closeQuietly(fd);
      throw new Error(
        `expected a ring and an eventfd on the control socket, got ${fds?.length ?? 'nothing'}`,
      );
    }
    const [ringFd, bellFd] = fds as [number, number];
    try {
      const ring = openRing(ringFd, false, INBOX_PARTICIPANTS);
      return new PeerWriter(new ChannelWriter(ring, openDoorbell(ring, bellFd), store), bellFd);
    } catch (err) {
      closeQuietly(bellFd);
      throw err;
    } finally {
      closeQuietly(ringFd); // the mapping stays; the eventfd is what the doorbell writes to
    }
  }

  /** Pushes what was sent and leaves the ring (its claim record is freed). */
  close(): void {
    this.writer.flush();
    this.writer.close();
    closeQuietly(this.bellFd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
