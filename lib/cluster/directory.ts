// The head's directory: the nodes of the cluster with their resources (live,
// from heartbeats), the jobs of their drivers (job-table.ts), and a small KV (actor
// locations, named actors, libraries). Object locations are not here: they live with
// their owners. With a HeadState (head-state.ts) all three are saved on each change and
// taken back when the head starts again (persistTo).
import { namespacedKey } from '../protocol/namespaced-key.js';
import type { HeadState } from './head-state.js';
import { JobTable } from './job-table.js';
import type { NodeInfoMsg } from './messages.js';

interface NodeRec {
  info: NodeInfoMsg;
  lastSeen: number;
  diedAt: number;
}

/** Dead nodes stay listed this long, so every node hears of the death. */
const FORGET_DEAD_MS = 60_000;
/** Drivers get this many heartbeat timeouts before they are declared dead. */
const DRIVER_GRACE = 3;

/**
 * The head's table of nodes (liveness from heartbeats: a node silent past the timeout is
 * marked dead, and dead ones are forgotten after a while) and its small KV store.
 */
export class Directory {
  private readonly nodes = new Map<string, NodeRec>();
  private readonly kv = new Map<string, Buffer>();
  private lastSweep = 0;
  /** The drivers' jobs: started when their node registers, ended when it leaves or dies. */
  readonly jobs = new JobTable();
  /** Called after each change worth saving (persistTo sets it). */
  private changed: () => void = () => {};

  constructor(
    readonly heartbeatTimeoutMs: number,
    private readonly log: (line: string) => void,
    private readonly onDeath: (nodeId: string) => void,
  ) {}

  /**
   * Saves the nodes, the KV and the jobs into `state` from now on, and registers them so that
   * state.load() takes them back. Restored nodes count as alive for a heartbeat timeout from
   * now: those that outlived the head rejoin meanwhile, the others are then declared dead.
   * The head that saved them (`selfId` is the new one) is dead at once.
   */
  persistTo(state: HeadState, selfId: string): void {
    this.changed = () => state.changed();
    this.jobs.onChange = () => state.changed();
    state.persist(
      'nodes',
      () => [...this.nodes.values()].map((r) => r.info),
      (saved) => {
        const now = Date.now();
        for (const info of saved as NodeInfoMsg[]) {
          if (info.nodeId === selfId) continue;
          const alive = info.alive && !info.isHead;
          this.nodes.set(info.nodeId, { info: { ...info, alive }, lastSeen: now, diedAt: alive ? 0 : now });
        }
      },
    );
    state.persist(
      'kv',
      () => [...this.kv].map(([k, v]) => [k, v.toString('base64')]),
      (saved) => {
        for (const [k, v] of saved as [string, string][]) this.kv.set(k, Buffer.from(v, 'base64'));
      },
    );
    state.persist(
      'jobs',
      () => this.jobs.save(),
      (saved) => this.jobs.restore(saved),
    );
  }

  /** A node registered (joined, or rejoined after it was declared dead): alive from now. */
  upsert(info: NodeInfoMsg): void {
    const rec = this.nodes.get(info.nodeId);
    const now = Date.now();
    if (!rec) {
      this.nodes.set(info.nodeId, { info: { ...info, alive: true }, lastSeen: now, diedAt: 0 });
      this.log(
        `node ${info.nodeId.slice(0, 8)} joined at ${info.address} with ${JSON.stringify(info.total)}`,
      );
      this.changed();
      return;
    }
    if (!rec.info.alive) this.log(`node ${info.nodeId.slice(0, 8)} rejoined at ${info.address}`);
    if (!rec.info.alive || rec.info.address !== info.address) this.changed();
    rec.info = { ...rec.info, ...info, alive: true };
    rec.lastSeen = now;
  }

  /** A node's heartbeat: its load now. False if the node is unknown or dead (it must register again). */
  heartbeat(
    nodeId: string,
    h: Pick<
      NodeInfoMsg,
      | 'available'
      | 'load'
      | 'pendingTasks'
      | 'infeasible'
      | 'pendingActors'
      | 'actorsAwaitingProcess'
      | 'idleMs'
      | 'waitingActors'
    >,
  ): boolean {
    const rec = this.nodes.get(nodeId);
    if (!rec || !rec.info.alive) return false; // unknown or declared dead: it must register again
    rec.info.available = h.available;
    rec.info.load = h.load;
    rec.info.pendingTasks = h.pendingTasks;
    rec.info.infeasible = h.infeasible;
    rec.info.pendingActors = h.pendingActors;
    rec.info.actorsAwaitingProcess = h.actorsAwaitingProcess;
    rec.info.idleMs = h.idleMs;
    rec.info.waitingActors = h.waitingActors;
    rec.lastSeen = Date.now();
    return true;
  }

  /** Declares a live node dead (logged with why) and tells onDeath. */
  markDead(nodeId: string, why: string): void {
    const rec = this.nodes.get(nodeId);
    if (!rec || !rec.info.alive) return;
    rec.info.alive = false;
    rec.diedAt = Date.now();
    this.changed();
    this.jobs.died(nodeId, why);
    this.log(`node ${nodeId.slice(0, 8)} (${rec.info.address}) is dead: ${why}`);
    this.onDeath(nodeId);
  }

  /** Marks nodes silent for longer than the timeout as dead; forgets long-dead ones. */
  sweep(selfId: string, intervalMs: number): void {
    const now = Date.now();
    // If the head itself stalled (a long synchronous call in a driver that is the head), it
    // read no heartbeats meanwhile: that is no sign of anyone's death, so start counting anew.
    const stalled = this.lastSweep > 0 && now - this.lastSweep > Math.max(3 * intervalMs, 1000);
    this.lastSweep = now;
    if (stalled) {
      for (const rec of this.nodes.values()) rec.lastSeen = now;
      return;
    }
    for (const [id, rec] of this.nodes) {
      if (id === selfId) continue;
      // A driver's heartbeats come from its event loop, which user code may hold for a while.
      const timeout = rec.info.isDriver ? this.heartbeatTimeoutMs * DRIVER_GRACE : this.heartbeatTimeoutMs;
      if (rec.info.alive && now - rec.lastSeen > timeout) {
        this.markDead(id, `no heartbeat for ${timeout} ms`);
      } else if (!rec.info.alive && now - rec.diedAt > FORGET_DEAD_MS) {
        this.nodes.delete(id);
        this.changed();
      }
    }
  }

  /**
   * Copies of the records: the head's own ClusterNode keeps the table it was given and
   * compares the next one against it (a node found dead since), so they must not change under it.
   */
  table(): NodeInfoMsg[] {
    return [...this.nodes.values()].map((r) => ({ ...r.info }));
  }

  /** Stores value under ns/key; without overwrite, only if the key is free. True if stored. */
  kvPut(ns: string, key: string, value: Buffer, overwrite: boolean): boolean {
    const k = namespacedKey(ns, key);
    if (!overwrite && this.kv.has(k)) return false;
    this.kv.set(k, value);
    this.changed();
    return true;
  }

  /** The value under ns/key, if any. */
  kvGet(ns: string, key: string): Buffer | undefined {
    return this.kv.get(namespacedKey(ns, key));
  }

  /** Deletes a key; with ifValue, only while it still holds exactly that. */
  kvDelete(ns: string, key: string, ifValue?: Buffer): boolean {
    const k = namespacedKey(ns, key);
    const cur = this.kv.get(k);
    if (cur === undefined || (ifValue && ifValue.length > 0 && !cur.equals(ifValue))) return false;
    this.kv.delete(k);
    this.changed();
    return true;
  }
}
