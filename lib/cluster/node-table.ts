// This node's copy of the cluster's node table (from the head: on joining, with
// each heartbeat's reply, or straight from the directory on the head itself), the
// load this node sent each node since its last report, and which node an object
// id belongs to (an owner id starts with its node's id).
import { OWNER_NODE_PREFIX } from '../node/node-manager.js';
import type { NodeInfoMsg, Resources } from './messages.js';
import type { NodeView } from './policy.js';

/** What a new table changed: nodes found dead (or gone) since the last one, and those that (re)joined. */
export interface TableChange {
  died: string[];
  joined: boolean;
  /** The nodes alive now that were not before (new, or back after being declared dead). */
  added: string[];
  /**
   * Nodes first heard of as dead: they joined and died between two tables. Their processes
   * may still own work here (a short driver's actors, which it placed by dialing us).
   */
  unseenDead: string[];
}

/** The node table as this node last heard it, with the load it sent each node since. */
export class NodeTable {
  private readonly nodes = new Map<string, NodeInfoMsg>();
  /** Demand this node sent to each node since that node's last report (placement counts it). */
  private readonly extraLoad = new Map<string, Resources>();

  constructor(readonly selfId: string) {}

  get(nodeId: string): NodeInfoMsg | undefined {
    return this.nodes.get(nodeId);
  }

  alive(nodeId: string): boolean {
    return this.nodes.get(nodeId)?.alive === true;
  }

  values(): IterableIterator<NodeInfoMsg> {
    return this.nodes.values();
  }

  /**
   * Takes a new table. A node that was alive and is now dead, or no longer listed, has died
   * (once: the next table finds it dead already); one listed dead that we never saw alive has
   * not. A node alive now that was not before (new, or back after being declared dead) joined.
   */
  apply(nodes: NodeInfoMsg[]): TableChange {
    const seen = new Set<string>();
    const died: string[] = [];
    const added: string[] = [];
    const unseenDead: string[] = [];
    for (const n of nodes) {
      seen.add(n.nodeId);
      const before = this.nodes.get(n.nodeId);
      this.nodes.set(n.nodeId, n);
      this.extraLoad.delete(n.nodeId);
      if (n.nodeId === this.selfId) continue;
      if (n.alive && (!before || !before.alive)) added.push(n.nodeId);
      if (!n.alive && before?.alive) died.push(n.nodeId);
      if (!n.alive && !before) unseenDead.push(n.nodeId);
    }
    for (const [id, n] of this.nodes) {
      if (!seen.has(id)) {
        this.nodes.delete(id);
        if (n.alive && id !== this.selfId) died.push(id);
      }
    }
    return { died, joined: added.length > 0, added, unseenDead };
  }

  /** The node whose processes own objectId (undefined: none this table knows of). */
  ownerNode(objectId: Buffer): NodeInfoMsg | undefined {
    const prefix = objectId.subarray(0, OWNER_NODE_PREFIX).toString('hex');
    for (const n of this.nodes.values()) if (n.nodeId.startsWith(prefix)) return n;
    return undefined;
  }

  /** objectId is owned by a process of this node. */
  ownedHere(objectId: Buffer): boolean {
    return this.selfId.startsWith(objectId.subarray(0, OWNER_NODE_PREFIX).toString('hex'));
  }

  /** The start (hex) of the owner ids of nodeId's processes. */
  static ownerPrefix(nodeId: string): string {
    return nodeId.slice(0, OWNER_NODE_PREFIX * 2);
  }

  /** Counts demand just sent to nodeId until its next report includes it. */
  addExtraLoad(nodeId: string, demand: Resources): void {
    const e = this.extraLoad.get(nodeId) ?? {};
    for (const [k, v] of Object.entries(demand)) e[k] = (e[k] ?? 0) + v;
    this.extraLoad.set(nodeId, e);
  }

  /** The other alive nodes as placement sees them: their reported load plus what we sent since. */
  others(): NodeView[] {
    const out: NodeView[] = [];
    for (const n of this.nodes.values()) {
      if (!n.alive || n.nodeId === this.selfId) continue;
      const extra = this.extraLoad.get(n.nodeId) ?? {};
      const load: Resources = { ...n.load };
      for (const [k, v] of Object.entries(extra)) load[k] = (load[k] ?? 0) + v;
      out.push({ nodeId: n.nodeId, total: n.total, load });
    }
    return out;
  }
}
