// The actor's side of direct calls: a writer into the inbox of each caller that
// has a direct channel to it, by the caller's worker index. Results of calls
// that came straight from a caller go straight back (Msg.DirectResult).

import { warn } from '../../base/warnings.js';
import type { ChannelWriter } from '../../protocol/channel.js';
import type { ObjectStore } from '../../store/index.js';
import { PeerWriter } from './peer-writer.js';

export class CallerPeers {
  private readonly peers = new Map<number, PeerWriter>();

  constructor(
    private readonly controlFd: number,
    private readonly store: ObjectStore,
  ) {}

  /** Msg.PeerOpen: caller `index` will send calls here; its inbox fds are on the control socket. */
  open(index: number): void {
    this.peers.get(index)?.close();
    this.peers.delete(index);
    try {
      this.peers.set(index, PeerWriter.receive(this.controlFd, this.store));
    } catch (err) {
      // Its calls still get answers: without a writer they go by the node manager (relay).
      warn('SUNRAY_DIRECT_CHANNEL', `no direct channel back to worker ${index}: ${(err as Error).message}`);
    }
  }

  /** Msg.PeerGone: the caller exited; its results have nowhere to go. */
  gone(index: number): void {
    this.peers.get(index)?.close();
    this.peers.delete(index);
  }

  /** The writer into caller `index`'s inbox, if it has a channel here. */
  writerOf(index: number): ChannelWriter | undefined {
    return this.peers.get(index)?.writer;
  }

  closeAll(): void {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
  }
}
