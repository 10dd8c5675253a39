// The autoscaler's loop on the head: each round it reads the demand the head already
// sees (demand.ts), matches the nodes it launched to the head's table (by their instance
// label), decides launches (scheduler.ts) and removals (idle.ts), asks the provider for
// them without waiting on it (a cloud's create may take minutes: nodes in creation count
// as launching), and publishes its status for `sunray status`. stop() removes every node
// it launched (`sunray down`).
import { randomBytes } from 'node:crypto';
import type { NodeInfoMsg } from '../cluster/messages.js';
import {
  type AutoscalerStatus,
  INSTANCE_LABEL,
  type InstanceStatus,
  NODE_TYPE_LABEL,
  type UnmetDemand,
} from '../protocol/autoscaler.js';
import type { ClusterConfig } from './config.js';
import { type DemandSource, demandShapes } from './demand.js';
import { type LaunchedNode, pickRemovals } from './idle.js';
import type { Instance, NodeProvider } from './provider.js';
import { type NodeCapacity, planScale } from './scheduler.js';

/** A node launched and not yet given up: what the provider made of it, and how it stands. */
interface Tracked {
  instance: Instance;
  launchedAt: number;
  /** Its node in the head's table, once it joined. */
  nodeId?: string;
  terminating: boolean;
}

/** How the loop is run. */
export interface AutoscalerOptions {
  config: ClusterConfig;
  provider: NodeProvider;
  source: DemandSource;
  log: (line: string) => void;
  /** A node not joined this long after its launch is given up (default 5 minutes). */
  startTimeoutMs?: number;
  /** The clock (tests give their own). */
  now?: () => number;
}

/** Provider failures kept for status. */
const MAX_ERRORS = 10;

/** The autoscaler of one cluster: start() its loop on the head, stop() it at the head's end. */
export class Autoscaler {
  private readonly tracked = new Map<string, Tracked>();
  /** Creates in flight, by node type: counted as launching nodes. */
  private readonly creating = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly errors: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: AutoscalerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Runs a round now and then every updateIntervalSeconds. */
  start(): void {
    const period = this.opts.config.updateIntervalSeconds * 1000;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.update()
        .catch((err: unknown) => this.fail(`autoscaler round failed: ${(err as Error)?.message ?? err}`))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, period);
        });
    };
    loop();
  }

  private fail(line: string): void {
    this.opts.log(line);
    this.errors.push(line);
    if (this.errors.length > MAX_ERRORS) this.errors.shift();
  }

  /** The nodes of the table by their instance label. */
  private byInstance(nodes: readonly NodeInfoMsg[]): Map<string, NodeInfoMsg> {
    const out = new Map<string, NodeInfoMsg>();
    for (const n of nodes) {
      const name = n.labels[INSTANCE_LABEL];
      // A node that rejoined is listed alive again: the alive record wins.
      if (name !== undefined && (n.alive || !out.has(name))) out.set(name, n);
    }
    return out;
  }

  /** One round (see the file comment). */
  async update(): Promise<void> {
    const { config, source } = this.opts;
    const now = this.now();
    const nodes = source.nodes();
    const byName = this.byInstance(nodes);
    const requested = source.requested();
    // Match what we launched to the table; a node that joined and is gone now died.
    const launched: LaunchedNode[] = [];
    for (const [id, t] of this.tracked) {
      if (t.terminating) continue;
      const n = byName.get(t.instance.name);
      if (n?.alive) t.nodeId = n.nodeId;
      const state = n?.alive ? 'running' : t.nodeId !== undefined ? 'dead' : 'launching';
      const total = config.nodeTypes[t.instance.nodeType]?.resources ?? {};
      launched.push({
        id,
        nodeType: t.instance.nodeType,
        state,
        idleMs: n?.alive ? n.idleMs : 0,
        ageMs: now - t.launchedAt,
        total,
      });
    }
    const ours = new Set([...this.tracked.values()].map((t) => t.instance.name));
    const others = nodes.filter((n) => n.alive && !ours.has(n.labels[INSTANCE_LABEL] ?? ''));
    const minWorkers = Object.fromEntries(
      Object.entries(config.nodeTypes).map(([k, t]) => [k, t.minWorkers]),
    );
    const removals = pickRemovals({
      nodes: launched,
      minWorkers,
      idleTimeoutMs: config.idleTimeoutMinutes * 60_000,
      startTimeoutMs: this.opts.startTimeoutMs ?? 300_000,
      requested,
      others: others.map((n) => n.total),
    });
    const removed = new Set(removals.map((r) => r.id));
    // What the decision sees: every alive node, ours with their type, launching ones at full size.
    const capacity: NodeCapacity[] = others.map((n) => ({
      launching: false,
      total: n.total,
      available: n.available,
    }));
    for (const l of launched) {
      if (removed.has(l.id) || l.state === 'dead') continue;
      const t = this.tracked.get(l.id) as Tracked;
      const n = byName.get(t.instance.name);
      const launching = l.state === 'launching' || !n;
      const available = launching ? l.total : (n as NodeInfoMsg).available;
      capacity.push({ nodeType: l.nodeType, launching, total: l.total, available });
    }
    for (const [type, count] of this.creating) {
      const total = config.nodeTypes[type]?.resources ?? {};
      for (let i = 0; i < count; i++)
        capacity.push({ nodeType: type, launching: true, total, available: total });
    }
    const plan = planScale({
      nodeTypes: config.nodeTypes,
      maxWorkers: config.maxWorkers,
      upscalingSpeed: config.upscalingSpeed,
      nodes: capacity,
      demand: demandShapes(nodes),
      placementGroups: source.pendingPlacementGroups(),
      requested,
    });
    for (const r of removals) this.terminate(r.id, r.reason);
    for (const [type, count] of Object.entries(plan.launch))
      for (let i = 0; i < count; i++) this.launch(type);
    source.publish(this.status(now, byName, plan.unmet, requested));
  }

  /** Launches a node of a type (not awaited: it counts as launching meanwhile). */
  private launch(nodeType: string): void {
    const { config, provider } = this.opts;
    const t = config.nodeTypes[nodeType];
    if (!t) return;
    const name = `${config.clusterName}-${randomBytes(4).toString('hex')}`;
    const labels = { ...t.labels, [NODE_TYPE_LABEL]: nodeType, [INSTANCE_LABEL]: name };
    this.creating.set(nodeType, (this.creating.get(nodeType) ?? 0) + 1);
    this.opts.log(`autoscaler: launching a node of type ${nodeType} (${name})`);
    const p = provider
      .create({
        nodeType,
        name,
        resources: t.resources,
        labels,
        ...(t.objectStoreMemory !== undefined ? { objectStoreMemory: t.objectStoreMemory } : {}),
      })
      .then((instance) => {
        this.tracked.set(instance.id, { instance, launchedAt: this.now(), terminating: false });
        // Stopped while it was being made: it goes at once.
        if (this.stopped) return this.terminateNow(instance.id);
      })
      .catch((err: unknown) =>
        this.fail(`autoscaler: could not launch a ${nodeType} node: ${(err as Error).message}`),
      )
      .finally(() => {
        this.creating.set(nodeType, (this.creating.get(nodeType) ?? 1) - 1);
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  /** Removes a node (not awaited). */
  private terminate(id: string, reason: string): void {
    const t = this.tracked.get(id);
    if (!t || t.terminating) return;
    this.opts.log(`autoscaler: removing node ${id} (${t.instance.nodeType}): ${reason}`);
    const p = this.terminateNow(id).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async terminateNow(id: string): Promise<void> {
    const t = this.tracked.get(id);
    if (!t) return;
    t.terminating = true;
    try {
      await this.opts.provider.terminate(t.instance);
      this.tracked.delete(id);
    } catch (err) {
      t.terminating = false; // tried again next round
      this.fail(`autoscaler: could not remove node ${id}: ${(err as Error).message}`);
    }
  }

  private status(
    now: number,
    byName: Map<string, NodeInfoMsg>,
    unmet: UnmetDemand[],
    requested: Record<string, number>[],
  ): AutoscalerStatus {
    const { config, provider } = this.opts;
    const instances: InstanceStatus[] = [];
    for (const [id, t] of this.tracked) {
      const n = byName.get(t.instance.name);
      const alive = n?.alive === true;
      const state = t.terminating ? 'terminating' : !alive ? 'launching' : n.idleMs > 0 ? 'idle' : 'running';
      instances.push({
        id,
        nodeType: t.instance.nodeType,
        state,
        ...(alive ? { nodeId: n.nodeId } : {}),
        ...(alive && n.idleMs > 0 ? { idleMs: n.idleMs } : {}),
      });
    }
    for (const [type, count] of this.creating) {
      for (let i = 0; i < count; i++)
        instances.push({ id: '(creating)', nodeType: type, state: 'launching' });
    }
    const nodeTypes: AutoscalerStatus['nodeTypes'] = {};
    for (const [k, t] of Object.entries(config.nodeTypes))
      nodeTypes[k] = { minWorkers: t.minWorkers, maxWorkers: t.maxWorkers, resources: t.resources };
    return {
      at: now,
      provider: provider.kind,
      idleTimeoutMs: config.idleTimeoutMinutes * 60_000,
      nodeTypes,
      instances,
      unmet,
      requested,
      errors: [...this.errors],
    };
  }

  /** Stops the loop and removes every node it launched (waiting for creates in flight first). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled([...this.tracked.keys()].map((id) => this.terminateNow(id)));
  }

  /** The nodes launched and not removed, for tests. */
  instances(): Instance[] {
    return [...this.tracked.values()].map((t) => t.instance);
  }
}
