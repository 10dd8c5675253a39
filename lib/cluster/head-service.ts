// What the head answers other nodes (and `sunray status`): register, heartbeat,
// leave, status, and the directory's KV. It also watches each node's link to the
// head: that link closing is the fastest sign of the node's death. A node that is
// not the head refuses all of these.
import type { Conn } from './connection.js';
import type { Directory } from './directory.js';
import { ErrorCode, type Message, type NodeInfoMsg, type Parsed } from './messages.js';

/** What the head service needs: the directory, and the head's own record and heartbeat. */
export interface HeadServiceOptions {
  /** The head's directory; undefined on other nodes. */
  directory: Directory | undefined;
  /** The head itself as the directory lists it. */
  selfInfo: () => NodeInfoMsg;
  /** Runs the head's heartbeat now (a registered node is in everyone's next table). */
  tick: () => void;
  log: (line: string) => void;
}

/** Answers what other nodes ask the head; other nodes refuse (see the file comment). */
export class HeadService {
  /** Each registered node's connection to the head. */
  private readonly headLinks = new Map<Conn, string>();

  constructor(private readonly opts: HeadServiceOptions) {}

  onMessage(c: Conn, p: Parsed): void {
    const m = p.msg;
    const d = this.opts.directory;
    if (!d) {
      c.reply(p.requestId, {
        t: 'error',
        code: ErrorCode.Refused,
        message: `${m.t}: this node is not the head`,
      });
      return;
    }
    const table = (): Message => ({
      t: 'nodeTable',
      nodes: d.table(),
      heartbeatTimeoutMs: d.heartbeatTimeoutMs,
    });
    switch (m.t) {
      case 'register':
        d.upsert({
          nodeId: m.nodeId,
          address: m.address,
          total: m.resources,
          available: m.resources,
          load: {},
          alive: true,
          isHead: false,
          isDriver: m.isDriver,
          pendingTasks: 0,
          infeasible: {},
          pendingActors: 0,
          actorsAwaitingProcess: 0,
          storeCapacity: m.storeCapacity,
          labels: m.labels,
          jobId: m.job?.jobId ?? '',
          idleMs: 0,
          waitingActors: {},
        });
        if (m.job) d.jobs.started(m.nodeId, m.job);
        this.headLinks.set(c, m.nodeId);
        c.reply(p.requestId, table());
        this.opts.tick();
        return;
      case 'heartbeat':
        if (d.heartbeat(m.nodeId, m)) c.reply(p.requestId, table());
        else c.reply(p.requestId, { t: 'error', code: ErrorCode.NotFound, message: 'register again' });
        return;
      case 'leave':
        d.jobs.left(m.nodeId, m.exitCode);
        d.markDead(m.nodeId, 'it left the cluster');
        return;
      case 'status':
        d.upsert(this.opts.selfInfo());
        c.reply(p.requestId, table());
        return;
      case 'kvPut': {
        const before = d.kvGet(m.namespace, m.key);
        const stored = d.kvPut(m.namespace, m.key, m.value, m.overwrite);
        // found: the key was there and kept (a claim that lost), with what it holds.
        c.reply(p.requestId, {
          t: 'kvReply',
          found: !stored,
          value: stored || before === undefined ? Buffer.alloc(0) : before,
        });
        return;
      }
      case 'kvDelete': {
        const deleted = d.kvDelete(m.namespace, m.key, m.ifValue);
        c.reply(p.requestId, { t: 'kvReply', found: deleted, value: Buffer.alloc(0) });
        return;
      }
      case 'kvGet': {
        const v = d.kvGet(m.namespace, m.key);
        c.reply(p.requestId, { t: 'kvReply', found: v !== undefined, value: v ?? Buffer.alloc(0) });
        return;
      }
      default:
        this.opts.log(`ignored an unexpected ${m.t} message from ${c.remote}`);
    }
  }

  /** A connection closed: if it was a node's link to the head, that node is dead. */
  connClosed(c: Conn): void {
    const linked = this.headLinks.get(c);
    if (linked === undefined) return;
    this.headLinks.delete(c);
    // kill -9 closes a node's sockets: its link closing is the fastest sign of its death.
    this.opts.directory?.markDead(linked, 'its connection to the head closed');
  }
}
