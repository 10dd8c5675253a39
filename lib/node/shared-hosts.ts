// Where shared actors (isolation: 'shared') live on this node: host processes that each hold
// many of them. A new shared actor goes to a new host while the node has fewer hosts than
// CPUs (so their calls use every core), then to the host with the fewest actors that has
// room under the actor's actorsPerProcess; only when every host is full does another start.
// A host whose last actor left is stopped. The actor manager decides when an actor comes
// and goes; this decides where.
import type { WorkerPool } from './worker-pool.js';
import type { WorkerSlot } from './worker-slot.js';

/** What the hosts need of the worker pool (worker-pool.ts). */
export type HostWorkers<W extends WorkerSlot> = Pick<
  WorkerPool<W>,
  'mayStart' | 'hostSharedWarm' | 'spawnSharedHost'
>;

/** The node's shared-actor host processes and how many actors each holds. */
export class SharedHosts<W extends WorkerSlot> {
  private readonly hosts = new Set<W>();

  constructor(
    private readonly workers: HostWorkers<W>,
    /** How many hosts to spread over before packing (the node's CPUs, at least 1). */
    private readonly spread: () => number,
  ) {}

  /**
   * The host for one more shared actor that allows `perHost` actors a host: a new one while
   * there are fewer than `spread()` (warm from the pool when one is idle), else the least
   * full with room, else a new one. undefined when it must wait (no room, and no process may
   * start now); the host's count includes the actor from here on.
   */
  place(perHost: number): W | undefined {
    let best: W | undefined;
    for (const h of this.hosts) {
      if (h.exited || h.stopRequested) {
        this.hosts.delete(h);
        continue;
      }
      if (h.guests < perHost && (best === undefined || h.guests < best.guests)) best = h;
    }
    const w = best !== undefined && this.hosts.size >= this.spread() ? best : (this.start() ?? best);
    if (w === undefined) return undefined;
    w.guestJoined();
    return w;
  }

  private start(): W | undefined {
    const w =
      this.workers.hostSharedWarm() ?? (this.workers.mayStart() ? this.workers.spawnSharedHost() : undefined);
    if (w !== undefined) this.hosts.add(w);
    return w;
  }

  /** An actor left host w alive (dropped there): w is stopped once it holds none. */
  left(w: W): void {
    w.guestLeft();
    if (w.guests > 0 || w.exited || w.stopRequested) return;
    this.hosts.delete(w);
    w.retire(); // an expected exit, never handed work again
    void w.stop();
  }
}
