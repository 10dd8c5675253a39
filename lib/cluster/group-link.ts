// Placement groups across the cluster. The head keeps the groups (node/placement-groups.ts)
// and reserves bundles on nodes through this link (its two phases as GroupOp messages, or
// directly on itself); other nodes send their processes' requests to the head. Every node
// places the work of a group: a task or actor of bundle i goes to the node holding bundle
// i (any bundle: this node if it holds one, else the group's nodes in turn), waiting while
// the group is not CREATED; where bundles are is cached until a node dies.
import { within } from '../base/deadline.js';
import { ClusterConnectionError, PlacementGroupRemovedError } from '../base/errors.js';
import type { BundleNode, BundleToPlace } from '../node/bundle-placement.js';
import type { LocalBundles } from '../node/local-bundles.js';
import { type BundleHosts, type PlacementGroups, runGroupOp } from '../node/placement-groups.js';
import type {
  BundleOp,
  GroupOp,
  GroupOpResults,
  GroupStrategy,
  PlacementGroupLocation,
} from '../protocol/placement-group.js';
import type { Conn } from './connection.js';
import { ErrorCode, type Message, type Parsed } from './messages.js';
import type { NodeTable } from './node-table.js';
import type { PeerLinks } from './peers.js';

/** How long one wait for a group to be created asks the head for (then asks again). */
const WAIT_ROUND_MS = 10_000;
/** A group the head does not know yet (its create may be on its way) is asked for this long. */
const UNKNOWN_GRACE_MS = 5_000;
/** How long a request waits for the link to the head to come back (the head restarting). */
const HEAD_WAIT_MS = 15_000;
/** How long the head waits for a node to say what it has free before placing bundles. */
const AVAILABLE_MS = 2_000;

/** What the link needs: this node's groups and bundles, the table, peers and the head. */
export interface GroupLinkOptions {
  groups: PlacementGroups;
  bundles: LocalBundles;
  table: Pick<NodeTable, 'selfId' | 'alive' | 'values' | 'get'>;
  peers: Pick<PeerLinks, 'peer'>;
  head: boolean;
  headConn: () => Pick<Conn, 'requestCb'> | undefined;
}

/** Placement groups over the cluster (see the file comment). */
export class GroupLink {
  private readonly locations = new Map<string, PlacementGroupLocation>();
  private readonly waits = new Map<string, Promise<void>>();
  private turn = 0;

  constructor(private readonly opts: GroupLinkOptions) {
    if (opts.head) opts.groups.setHosts(this.hosts());
  }

  /** A process's request: answered by the head's manager. */
  async op<K extends GroupOp['op']>(o: Extract<GroupOp, { op: K }>): Promise<GroupOpResults[K]> {
    if (this.opts.head) return (await runGroupOp(this.opts.groups, o)) as GroupOpResults[K];
    return (await this.ask(await this.headLink(), o)) as GroupOpResults[K];
  }

  /**
   * The node for a task or actor of a group: undefined for this one, a promise that settles
   * once the group is placed (submit again then), or PlacementGroupRemovedError.
   */
  place(g: GroupStrategy): string | undefined | Promise<void> | Error {
    const loc = this.opts.head ? this.opts.groups.locate(g.pg) : this.locations.get(g.pg);
    if (loc?.state === 'REMOVED') return removed(g.pg);
    if (!loc || loc.state !== 'CREATED') return this.untilCreated(g.pg);
    const self = this.opts.table.selfId;
    let node: string | undefined;
    if (g.bundle >= 0) node = loc.nodes[g.bundle];
    else if (loc.nodes.includes(self)) node = self;
    else {
      const nodes = [...new Set(loc.nodes)].filter((n) => this.opts.table.alive(n));
      node = nodes[this.turn++ % Math.max(1, nodes.length)];
    }
    if (node === undefined || node === '' || (node !== self && !this.opts.table.alive(node))) {
      this.locations.delete(g.pg);
      return this.untilCreated(g.pg);
    }
    return node === self ? undefined : node;
  }

  /** The link to the head; while it is down (the head restarts), waited for a while. */
  private async headLink(): Promise<Pick<Conn, 'requestCb'> | undefined> {
    const until = Date.now() + HEAD_WAIT_MS;
    for (;;) {
      const c = this.opts.headConn();
      if (c || Date.now() > until) return c;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A node died: the head places its bundles again; everyone forgets where they were. */
  nodeDied(nodeId: string): void {
    for (const [pg, loc] of this.locations) if (loc.nodes.includes(nodeId)) this.locations.delete(pg);
    if (!this.opts.head) return;
    this.opts.groups.nodeDied(nodeId);
    const jobId = this.opts.table.get(nodeId)?.jobId;
    if (jobId) this.opts.groups.jobEnded(jobId);
  }

  /** A node joined: pending groups may fit now. */
  nodeJoined(): void {
    if (this.opts.head) this.opts.groups.kick();
  }

  /** A GroupOp from a peer: a bundle phase for this node, or (on the head) a process's request. */
  async serve(c: Conn, p: Parsed, m: Extract<Message, { t: 'groupOp' }>): Promise<void> {
    try {
      const o = JSON.parse(m.bodyJson) as GroupOp | BundleOp;
      let answer: unknown = null;
      if (o.op === 'available') answer = this.opts.bundles.node(this.opts.table.selfId);
      else if (o.op === 'prepare') answer = this.opts.bundles.prepare(o.pg, o.bundles);
      else if (o.op === 'commit') this.opts.bundles.commit(o.pg, o.indexes);
      else if (o.op === 'release') this.opts.bundles.release(o.pg, o.indexes, o.removed);
      else if (this.opts.head) answer = await runGroupOp(this.opts.groups, o);
      else {
        c.reply(p.requestId, {
          t: 'error',
          code: ErrorCode.Refused,
          message: 'groupOp: this node is not the head',
        });
        return;
      }
      c.reply(p.requestId, { t: 'groupReply', bodyJson: JSON.stringify(answer) });
    } catch (err) {
      c.reply(p.requestId, { t: 'error', code: ErrorCode.Internal, message: (err as Error).message });
    }
  }

  /** Resolves once the group is CREATED (rejects once REMOVED); one wait per group at a time. */
  private untilCreated(pg: string): Promise<void> {
    let w = this.waits.get(pg);
    if (!w) {
      w = this.waitCreated(pg).finally(() => this.waits.delete(pg));
      this.waits.set(pg, w);
    }
    return w;
  }

  private async waitCreated(pg: string): Promise<void> {
    const since = Date.now();
    for (;;) {
      const state = await this.op({ op: 'wait', id: pg, timeoutMs: WAIT_ROUND_MS });
      if (state === 'REMOVED') throw removed(pg);
      if (state === null && Date.now() - since > UNKNOWN_GRACE_MS) {
        throw new PlacementGroupRemovedError(`placement group ${pg.slice(0, 12)}… is unknown to the cluster`);
      }
      if (state === null) await new Promise((r) => setTimeout(r, 100));
      if (state !== 'CREATED') continue;
      if (this.opts.head) return;
      const loc = await this.op({ op: 'locate', id: pg });
      if (loc?.state === 'CREATED') {
        this.locations.set(pg, loc);
        return;
      }
    }
  }

  /** The head's hosts: itself directly, other nodes by GroupOp messages. */
  private hosts(): BundleHosts {
    const { table, bundles, peers } = this.opts;
    const self = table.selfId;
    const remote = async (nodeId: string, o: BundleOp): Promise<unknown> =>
      this.ask(await peers.peer(nodeId), o);
    return {
      nodes: async () => {
        const others = [...table.values()].filter((n) => n.alive && n.nodeId !== self);
        // Each node says what it has now (heartbeats lag behind reservations); one that does
        // not answer in time is taken as the table last heard it.
        const asked = await Promise.all(
          others.map((n) =>
            within(remote(n.nodeId, { op: 'available' }) as Promise<BundleNode>, AVAILABLE_MS).catch(
              () => undefined,
            ),
          ),
        );
        return [
          bundles.node(self),
          ...others.map((n, i) => asked[i] ?? { nodeId: n.nodeId, total: n.total, available: n.available }),
        ];
      },
      prepare: async (nodeId, pg, bs: BundleToPlace[]) =>
        nodeId === self
          ? bundles.prepare(pg, bs)
          : (await remote(nodeId, { op: 'prepare', pg, bundles: bs })) === true,
      commit: async (nodeId, pg, indexes) => {
        if (nodeId === self) bundles.commit(pg, indexes);
        else await remote(nodeId, { op: 'commit', pg, indexes });
      },
      release: async (nodeId, pg, indexes, isRemoved) => {
        if (nodeId === self) bundles.release(pg, indexes, isRemoved);
        else if (table.alive(nodeId))
          await remote(nodeId, { op: 'release', pg, indexes, removed: isRemoved });
      },
    };
  }

  private async ask(c: Pick<Conn, 'requestCb'> | undefined, o: GroupOp | BundleOp): Promise<unknown> {
    if (!c) throw new ClusterConnectionError('this node is not connected to the head (placement groups)');
    const r = await new Promise<Parsed>((res, rej) =>
      c.requestCb({ t: 'groupOp', bodyJson: JSON.stringify(o) }, (p) =>
        p instanceof Error ? rej(p) : res(p),
      ),
    );
    if (r.msg.t === 'groupReply') return JSON.parse(r.msg.bodyJson) as unknown;
    if (r.msg.t === 'error') throw new ClusterConnectionError(r.msg.message);
    throw new ClusterConnectionError(`a groupOp was answered with ${r.msg.t}`);
  }
}

function removed(pg: string): PlacementGroupRemovedError {
  return new PlacementGroupRemovedError(`placement group ${pg.slice(0, 12)}… was removed`);
}
