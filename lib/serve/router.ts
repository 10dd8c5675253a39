// Which replica a request goes to, as Ray Serve's router decides: among the replicas with a
// free slot (fewer than maxOngoingRequests in flight from this caller), those on the caller's
// own node first (calls between processes of one node take the direct path), pick two at
// random and take the one with fewer requests in flight (power of two choices). When every
// replica is full the request waits in this caller's queue, first come first served; past
// maxQueuedRequests it is refused at once (HTTP 503, BackPressureError). No I/O here: the
// proxy and handles feed it the replica set and tell it when requests end.

/** A replica as a router sees it. */
export interface RoutedReplica {
  readonly id: string;
  readonly nodeId: string;
}

interface Waiter<R> {
  resolve(r: R): void;
  reject(err: unknown): void;
}

/** A request waiting for a slot: `promise` gives the replica; `cancel` drops it (false if it got one). */
export interface Waiting<R> {
  readonly promise: Promise<R>;
  cancel(err: unknown): boolean;
}

/** Returned by `acquire` when the queue is full. */
export const QUEUE_FULL = Symbol('queue full');

/** The replicas of one deployment, the requests this caller has in flight on each, and its queue. */
export class ReplicaRouter<R extends RoutedReplica> {
  private replicas: R[] = [];
  private readonly inflight = new Map<string, number>();
  private readonly waiters: Waiter<R>[] = [];
  maxOngoing: number;
  maxQueued: number;

  constructor(
    opts: { maxOngoing: number; maxQueued: number; localNodeId?: string },
    private readonly random: () => number = Math.random,
  ) {
    this.maxOngoing = opts.maxOngoing;
    this.maxQueued = opts.maxQueued;
    this.localNodeId = opts.localNodeId;
  }

  readonly localNodeId: string | undefined;

  /** The current replicas (from the controller). Counts of replicas that stay are kept. */
  update(replicas: R[], limits?: { maxOngoing: number; maxQueued: number }): void {
    this.replicas = [...replicas];
    const ids = new Set(replicas.map((r) => r.id));
    for (const id of [...this.inflight.keys()]) if (!ids.has(id)) this.inflight.delete(id);
    if (limits) {
      this.maxOngoing = limits.maxOngoing;
      this.maxQueued = limits.maxQueued;
    }
    this.drainQueue();
  }

  /** Stops sending to a replica (it died) until the controller lists it again. */
  remove(id: string): void {
    this.replicas = this.replicas.filter((r) => r.id !== id);
    this.inflight.delete(id);
  }

  /** Requests in flight from this caller on a replica. */
  ongoing(id: string): number {
    return this.inflight.get(id) ?? 0;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  /** Replicas known. */
  get size(): number {
    return this.replicas.length;
  }

  /** The replicas known, for callers that must reach one in particular. */
  list(): readonly R[] {
    return this.replicas;
  }

  /** A replica with a free slot, chosen by power of two choices (local node first), or undefined. */
  choose(exclude?: string): R | undefined {
    let free: R[] = [];
    let local: R[] = [];
    for (const r of this.replicas) {
      if (r.id === exclude || this.ongoing(r.id) >= this.maxOngoing) continue;
      free.push(r);
      if (this.localNodeId !== undefined && r.nodeId === this.localNodeId) local.push(r);
    }
    if (local.length > 0) free = local;
    else local = free;
    if (free.length === 0) return undefined;
    if (free.length === 1) return free[0];
    const i = Math.floor(this.random() * free.length);
    let j = Math.floor(this.random() * (free.length - 1));
    if (j >= i) j++;
    const a = free[i];
    const b = free[j];
    if (!a || !b) return a ?? b;
    return this.ongoing(b.id) < this.ongoing(a.id) ? b : a;
  }

  /**
   * Takes a slot: a replica at once, a promise of one when all are full (queued), or QUEUE_FULL
   * when the queue is at maxQueuedRequests. `exclude`: a replica not to use (a retry).
   */
  acquire(exclude?: string): R | Waiting<R> | typeof QUEUE_FULL {
    if (this.waiters.length === 0) {
      const r = this.choose(exclude);
      if (r) {
        this.take(r);
        return r;
      }
    }
    if (this.maxQueued >= 0 && this.waiters.length >= this.maxQueued) return QUEUE_FULL;
    let waiter!: Waiter<R>;
    const promise = new Promise<R>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    this.waiters.push(waiter);
    return {
      promise,
      cancel: (err) => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return false;
        this.waiters.splice(i, 1);
        waiter.reject(err);
        return true;
      },
    };
  }

  /** Gives a slot back (the request ended) and hands free slots to waiting requests. */
  release(r: R): void {
    const n = this.inflight.get(r.id);
    if (n !== undefined) {
      if (n <= 1) this.inflight.delete(r.id);
      else this.inflight.set(r.id, n - 1);
    }
    this.drainQueue();
  }

  /** Fails every waiting request (the deployment is gone). */
  failAll(err: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private take(r: R): void {
    this.inflight.set(r.id, this.ongoing(r.id) + 1);
  }

  private drainQueue(): void {
    while (this.waiters.length > 0) {
      const r = this.choose();
      if (!r) return;
      const waiter = this.waiters.shift();
      if (!waiter) return;
      this.take(r);
      waiter.resolve(r);
    }
  }
}
