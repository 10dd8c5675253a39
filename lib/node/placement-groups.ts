// The placement groups of a cluster (Ray's GCS placement group manager): kept by the head
// (or by a node on its own), each placed by bundle-placement.ts and reserved all or none in
// two phases (prepare on every node chosen; commit on all if every prepare held, else cancel
// the ones that did and try again later). Groups wait in creation order; a pending group is
// tried again when nodes join, when groups are removed, and every second (resources free up
// as work ends). A node's death sends its bundles back to be placed again (RESCHEDULING);
// a job's end removes its groups that are not detached.
import { InvalidArgumentError } from '../base/errors.js';
import { warn } from '../base/warnings.js';
import { reportEvent } from '../protocol/events.js';
import { namespacedKey } from '../protocol/namespaced-key.js';
import type {
  GroupOp,
  GroupOpResults,
  PlacementGroupLocation,
  PlacementGroupRequest,
  PlacementGroupRow,
  PlacementGroupState,
} from '../protocol/placement-group.js';
import type { Demand } from '../protocol/resources.js';
import { type BundleNode, type BundleToPlace, placeBundles } from './bundle-placement.js';

/** The nodes bundles can be reserved on, as the group manager reaches them. */
export interface BundleHosts {
  /** The alive nodes with their resources now (asked of each: heartbeats lag behind reservations). */
  nodes(): Promise<BundleNode[]>;
  /** Phase one on a node: holds these bundles' resources; false if they are not all free. */
  prepare(nodeId: string, pg: string, bundles: BundleToPlace[]): Promise<boolean>;
  /** Phase two: the prepared bundles become usable by the group's tasks. */
  commit(nodeId: string, pg: string, indexes: number[]): Promise<void>;
  /** Gives bundles back (a cancelled prepare, or committed ones). removed: the group is gone for good. */
  release(nodeId: string, pg: string, indexes: number[], removed: boolean): Promise<void>;
}

interface GroupRec {
  req: PlacementGroupRequest;
  state: PlacementGroupState;
  /** Bundle index -> node ('' while unplaced). */
  nodes: string[];
  pendingReason: string;
  createdAt: number;
  scheduledAt: number;
  removedAt: number;
  warnedInfeasible: boolean;
}

/** How often pending groups are tried again while any waits. */
const RETRY_MS = 1000;
/** Removed groups kept listed (placementGroupTable shows them), oldest dropped first. */
const KEEP_REMOVED = 1000;

/** The group manager (see the file comment). */
export class PlacementGroups {
  private readonly groups = new Map<string, GroupRec>();
  private readonly names = new Map<string, string>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Called after each change worth saving (a head that saves its state sets it). */
  onChange: () => void = () => {};

  constructor(private hosts: BundleHosts) {}

  /** The groups as JSON can hold them (a head's saved state). */
  save(): unknown {
    return [...this.groups.values()].map(({ warnedInfeasible: _, ...g }) => g);
  }

  /**
   * Takes back saved groups (a restarted head). Bundles on nodes that `alive` says are gone
   * (the old head's own, say) are placed again; the rest are where they were.
   */
  restore(saved: unknown, alive: (nodeId: string) => boolean): void {
    for (const g of saved as Omit<GroupRec, 'warnedInfeasible'>[]) {
      this.groups.set(g.req.id, { ...g, warnedInfeasible: false });
      if (g.req.name !== '' && g.state !== 'REMOVED')
        this.names.set(namespacedKey(g.req.namespace, g.req.name), g.req.id);
    }
    const gone = new Set<string>();
    for (const g of this.groups.values()) for (const n of g.nodes) if (n !== '' && !alive(n)) gone.add(n);
    for (const n of gone) this.nodeDied(n);
    this.kick();
  }

  /** The hosts change when the node joins a cluster as its head. */
  setHosts(hosts: BundleHosts): void {
    this.hosts = hosts;
    this.kick();
  }

  /** Records a new group and starts placing it. Throws if its name is taken in its namespace. */
  create(req: PlacementGroupRequest): void {
    if (this.groups.has(req.id)) return; // a retried request
    if (req.name !== '') {
      const key = namespacedKey(req.namespace, req.name);
      const held = this.names.get(key);
      if (held && this.groups.get(held)?.state !== 'REMOVED') {
        throw new InvalidArgumentError(
          `a placement group named '${req.name}' already exists in namespace '${req.namespace}': ` +
            'pick another name, or getPlacementGroup() it',
        );
      }
      this.names.set(key, req.id);
    }
    this.groups.set(req.id, {
      req,
      state: 'PENDING',
      nodes: req.bundles.map(() => ''),
      pendingReason: 'waiting to be placed',
      createdAt: Date.now(),
      scheduledAt: 0,
      removedAt: 0,
      warnedInfeasible: false,
    });
    this.onChange();
    this.kick();
  }

  /** Removes a group: its bundles are given back and its work fails. False if unknown. */
  async remove(id: string): Promise<boolean> {
    const g = this.groups.get(id);
    if (!g) return false;
    if (g.state === 'REMOVED') return true;
    g.state = 'REMOVED';
    g.removedAt = Date.now();
    g.pendingReason = '';
    this.onChange();
    this.wake(id);
    await this.releaseAll(id, g, true);
    this.forgetOldRemoved();
    this.kick(); // its resources are free for others
    return true;
  }

  /** A group's row by id, or by name in a namespace. */
  get(id: string | { name: string; namespace: string }): PlacementGroupRow | undefined {
    const key = typeof id === 'string' ? id : this.names.get(namespacedKey(id.namespace, id.name));
    const g = key === undefined ? undefined : this.groups.get(key);
    if (!g || (typeof id !== 'string' && g.state === 'REMOVED')) return undefined;
    return rowOf(g);
  }

  /** Where a group's bundles are (undefined: unknown group). */
  locate(id: string): PlacementGroupLocation | undefined {
    const g = this.groups.get(id);
    return g ? { state: g.state, nodes: [...g.nodes] } : undefined;
  }

  /** Resolves with the group's state once it is CREATED or REMOVED, or after timeoutMs. */
  wait(id: string, timeoutMs: number): Promise<PlacementGroupState | undefined> {
    const now = this.groups.get(id)?.state;
    if (now === undefined || now === 'CREATED' || now === 'REMOVED' || timeoutMs <= 0)
      return Promise.resolve(now);
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) {
        set = new Set();
        this.waiters.set(id, set);
      }
      const done = () => {
        clearTimeout(t);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(id);
        resolve(this.groups.get(id)?.state);
      };
      const t = setTimeout(done, timeoutMs);
      set.add(done);
    });
  }

  /** Every group, removed ones included (the state API, placementGroupTable()). */
  rows(): PlacementGroupRow[] {
    return [...this.groups.values()].map(rowOf);
  }

  /** Bundles waiting to be placed, per group (the autoscaler's demand). */
  pendingBundles(): Array<{ strategy: PlacementGroupRequest['strategy']; bundles: Demand[] }> {
    const out: Array<{ strategy: PlacementGroupRequest['strategy']; bundles: Demand[] }> = [];
    for (const g of this.groups.values()) {
      if (g.state !== 'PENDING' && g.state !== 'RESCHEDULING') continue;
      const bundles = g.req.bundles.filter((_, i) => g.nodes[i] === '');
      if (bundles.length > 0) out.push({ strategy: g.req.strategy, bundles });
    }
    return out;
  }

  /** A node died: its bundles are placed again (their groups RESCHEDULING meanwhile). */
  nodeDied(nodeId: string): void {
    for (const g of this.groups.values()) {
      if (g.state === 'REMOVED' || !g.nodes.includes(nodeId)) continue;
      g.nodes = g.nodes.map((n) => (n === nodeId ? '' : n));
      if (g.state === 'CREATED') g.state = 'RESCHEDULING';
      g.pendingReason = `node ${nodeId.slice(0, 8)} died: its bundles are placed again`;
    }
    this.onChange();
    this.kick();
  }

  /** A job ended: its groups that are not detached go. */
  jobEnded(jobId: string): void {
    for (const [id, g] of this.groups) {
      if (g.state !== 'REMOVED' && g.req.lifetime !== 'detached' && g.req.creatorJobId === jobId)
        void this.remove(id);
    }
  }

  /** Something changed that may let pending groups be placed (a node joined, resources freed). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.scheduleAll().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Stops retrying (the node shuts down). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  private async scheduleAll(): Promise<void> {
    let waiting = false;
    let nodes: BundleNode[] | undefined;
    for (const [id, g] of this.groups) {
      if (this.closed) return;
      if (g.state !== 'PENDING' && g.state !== 'RESCHEDULING') continue;
      // Asked once per pass, and again after a group took some.
      nodes ??= await this.hosts.nodes();
      const placed = await this.scheduleOne(id, g, nodes);
      if (!placed) waiting = true;
      else nodes = undefined;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (waiting && !this.closed) {
      this.timer = setTimeout(() => this.kick(), RETRY_MS);
      this.timer.unref();
    }
  }

  /** One try at placing a group's unplaced bundles; true if it is placed now. */
  private async scheduleOne(id: string, g: GroupRec, nodes: BundleNode[]): Promise<boolean> {
    const todo: BundleToPlace[] = [];
    const placed = new Map<number, string>();
    g.req.bundles.forEach((resources, index) => {
      const at = g.nodes[index] ?? '';
      if (at === '') todo.push({ index, resources });
      else placed.set(index, at);
    });
    const p = placeBundles(todo, g.req.strategy, nodes, placed);
    if ('infeasible' in p || 'wait' in p) {
      g.pendingReason = 'infeasible' in p ? `infeasible: ${p.infeasible}` : p.wait;
      if ('infeasible' in p && !g.warnedInfeasible) {
        g.warnedInfeasible = true;
        warn(
          'SUNRAY_INFEASIBLE',
          `placement group ${g.req.name || id.slice(0, 12)} cannot be placed: ${p.infeasible}. It waits ` +
            'until nodes that can hold it join; remove it (removePlacementGroup) or ask for less.',
        );
        reportEvent('infeasible', {
          kind: 'placementGroup',
          name: g.req.name || id,
          demand: g.req.bundles.reduce<Demand>((s, b) => {
            for (const [k, v] of Object.entries(b)) s[k] = (s[k] ?? 0) + v;
            return s;
          }, {}),
          nodeId: '',
          nodeResources: {},
        });
      }
      return false;
    }
    const byNode = new Map<string, BundleToPlace[]>();
    for (const b of todo) {
      const n = p.assign.get(b.index) ?? '';
      byNode.set(n, [...(byNode.get(n) ?? []), b]);
    }
    const prepared = await Promise.all(
      [...byNode].map(async ([nodeId, bs]) => ({
        nodeId,
        bs,
        ok: await this.hosts.prepare(nodeId, id, bs).catch(() => false),
      })),
    );
    if (g.state === 'REMOVED' || prepared.some((r) => !r.ok)) {
      await Promise.all(
        prepared
          .filter((r) => r.ok)
          .map((r) =>
            this.hosts
              .release(
                r.nodeId,
                id,
                r.bs.map((b) => b.index),
                g.state === 'REMOVED',
              )
              .catch(() => {}),
          ),
      );
      if (g.state !== 'REMOVED') g.pendingReason = 'the chosen nodes had no room when asked: trying again';
      return g.state === 'REMOVED';
    }
    await Promise.all(
      prepared.map((r) =>
        this.hosts
          .commit(
            r.nodeId,
            id,
            r.bs.map((b) => b.index),
          )
          .catch(() => {}),
      ),
    );
    // remove() may have run while the commits were on their way.
    if ((g.state as PlacementGroupState) === 'REMOVED') {
      await Promise.all(
        prepared.map((r) =>
          this.hosts.release(
            r.nodeId,
            id,
            r.bs.map((b) => b.index),
            true,
          ),
        ),
      );
      return true;
    }
    for (const r of prepared) for (const b of r.bs) g.nodes[b.index] = r.nodeId;
    g.state = 'CREATED';
    g.pendingReason = '';
    if (g.scheduledAt === 0) g.scheduledAt = Date.now();
    this.onChange();
    this.wake(id);
    return true;
  }

  private async releaseAll(id: string, g: GroupRec, removed: boolean): Promise<void> {
    const byNode = new Map<string, number[]>();
    g.nodes.forEach((n, i) => {
      if (n !== '') byNode.set(n, [...(byNode.get(n) ?? []), i]);
    });
    await Promise.all([...byNode].map(([n, idx]) => this.hosts.release(n, id, idx, removed).catch(() => {})));
  }

  private wake(id: string): void {
    for (const w of [...(this.waiters.get(id) ?? [])]) w();
  }

  private forgetOldRemoved(): void {
    let removed = 0;
    for (const g of this.groups.values()) if (g.state === 'REMOVED') removed++;
    for (const [id, g] of this.groups) {
      if (removed <= KEEP_REMOVED) return;
      if (g.state !== 'REMOVED') continue;
      this.groups.delete(id);
      if (g.req.name !== '') this.names.delete(namespacedKey(g.req.namespace, g.req.name));
      removed--;
    }
  }
}

function rowOf(g: GroupRec): PlacementGroupRow {
  return {
    placementGroupId: g.req.id,
    name: g.req.name,
    namespace: g.req.namespace,
    state: g.state,
    strategy: g.req.strategy,
    bundles: g.req.bundles.map((resources, bundleIndex) => ({
      bundleIndex,
      resources: { ...resources },
      nodeId: g.nodes[bundleIndex] ?? '',
    })),
    lifetime: g.req.lifetime,
    creatorJobId: g.req.creatorJobId,
    pendingReason: g.pendingReason,
    createdAt: g.createdAt,
    scheduledAt: g.scheduledAt,
    removedAt: g.removedAt,
  };
}

/** Runs a process's request on a group manager (the head's, or a node's alone). */
export async function runGroupOp(m: PlacementGroups, o: GroupOp): Promise<GroupOpResults[GroupOp['op']]> {
  switch (o.op) {
    case 'create':
      m.create(o.req);
      return null;
    case 'remove':
      return m.remove(o.id);
    case 'get':
      return (
        (o.id !== undefined ? m.get(o.id) : m.get({ name: o.name ?? '', namespace: o.namespace ?? '' })) ??
        null
      );
    case 'wait':
      return (await m.wait(o.id, o.timeoutMs)) ?? null;
    case 'table':
      return m.rows();
    case 'locate':
      return m.locate(o.id) ?? null;
  }
}
