// Ownership across nodes (Ray's borrower protocol between nodes): ownership ops
// for owners on other nodes go to the owner's node in batches, each acknowledged
// once the ops are with their owners; the gate that holds this node's later sends
// (results) until the ops sent before them are acknowledged; ops for nodes not in
// the table yet; owners that died (a process here exited, a node died, or the
// owner's node answered that they are gone); and the ops other nodes send here.
import { OBJECT_ID_SIZE, OWNER_ID_SIZE, ownerHexOf } from '../base/ids.js';
import type { ResultSink } from '../node/owner-router.js';
import { REF_OP_SIZE, RefOp } from '../protocol/ref-ops.js';
import type { LocalNode } from './local-node.js';
import type { Message, Parsed } from './messages.js';
import { NodeTable } from './node-table.js';
import type { PeerLinks } from './peers.js';

/**
 * Sends held back until the ownership ops sent before them to other nodes are
 * acknowledged. Ops are numbered as they are sent; a held send waits for every op
 * numbered up to the moment it was made, except those to its own destination (they
 * go ahead of it on the same connection). Held sends leave in the order they were made.
 */
export class RefOpGate {
  /** Ops sent and not yet acknowledged: their number -> the node ('' while unknown). */
  private readonly unacked = new Map<number, string>();
  private sent = 0;
  private readonly held: Array<{ after: number; to: string; send: () => void }> = [];

  /** Numbers a batch of ops sent (or about to be) to nodeId. */
  opened(nodeId: string): number {
    const seq = ++this.sent;
    this.unacked.set(seq, nodeId);
    return seq;
  }

  /** The batch seq, made for a node unknown then, goes to nodeId now. */
  retarget(seq: number, nodeId: string): void {
    this.unacked.set(seq, nodeId);
  }

  /** Runs send now, or once the ops sent so far to nodes other than `to` are acknowledged. */
  after(to: string, send: () => void): void {
    if (this.held.length === 0 && !this.mustWait(to, this.sent)) {
      send();
      return;
    }
    this.held.push({ after: this.sent, to, send });
  }

  /** The batch seq was acknowledged (or given up on): held sends it no longer blocks go, in order. */
  acked(seq: number): void {
    if (!this.unacked.delete(seq)) return;
    for (let h = this.held[0]; h !== undefined; h = this.held[0]) {
      if (this.mustWait(h.to, h.after)) break;
      this.held.shift();
      h.send();
    }
  }

  private mustWait(to: string, upTo: number): boolean {
    for (const [seq, nodeId] of this.unacked) if (seq <= upTo && nodeId !== to) return true;
    return false;
  }
}

/** What the ownership link needs: the node manager, the table, connections. */
export interface OwnershipLinkOptions {
  local: LocalNode;
  /** ownerNode() and the alive nodes. */
  table: Pick<NodeTable, 'ownerNode' | 'values' | 'selfId'>;
  peers: PeerLinks;
  heartbeatTimeoutMs: number;
}

/** Ownership ops between this node and the others (see the file comment). */
export class OwnershipLink {
  readonly gate = new RefOpGate();
  /** Ops for owners on nodes that were unknown when they were made: sent once the table names their node. */
  private readonly forUnknown: Array<{ op: Buffer; sender: ResultSink; seq: number; since: number }> = [];

  constructor(private readonly opts: OwnershipLinkOptions) {}

  /**
   * Ownership ops for owners on other nodes: a process here borrowed a ref, or a value made
   * here contains one. Each batch goes to the owner's node, which acknowledges it once the
   * ops are with their owners. Until then, results this node sends to any third node wait
   * (gate.after): a result can let its owner drop the task's arguments, and the borrower's
   * registration must be at the ref's owner before such a release, or the owner could free
   * what is still borrowed. Results to the owner's own node need not wait: they follow the
   * ops on the same connection.
   */
  send(ops: Buffer, sender: ResultSink): void {
    const byNode = new Map<string, Buffer[]>();
    for (let pos = 0; pos + REF_OP_SIZE <= ops.length; pos += REF_OP_SIZE) {
      const op = ops.subarray(pos, pos + REF_OP_SIZE);
      const node = this.opts.table.ownerNode(op.subarray(1, 1 + OBJECT_ID_SIZE));
      if (!node) {
        // A node this one has not heard of yet (it joined since our last node table): the
        // ops wait for the table that names it.
        const seq = this.gate.opened('');
        this.forUnknown.push({ op: Buffer.from(op), sender, seq, since: Date.now() });
        continue;
      }
      if (!node.alive) {
        this.ownerGone(op, sender);
        continue;
      }
      const list = byNode.get(node.nodeId);
      if (list) list.push(op);
      else byNode.set(node.nodeId, [op]);
    }
    for (const [nodeId, list] of byNode) {
      const seq = this.gate.opened(nodeId);
      const only = list.length === 1 ? list[0] : undefined; // one op: sent without a copy
      this.sendBatch(nodeId, only ?? Buffer.concat(list), seq);
    }
  }

  /** After each node table: ops waiting for their node go to it, or learn that it is gone. */
  retryForUnknown(): void {
    if (this.forUnknown.length === 0) return;
    const waiting = this.forUnknown.splice(0);
    const giveUpBefore = Date.now() - this.opts.heartbeatTimeoutMs * 2;
    for (const w of waiting) {
      const node = this.opts.table.ownerNode(w.op.subarray(1, 1 + OBJECT_ID_SIZE));
      if (node?.alive) {
        this.gate.retarget(w.seq, node.nodeId);
        this.sendBatch(node.nodeId, w.op, w.seq);
      } else if (node || w.since < giveUpBefore) {
        this.ownerGone(w.op, w.sender);
        this.gate.acked(w.seq);
      } else {
        this.forUnknown.push(w);
      }
    }
  }

  /** An op whose owner's node is gone, and the owner with it: a new borrower learns it now. */
  private ownerGone(op: Buffer, sender: ResultSink): void {
    if (op[0] === RefOp.AddBorrower) this.opts.local.tellOwnerDied(sender, ownerHexOf(op.subarray(1)));
  }

  private sendBatch(nodeId: string, ops: Buffer, seq: number): void {
    // A node that stalls is declared dead within the heartbeat timeout; past it, stop waiting.
    const timer = setTimeout(() => this.gate.acked(seq), this.opts.heartbeatTimeoutMs * 2).unref();
    const done = (p: Parsed | Error) => {
      clearTimeout(timer);
      if (!(p instanceof Error) && p.msg.t === 'refOpsAck') this.ownersDiedIn(p.msg.deadOwners);
      this.gate.acked(seq);
    };
    this.opts.peers.peer(nodeId).then((c) => c.requestCb({ t: 'refOps', ops }, done), done);
  }

  /** Owner ids back to back: each of them is dead. */
  private ownersDiedIn(ids: Buffer): void {
    for (let i = 0; i + OWNER_ID_SIZE <= ids.length; i += OWNER_ID_SIZE) {
      this.opts.local.ownersDied(ids.subarray(i, i + OWNER_ID_SIZE).toString('hex'));
    }
  }

  /** Ops another node sent for owners here: acknowledged with the owners among them that are gone. */
  onRefOps(
    c: { reply(requestId: bigint, m: Message): void },
    requestId: bigint,
    m: Extract<Message, { t: 'refOps' }>,
  ): void {
    const dead = this.opts.local.routeRemoteRefOps(m.ops);
    c.reply(requestId, { t: 'refOpsAck', deadOwners: Buffer.from(dead.join(''), 'hex') });
  }

  /** Another node's processes exited: the objects they owned are dead here too. */
  onOwnersDied(m: Extract<Message, { t: 'ownersDied' }>): void {
    this.ownersDiedIn(m.ownerIds);
  }

  /** A process of this node exited: nodes where it may borrow or own objects hear of it. */
  ownerExited(ownerHex: string): void {
    const msg: Message = { t: 'ownersDied', ownerIds: Buffer.from(ownerHex, 'hex') };
    for (const n of this.opts.table.values()) {
      if (!n.alive || n.nodeId === this.opts.table.selfId) continue;
      this.opts.peers.peer(n.nodeId).then(
        (c) => c.send(msg),
        () => {},
      );
    }
  }

  /** A node died: every process of it owned objects, which are dead everywhere now (OwnerDiedError). */
  nodeDied(nodeId: string): void {
    this.opts.local.ownersDied(NodeTable.ownerPrefix(nodeId));
  }
}
