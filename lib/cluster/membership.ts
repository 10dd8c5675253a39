// This node's membership: joining (registering with the head), heartbeats and the
// node table that comes back with them (on the head: straight from its directory),
// rejoining when the head declared us dead, leaving, and what a node's death sets
// off here (the handlers given, in order: each part cleans up what it sent there).
import { ClusterConnectionError } from '../base/errors.js';
import { AUTOSCALER_LABEL } from '../protocol/autoscaler.js';
import { reportEvent } from '../protocol/events.js';
import type { Directory } from './directory.js';
import type { LocalNode } from './local-node.js';
import { ErrorCode, type Message, type NodeInfoMsg, type Parsed, type Resources } from './messages.js';
import { nodeIdle } from './node-idle.js';
import { NodeTable } from './node-table.js';
import { hasRoom, type NodeView } from './policy.js';

/** What membership uses of the connection to the head (the unit tests give a fake). */
export interface HeadConn {
  readonly open: boolean;
  readonly closed: boolean;
  send(m: Message): boolean;
  request(m: Message): Promise<Parsed>;
  requestCb(m: Message, cb: (p: Parsed | Error) => void): void;
  setRef(ref: boolean): void;
  close(reason: string, log?: boolean): void;
  /** Closes once what was sent is with the head (Conn.finish). */
  finish(reason: string, timeoutMs?: number): Promise<void>;
}

/** A part's cleanup when a node died: `where` names the node for messages. */
export type NodeDeathHandler = (nodeId: string, where: string) => void;

/** What Membership needs: this node, its table, the head (or its directory) and the parts to tell of deaths. */
export interface MembershipOptions {
  local: LocalNode;
  table: NodeTable;
  /** The head's directory (on the head only). */
  directory: Directory | undefined;
  head: boolean;
  isDriver: boolean;
  /** host:port of the head (not for the head itself). */
  headAddress: string | undefined;
  /** host:port this node listens at. */
  address: () => string;
  heartbeatTimeoutMs: number;
  dial: (address: string) => Promise<HeadConn>;
  /** What follows a node's death, in order. */
  onNodeDead: NodeDeathHandler[];
  /** After every node table taken (ownership ops for nodes unknown until now). */
  onTable: () => void;
  closed: () => boolean;
  /** Where losing and finding the head again is said (default: nowhere). */
  log?: (line: string) => void;
}

/** The first wait before joining again after a failed try; doubled per failure up to REJOIN_MAX_MS. */
export const REJOIN_MIN_MS = 250;
/** The longest wait between tries to reach a head that is gone (it may be restarting). */
export const REJOIN_MAX_MS = 5000;

/** This node's membership in the cluster (see the file comment). */
export class Membership {
  /** The connection to the head (non-head nodes): undefined while there is none. */
  headConn: HeadConn | undefined;
  private timer: NodeJS.Timeout | undefined;
  private headTimeoutMs = 0;
  /** A (re)join is under way: one at a time. */
  private joining = false;
  /** No new try before this time; the wait after the last failed one. */
  private nextJoinAt = 0;
  private rejoinWaitMs = 0;

  constructor(private readonly opts: MembershipOptions) {}

  /** Founds the cluster's table (the head) or joins the head's. */
  async start(): Promise<void> {
    if (this.opts.head) this.tick();
    else await this.join();
  }

  /** Heartbeats from now on (after start: the node is attached to its node manager). */
  startHeartbeats(): void {
    this.timer = setInterval(() => this.tick(), this.heartbeatInterval()).unref();
  }

  heartbeatInterval(): number {
    const timeout = Math.min(this.opts.heartbeatTimeoutMs, this.headTimeoutMs || Number.POSITIVE_INFINITY);
    return Math.max(100, Math.min(1000, Math.floor(timeout / 5)));
  }

  /** Heartbeats follow the head's timeout, whatever this node was started with. */
  private adoptTimeout(ms: number): void {
    if (!ms || ms === this.headTimeoutMs || this.opts.closed()) return;
    this.headTimeoutMs = ms;
    if (!this.timer) return; // startHeartbeats() sets it up next
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), this.heartbeatInterval()).unref();
  }

  /** Since when this node has been idle (NodeManager.idle), as of the last look; 0: busy then. */
  private idleSince = 0;

  /** How long this node has been idle (0: busy now), as heartbeats report it. */
  private idleMs(): number {
    // Drivers and the head are never removed: no need to look (a driver's store may be large).
    if (this.opts.isDriver || this.opts.head) return 0;
    const now = Date.now();
    if (!nodeIdle(this.opts.local)) this.idleSince = 0;
    else if (this.idleSince === 0) this.idleSince = now;
    return this.idleSince === 0 ? 0 : Math.max(1, now - this.idleSince);
  }

  /** This node as the directory lists it. */
  selfInfo(): NodeInfoMsg {
    const local = this.opts.local;
    const snap = local.loadSnapshot();
    return {
      nodeId: local.nodeId,
      address: this.opts.address(),
      total: local.pool.total(),
      available: snap.available,
      load: snap.load,
      alive: true,
      isHead: this.opts.head,
      isDriver: this.opts.isDriver,
      pendingTasks: snap.pending,
      infeasible: snap.infeasible,
      pendingActors: snap.pendingActors,
      actorsAwaitingProcess: snap.actorsAwaitingProcess,
      storeCapacity: local.opts.objectStoreMemory,
      labels: local.opts.labels ?? {},
      jobId: local.opts.driverJob?.jobId ?? '',
      idleMs: this.idleMs(),
      waitingActors: snap.waitingActors,
    };
  }

  private async join(): Promise<void> {
    const addr = this.opts.headAddress;
    if (!addr) throw new ClusterConnectionError('a non-head node needs the head address');
    if (!this.headConn || this.headConn.closed) this.headConn = await this.opts.dial(addr);
    const info = this.selfInfo();
    const reply = await this.headConn.request({
      t: 'register',
      nodeId: info.nodeId,
      address: info.address,
      resources: info.total,
      storeCapacity: info.storeCapacity,
      isDriver: info.isDriver,
      labels: info.labels,
      // A driver's node says which job it runs: the head's job table (listJobs) starts it.
      ...(this.opts.local.opts.driverJob ? { job: this.opts.local.opts.driverJob } : {}),
    });
    if (reply.msg.t !== 'nodeTable') throw new ClusterConnectionError(`the head refused to register us`);
    this.adoptTimeout(reply.msg.heartbeatTimeoutMs);
    this.applyTable(reply.msg.nodes);
  }

  /** One heartbeat: on the head, a sweep of its directory; elsewhere, a heartbeat to the head. */
  tick(): void {
    if (this.opts.closed()) return;
    const d = this.opts.directory;
    if (d) {
      d.upsert(this.selfInfo());
      d.sweep(this.opts.local.nodeId, this.heartbeatInterval());
      this.applyTable(d.table());
      return;
    }
    if (!this.headConn || this.headConn.closed) {
      // Lost the head (it died, or restarts): keep trying to (re)join; our work goes on meanwhile.
      this.rejoin();
      return;
    }
    const info = this.selfInfo();
    this.headConn.requestCb(
      {
        t: 'heartbeat',
        nodeId: info.nodeId,
        available: info.available,
        load: info.load,
        pendingTasks: info.pendingTasks,
        infeasible: info.infeasible,
        pendingActors: info.pendingActors,
        actorsAwaitingProcess: info.actorsAwaitingProcess,
        idleMs: info.idleMs,
        waitingActors: info.waitingActors,
      },
      (p) => {
        if (p instanceof Error) return;
        if (p.msg.t === 'nodeTable') {
          this.adoptTimeout(p.msg.heartbeatTimeoutMs);
          this.applyTable(p.msg.nodes);
        } else if (p.msg.t === 'error' && p.msg.code === ErrorCode.NotFound) {
          // The head declared us dead (we stalled, or it restarted): register again on the same
          // connection, which may carry transfers in flight.
          this.rejoin();
        }
      },
    );
  }

  /** One try to join again, unless one runs or the backoff after the last failure lasts. */
  private rejoin(): void {
    if (this.joining || Date.now() < this.nextJoinAt || this.opts.closed()) return;
    this.joining = true;
    this.join().then(
      () => {
        if (this.rejoinWaitMs > 0) this.opts.log?.(`rejoined the head at ${this.opts.headAddress}`);
        this.rejoinWaitMs = 0;
        this.nextJoinAt = 0;
        this.joining = false;
      },
      () => {
        this.rejoinWaitMs = Math.min(REJOIN_MAX_MS, Math.max(REJOIN_MIN_MS, this.rejoinWaitMs * 2));
        this.nextJoinAt = Date.now() + this.rejoinWaitMs;
        this.joining = false;
      },
    );
  }

  /** Nodes whose death was reported to the program (sunray.events' nodeDead), until they rejoin. */
  private readonly reportedDead = new Set<string>();

  /**
   * Takes a node table. The deaths it shows are handled once the whole table is in, so
   * that what they send elsewhere (retried tasks, restarted actors) sees every death.
   */
  private applyTable(nodes: NodeInfoMsg[]): void {
    const change = this.opts.table.apply(nodes);
    for (const id of change.added) {
      this.reportedDead.delete(id);
      const n = this.opts.table.get(id);
      if (!n) continue;
      const { address, isHead, isDriver } = n;
      reportEvent('nodeAdded', { nodeId: id, address, resources: { ...n.total }, isHead, isDriver });
    }
    for (const id of change.died) this.nodeDead(id);
    // Not news to the program (no nodeDead event), but what its processes owned here is gone.
    for (const id of change.unseenDead) this.opts.local.ownersDied(NodeTable.ownerPrefix(id));
    this.replaceInfeasible(change.joined);
    this.opts.onTable();
  }

  /**
   * Tasks queued here that this node can never run go to nodes that can. In a cluster whose
   * head runs an autoscaler (more nodes may come), as those have room: with each table (a
   * heartbeat's), as many as fit now; the rest wait here, reported as infeasible (its
   * demand), rather than piling onto the first node that joined. Elsewhere all at once, when
   * a node joins, queued where the placement puts them.
   */
  private replaceInfeasible(joined: boolean): void {
    const local = this.opts.local;
    const scaling = [...this.opts.table.values()].some((n) => n.isHead && n.labels[AUTOSCALER_LABEL]);
    if (!scaling) {
      if (joined) for (const t of local.takeInfeasible()) local.submit(t.spec, t.def, t.owner);
      return;
    }
    let views: NodeView[] | undefined;
    const room = (demand: Resources): boolean => {
      views ??= this.opts.table.others().map((v) => ({ ...v, load: { ...v.load } }));
      const n = views.find((v) => hasRoom(v, demand));
      if (!n) return false;
      for (const [k, v] of Object.entries(demand)) n.load[k] = (n.load[k] ?? 0) + v;
      return true;
    };
    for (const t of local.takeInfeasible(room)) local.submit(t.spec, t.def, t.owner);
  }

  /**
   * A node died (the table says so, or it could not be reached for what we sent it): each
   * part cleans up what it had there. Its connections are left alone: a node that died
   * closed them itself, and one that only stalled past the timeout keeps serving what is in
   * flight (it rejoins as a new member). Once this node closes, nothing is retried here:
   * its node manager is shutting down and would refuse what the parts resubmit.
   */
  nodeDead(nodeId: string): void {
    if (nodeId === this.opts.local.nodeId || this.opts.closed()) return;
    const info = this.opts.table.get(nodeId);
    const where = `node ${nodeId.slice(0, 8)} (${info?.address ?? '?'})`;
    // Once per death: the table may confirm a death found by an unreachable node first.
    if (!this.reportedDead.has(nodeId)) reportEvent('nodeDead', { nodeId, address: info?.address ?? '' });
    this.reportedDead.add(nodeId);
    for (const h of this.opts.onNodeDead) h(nodeId, where);
  }

  /** A connection closed: the head's, if it was that one. */
  connClosed(c: unknown): void {
    if (c !== this.headConn) return;
    this.headConn = undefined;
    if (!this.opts.closed())
      this.opts.log?.(
        `lost the connection to the head at ${this.opts.headAddress}; trying to rejoin (work goes on)`,
      );
  }

  /**
   * Stops heartbeats and tells the head this node leaves: exitCode is a driver's process exit
   * code when it leaves because the process exits (-1: it shut down), which ends its job.
   */
  leave(exitCode = -1): void {
    if (this.timer) clearInterval(this.timer);
    if (this.headConn?.open && !this.headConn.closed) {
      this.headConn.send({ t: 'leave', nodeId: this.opts.local.nodeId, exitCode });
    }
  }
}
