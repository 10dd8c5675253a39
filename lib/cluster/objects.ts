// Objects moving between nodes: a get here of an object owned elsewhere (pulled
// from its owner's node, once per object however many wait), the arguments of a
// task forwarded here (pulled from the node that sent it), results copied home to
// their owner's node, serving pulls, and freeing copies.
//
// An owner's objects live in its own node's store (Ray keeps them where they were
// made and records locations with the owner; we copy results home instead, so an
// object id alone says where to pull from: its owner id starts with its node's id).
// Copies pulled elsewhere are secondary: evictable.
import type { FetchOutcome } from '../node/cluster-hooks.js';
import { ObjectId, type ObjectStore } from '../store/index.js';
import type { Conn } from './connection.js';
import { ErrorCode, type Message } from './messages.js';
import type { NodeTable } from './node-table.js';
import type { Peers } from './peers.js';
import { type PullOutcome, pullObject, servePull } from './transfer.js';

/** What forwarding uses of object movement (its unit tests give a fake). */
export interface ObjectMover {
  /** Pulls an argument of a task forwarded here from the node that sent it (or its owner's). */
  pullArg(origin: string, id: Buffer): Promise<PullOutcome>;
  /** Copies a result home (here) from the node that sent it; its copy there is primary here. */
  copyHome(from: Conn, objectId: Buffer): Promise<PullOutcome>;
  /** Deletes this node's copy, if any. */
  freeLocal(objectId: Buffer): void;
  /** Tells nodeId to delete its copy (only over a connection that is open: it is a hint). */
  sendFree(nodeId: string | undefined, objectId: Buffer): void;
}

/** What object movement needs: the store, the table, connections. */
export interface ObjectsOptions {
  store: ObjectStore;
  table: NodeTable;
  peers: Pick<Peers, 'peer' | 'pullConn' | 'connected'>;
  heartbeatTimeoutMs: number;
  closed: () => boolean;
  /** A fetch started or ended (a driver stays alive while one runs). */
  changed: () => void;
}

/** Objects moving between this node and the others (see the file comment). */
export class Objects implements ObjectMover {
  private readonly fetching = new Map<string, Promise<FetchOutcome>>();
  private readonly argPulls = new Map<string, Promise<PullOutcome>>();

  constructor(private readonly opts: ObjectsOptions) {}

  /** Fetches running (the node is busy meanwhile). */
  get busy(): boolean {
    return this.fetching.size > 0;
  }

  /** Makes the object readable in this node's store: pulled from its owner's node. */
  fetch(objectId: Buffer, timeoutMs: number | undefined): Promise<FetchOutcome> {
    const oid = ObjectId.fromBytes(objectId);
    if (this.opts.store.contains(oid)) return Promise.resolve('ok');
    const hex = objectId.toString('hex');
    const running = this.fetching.get(hex);
    if (running) return running; // the same object is pulled once per node
    const p = this.fetchFromOwnerNode(objectId, timeoutMs).finally(() => {
      this.fetching.delete(hex);
      this.opts.changed();
    });
    this.fetching.set(hex, p);
    this.opts.changed();
    return p;
  }

  private async fetchFromOwnerNode(objectId: Buffer, timeoutMs: number | undefined): Promise<FetchOutcome> {
    const started = Date.now();
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : started + timeoutMs;
    const oid = ObjectId.fromBytes(objectId);
    const { store, table } = this.opts;
    for (;;) {
      if (this.opts.closed()) return 'lost';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      if (table.ownedHere(objectId)) {
        // Owned here: its value comes to this store (results are copied home).
        const [o] = await store.get([oid], { timeout: Math.min(left, 1000) });
        o?.release();
        if (o) return 'ok';
        continue;
      }
      const owner = table.ownerNode(objectId);
      if (!owner) {
        // A node that joined after our last node table: wait for the table that names it.
        if (Date.now() - started > this.opts.heartbeatTimeoutMs * 2) return 'lost';
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // The owner's node is gone, and the owner (which counted this object's refs) with it.
      if (!owner.alive) return 'ownerDied';
      try {
        const c = await this.opts.peers.peer(owner.nodeId);
        const wait = Math.max(1, Math.min(left, 1000));
        const r = await pullObject(c, store, objectId, { primary: false, waitMs: wait });
        if (r === 'ok') return 'ok';
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Pulls an argument from the node that sent the task; once per object however many tasks need it. */
  pullArg(origin: string, id: Buffer): Promise<PullOutcome> {
    const hex = id.toString('hex');
    let p = this.argPulls.get(hex);
    if (!p) {
      p = this.pullFrom(origin, id, 10_000)
        .then(async (r) => {
          // The sender's copy may have been a cache it evicted meanwhile: the owner's node has it.
          const owner = this.opts.table.ownerNode(id);
          if (
            r === 'missing' &&
            owner &&
            owner.alive &&
            owner.nodeId !== origin &&
            owner.nodeId !== this.opts.table.selfId
          ) {
            return this.pullFrom(owner.nodeId, id, 1000);
          }
          return r;
        })
        .finally(() => this.argPulls.delete(hex));
      this.argPulls.set(hex, p);
    }
    return p;
  }

  private async pullFrom(nodeId: string, id: Buffer, waitMs: number): Promise<PullOutcome> {
    const c = await this.opts.peers.pullConn(nodeId);
    return pullObject(c, this.opts.store, id, { primary: false, waitMs });
  }

  copyHome(from: Conn, objectId: Buffer): Promise<PullOutcome> {
    // Pulled from the node that sent the result (after a retry elsewhere it need not be where
    // the task was first sent), over a connection that reads in place if one can be had.
    return this.opts.peers
      .pullConn(from.peerId)
      .catch(() => from)
      .then((c) => pullObject(c, this.opts.store, objectId, { primary: true, waitMs: 10_000 }));
  }

  freeLocal(objectId: Buffer): void {
    try {
      this.opts.store.delete(ObjectId.fromBytes(objectId));
    } catch {
      // gone
    }
  }

  sendFree(nodeId: string | undefined, objectId: Buffer): void {
    if (!nodeId) return;
    const c = this.opts.peers.connected(nodeId);
    if (c?.open && !c.closed) c.send({ t: 'free', objectId });
  }

  /** Another node pulls a chunk of an object here. */
  servePull(c: Conn, requestId: bigint, m: Extract<Message, { t: 'pull' }>): void {
    servePull(this.opts.store, c, requestId, m).catch((err) =>
      c.reply(requestId, { t: 'error', code: ErrorCode.Internal, message: (err as Error).message }),
    );
  }
}
