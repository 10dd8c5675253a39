// Which nodes to launch this round, as Ray's resource_demand_scheduler decides it: the
// node types' minWorkers first; then the standing request (requestResources) packed onto
// every node's total, new nodes for what does not fit; then the unmet demand (queued
// shapes, placement-group bundles) packed onto what running nodes have free and what
// launching ones will have, new nodes for the rest: for each shape left, the node type
// that fits it and would be used best, within its maxWorkers, the overall maxWorkers and
// the upscaling speed. Pure: the loop (autoscaler.ts) gives it what the head sees.

import type { UnmetDemand, UnmetReason } from '../protocol/autoscaler.js';
import { fits, largestFirst, pack, type Resources, shapeText, sum, take } from './bin-pack.js';

/** A node type as the decision needs it. */
export interface NodeTypeLimits {
  resources: Resources;
  minWorkers: number;
  maxWorkers: number;
}

/** A node of the cluster as the decision sees it. */
export interface NodeCapacity {
  /** Its node type: one the autoscaler launched; undefined for the head and nodes started by hand. */
  nodeType?: string;
  /** Launched, not joined yet: counted with its type's full resources. */
  launching: boolean;
  total: Resources;
  /** What it has free now (a launching node: its total). */
  available: Resources;
}

/** Placement-group strategies (Ray's). */
export type PlacementStrategy = 'PACK' | 'SPREAD' | 'STRICT_PACK' | 'STRICT_SPREAD';

/** A placement group waiting for room: its bundles and strategy. */
export interface PendingPlacementGroup {
  bundles: Resources[];
  strategy: PlacementStrategy;
}

/** What one round decides from. */
export interface PlanInput {
  nodeTypes: Record<string, NodeTypeLimits>;
  /** Most autoscaled nodes in all. */
  maxWorkers: number;
  upscalingSpeed: number;
  nodes: NodeCapacity[];
  /** Unmet demand, one entry per task or actor ({ CPU: 1, special: 1 } three times for three tasks). */
  demand: Resources[];
  placementGroups: PendingPlacementGroup[];
  /** The standing request of requestResources. */
  requested: Resources[];
}

/** What one round decides: how many nodes of each type to launch, and what stays unmet and why. */
export interface Plan {
  launch: Record<string, number>;
  unmet: UnmetDemand[];
}

/** Ray's UPSCALING_INITIAL_NUM_NODES: this many nodes of a type may launch at once whatever the speed. */
export const INITIAL_LAUNCH = 5;

/** A node planned this round: its type and what is left of it. */
interface Planned {
  nodeType: string;
  room: Resources;
}

/** The round's bookkeeping of counts and limits. */
class Budget {
  readonly running: Record<string, number> = {};
  readonly launching: Record<string, number> = {};
  readonly launch: Record<string, number> = {};
  private autoscaled = 0;
  private launched = 0;

  constructor(private readonly input: PlanInput) {
    for (const t of Object.keys(input.nodeTypes)) {
      this.running[t] = 0;
      this.launching[t] = 0;
      this.launch[t] = 0;
    }
    for (const n of input.nodes) {
      if (n.nodeType === undefined || !(n.nodeType in input.nodeTypes)) continue;
      this.autoscaled++;
      if (n.launching) this.launching[n.nodeType] = (this.launching[n.nodeType] ?? 0) + 1;
      else this.running[n.nodeType] = (this.running[n.nodeType] ?? 0) + 1;
    }
  }

  count(t: string): number {
    return (this.running[t] ?? 0) + (this.launching[t] ?? 0) + (this.launch[t] ?? 0);
  }

  /** Why a node of type t may not launch now (undefined: it may); bySpeed: the upscaling speed applies. */
  refusal(t: string, bySpeed: boolean): UnmetReason | undefined {
    const limits = this.input.nodeTypes[t] as NodeTypeLimits;
    if (this.count(t) >= limits.maxWorkers) return 'over maxWorkers';
    if (this.autoscaled + this.launched >= this.input.maxWorkers) return 'over maxWorkers';
    if (bySpeed) {
      const running = this.running[t] ?? 0;
      const allowed = Math.max(INITIAL_LAUNCH, Math.floor(this.input.upscalingSpeed * Math.max(running, 1)));
      const pending = (this.launching[t] ?? 0) + (this.launch[t] ?? 0);
      if (pending >= allowed) return 'upscaling speed';
    }
    return undefined;
  }

  add(t: string): void {
    this.launch[t] = (this.launch[t] ?? 0) + 1;
    this.launched++;
  }
}

/**
 * How well a node of type `res` would be used by the shapes (packed onto one empty node):
 * Ray's utilization scorer. A GPU node for work that needs no GPU scores lowest; then the
 * least used of its resources, then the mean.
 */
function score(res: Resources, shapes: readonly Resources[]): [number, number, number] {
  const room = { ...res };
  pack([room], shapes.slice(0, 100));
  const gpuWanted = shapes.some((s) => (s.GPU ?? 0) > 0);
  const gpuOk = (res.GPU ?? 0) > 0 && !gpuWanted ? 0 : 1;
  const utils = Object.entries(res)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => (v - (room[k] ?? 0)) / v);
  const min = Math.min(...utils);
  const mean = utils.reduce((a, b) => a + b, 0) / Math.max(1, utils.length);
  return [gpuOk, min, mean];
}

function better(a: [number, number, number], b: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++)
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) > (b[i] as number);
  return false;
}

/**
 * Launches nodes for shapes that fit no node yet, largest first: onto a node planned this
 * round if one has room, else a new node of the best type allowed. Returns the shapes that
 * stay unmet, each with why.
 */
function launchFor(
  shapes: Resources[],
  input: PlanInput,
  budget: Budget,
  planned: Planned[],
  bySpeed: boolean,
): Array<{ shape: Resources; reason: UnmetReason }> {
  const unmet: Array<{ shape: Resources; reason: UnmetReason }> = [];
  const todo = largestFirst(shapes);
  for (let i = 0; i < todo.length; i++) {
    const s = todo[i] as Resources;
    const onPlanned = planned.find((p) => fits(p.room, s));
    if (onPlanned) {
      take(onPlanned.room, s);
      continue;
    }
    const types = Object.entries(input.nodeTypes).filter(([, t]) => fits(t.resources, s));
    if (types.length === 0) {
      unmet.push({ shape: s, reason: 'no node type fits' });
      continue;
    }
    let best: string | undefined;
    let bestScore: [number, number, number] = [-1, -1, -1];
    let reason: UnmetReason = 'over maxWorkers';
    const rest = todo.slice(i);
    for (const [name, t] of types) {
      const why = budget.refusal(name, bySpeed);
      if (why) {
        if (why === 'upscaling speed') reason = why;
        continue;
      }
      const sc = score(t.resources, rest);
      if (best === undefined || better(sc, bestScore)) {
        best = name;
        bestScore = sc;
      }
    }
    if (best === undefined) {
      unmet.push({ shape: s, reason });
      continue;
    }
    budget.add(best);
    const room = { ...(input.nodeTypes[best] as NodeTypeLimits).resources };
    take(room, s);
    planned.push({ nodeType: best, room });
  }
  return unmet;
}

/** Placement groups as demand shapes: STRICT_PACK as one shape (its bundles summed), the others bundle by bundle. */
function groupShapes(groups: readonly PendingPlacementGroup[]): {
  loose: Resources[];
  spread: Resources[][];
} {
  const loose: Resources[] = [];
  const spread: Resources[][] = [];
  for (const g of groups) {
    if (g.strategy === 'STRICT_PACK') loose.push(sum(g.bundles));
    else if (g.strategy === 'STRICT_SPREAD') spread.push(g.bundles);
    else loose.push(...g.bundles);
  }
  return { loose, spread };
}

/**
 * STRICT_SPREAD groups: each bundle on a different node. Bundles go onto rooms not yet used
 * by the group; the rest need a new node each. Returns the bundles that need new nodes, one
 * list per group (each of those bundles gets its own node).
 */
function placeSpread(rooms: Resources[], groups: readonly Resources[][]): Resources[][] {
  const out: Resources[][] = [];
  for (const bundles of groups) {
    const usedByGroup = new Set<number>();
    const left: Resources[] = [];
    for (const b of largestFirst(bundles)) {
      const i = rooms.findIndex((r, j) => !usedByGroup.has(j) && fits(r, b));
      if (i < 0) left.push(b);
      else {
        take(rooms[i] as Resources, b);
        usedByGroup.add(i);
      }
    }
    if (left.length > 0) out.push(left);
  }
  return out;
}

/** Counts equal shapes: the unmet demand as status shows it. */
function tally(list: Array<{ shape: Resources; reason: UnmetReason }>): UnmetDemand[] {
  const by = new Map<string, UnmetDemand>();
  for (const { shape, reason } of list) {
    const k = `${reason}|${shapeText(shape)}`;
    const cur = by.get(k);
    if (cur) cur.count++;
    else by.set(k, { shape: JSON.parse(shapeText(shape)) as Resources, count: 1, reason });
  }
  return [...by.values()];
}

/** Decides this round's launches (see the file comment). */
export function planScale(input: PlanInput): Plan {
  const budget = new Budget(input);
  const planned: Planned[] = [];
  // 1. minWorkers of each type, whatever the demand.
  for (const [name, t] of Object.entries(input.nodeTypes)) {
    while (budget.count(name) < t.minWorkers) {
      budget.add(name);
      planned.push({ nodeType: name, room: { ...t.resources } });
    }
  }
  // 2. The standing request: packed onto every node's total (it asks for capacity, used or not).
  const totals = [...input.nodes.map((n) => ({ ...n.total })), ...planned.map((p) => ({ ...p.room }))];
  const reqUnfit = pack(totals, input.requested).unfit;
  const requestedPlanned: Planned[] = [];
  const unmetReq = launchFor(reqUnfit, input, budget, requestedPlanned, false);
  planned.push(
    ...requestedPlanned.map((p) => ({
      nodeType: p.nodeType,
      room: { ...(input.nodeTypes[p.nodeType] as NodeTypeLimits).resources },
    })),
  );
  // 3. The demand: onto what running nodes have free and launching or planned nodes will have.
  const rooms: Resources[] = [
    ...input.nodes.map((n) => ({ ...(n.launching ? n.total : n.available) })),
    ...planned.map((p) => p.room),
  ];
  const { loose, spread } = groupShapes(input.placementGroups);
  const unfit = pack(rooms, [...input.demand, ...loose]).unfit;
  const spreadLeft = placeSpread(rooms, spread);
  const fresh: Planned[] = [];
  const unmet = launchFor(unfit, input, budget, fresh, true);
  // Each STRICT_SPREAD bundle left needs a node of its own: none of them share a planned node.
  for (const bundles of spreadLeft) {
    for (const b of bundles) unmet.push(...launchFor([b], input, budget, [], true));
  }
  const launch: Record<string, number> = {};
  for (const [t, n] of Object.entries(budget.launch)) if (n > 0) launch[t] = n;
  return { launch, unmet: tally([...unmetReq, ...unmet]) };
}
