// Where a task or actor runs, given what each node has: Ray's policies.
// - DEFAULT (hybrid): stay local while the local node is below half its
//   capacity; past that, the least loaded node that has room; if none has
//   room, queue where it is feasible (local first).
// - SPREAD: round-robin over the feasible nodes, those with room first.
// - node affinity { nodeId, soft }: that node; if it is gone or can't run the
//   task, fail (hard) or fall back to DEFAULT (soft).
import type { Resources } from './messages.js';

/** Where a task or actor may go (see the file comment). */
export type SchedulingStrategy = 'DEFAULT' | 'SPREAD' | { nodeId: string; soft?: boolean };

/** A node as placement sees it. */
export interface NodeView {
  /** The node's id (hex). */
  nodeId: string;
  total: Resources;
  /** Resources held plus demand queued, including what we sent since its last report. */
  load: Resources;
}

/** The node chosen, or why no node can ever run the task. */
export type Placement = { node: string } | { unschedulable: string };

const HYBRID_THRESHOLD = 0.5;

/** Whether node n could run the demand at all, were it idle. */
export function feasible(n: NodeView, demand: Resources): boolean {
  for (const [k, v] of Object.entries(demand)) if (v > 0 && (n.total[k] ?? 0) < v) return false;
  return true;
}

/** Fits now: its load plus this demand stays within its total. */
export function hasRoom(n: NodeView, demand: Resources): boolean {
  for (const [k, v] of Object.entries(demand)) {
    if (v > 0 && (n.load[k] ?? 0) + v > (n.total[k] ?? 0) + 1e-9) return false;
  }
  return true;
}

/** The most loaded of the resources the demand uses (CPU when it uses none). */
export function utilization(n: NodeView, demand: Resources): number {
  const keys = Object.keys(demand).filter((k) => (demand[k] ?? 0) > 0);
  if (keys.length === 0) keys.push('CPU');
  let u = 0;
  for (const k of keys) {
    const t = n.total[k] ?? 0;
    if (t > 0) u = Math.max(u, (n.load[k] ?? 0) / t);
  }
  return u;
}

/** Chooses the node for a demand under a strategy; spreadTurn rotates SPREAD's choice. */
export function place(
  demand: Resources,
  strategy: SchedulingStrategy,
  local: NodeView,
  others: NodeView[],
  spreadTurn: number,
): Placement {
  const all = [local, ...others];
  if (typeof strategy === 'object') {
    const target = all.find((n) => n.nodeId === strategy.nodeId);
    if (target && feasible(target, demand)) return { node: target.nodeId };
    if (!strategy.soft) {
      return {
        unschedulable: target
          ? `node ${strategy.nodeId} cannot run it (it has ${JSON.stringify(target.total)}, the task needs ${JSON.stringify(demand)})`
          : `node ${strategy.nodeId} is not an alive node of the cluster`,
      };
    }
    return place(demand, 'DEFAULT', local, others, spreadTurn);
  }
  const candidates = all.filter((n) => feasible(n, demand));
  const [first] = candidates;
  if (first === undefined) return { node: local.nodeId }; // infeasible: waits locally for a node to join
  if (strategy === 'SPREAD') {
    const roomy = candidates.filter((n) => hasRoom(n, demand));
    const pool = roomy.length > 0 ? roomy : candidates;
    return { node: (pool[spreadTurn % pool.length] ?? first).nodeId };
  }
  if (feasible(local, demand) && hasRoom(local, demand) && utilization(local, demand) < HYBRID_THRESHOLD) {
    return { node: local.nodeId };
  }
  let best: NodeView | undefined;
  let bestU = Number.POSITIVE_INFINITY;
  for (const n of candidates) {
    if (!hasRoom(n, demand)) continue;
    const u = utilization(n, demand);
    if (u < bestU - 1e-9) {
      best = n;
      bestU = u;
    }
  }
  if (best) return { node: best.nodeId };
  if (feasible(local, demand)) return { node: local.nodeId };
  // Queue on the feasible node with the least load relative to its size.
  let q = first;
  for (const n of candidates) if (utilization(n, demand) < utilization(q, demand)) q = n;
  return { node: q.nodeId };
}
