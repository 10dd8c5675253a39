// Which launched nodes to remove this round: those idle past the timeout (no tasks,
// actors or leases, nothing owned or pinned in their store: the node itself reports how
// long it has been so), never taking a type below its minWorkers, and keeping the nodes
// the standing request (requestResources) needs. Those that never joined within the
// start timeout, and those whose node died, go too. Pure: the loop gives it what it sees.
import { pack, type Resources } from './bin-pack.js';

/** A node the autoscaler launched, as this decision sees it. */
export interface LaunchedNode {
  /** The provider's id. */
  id: string;
  nodeType: string;
  /** launching: not joined yet; running: its node is alive; dead: its node joined and died. */
  state: 'launching' | 'running' | 'dead';
  /** How long its node has been idle (0: busy now). */
  idleMs: number;
  /** How long ago it was launched. */
  ageMs: number;
  /** Its type's resources. */
  total: Resources;
}

/** What the decision needs beyond the nodes. */
export interface IdleInput {
  nodes: LaunchedNode[];
  minWorkers: Record<string, number>;
  idleTimeoutMs: number;
  /** A node not joined this long after its launch is given up. */
  startTimeoutMs: number;
  /** The standing request: the nodes it needs stay. */
  requested: Resources[];
  /** Totals of the alive nodes the autoscaler did not launch (the head, nodes started by hand). */
  others: Resources[];
}

/** Why a node is removed. */
export type RemovalReason = 'idle' | 'did not start' | 'died';

/** The nodes to remove this round, with why. */
export function pickRemovals(input: IdleInput): Array<{ id: string; reason: RemovalReason }> {
  const out: Array<{ id: string; reason: RemovalReason }> = [];
  const left: Record<string, number> = {};
  for (const n of input.nodes) {
    if (n.state === 'dead') out.push({ id: n.id, reason: 'died' });
    else if (n.state === 'launching' && n.ageMs > input.startTimeoutMs)
      out.push({ id: n.id, reason: 'did not start' });
    else left[n.nodeType] = (left[n.nodeType] ?? 0) + 1;
  }
  const idle = input.nodes
    .filter((n) => n.state === 'running' && n.idleMs >= input.idleTimeoutMs)
    .sort((a, b) => b.idleMs - a.idleMs);
  if (idle.length === 0) return out;
  // The request counts capacity: the busy nodes, the others and the launching ones first, then
  // the idle ones, longest idle last, so the ones it still needs are those idle the shortest.
  const busy = input.nodes.filter((n) => n.state !== 'dead' && !idle.includes(n));
  const keepOrder = [...idle].reverse();
  const rooms = [...input.others, ...busy.map((n) => n.total), ...keepOrder.map((n) => n.total)].map((r) => ({
    ...r,
  }));
  const { used } = pack(rooms, input.requested);
  const needed = new Set<string>();
  const offset = input.others.length + busy.length;
  keepOrder.forEach((n, i) => {
    if (used[offset + i]) needed.add(n.id);
  });
  for (const n of idle) {
    if (needed.has(n.id)) continue;
    if ((left[n.nodeType] ?? 0) <= (input.minWorkers[n.nodeType] ?? 0)) continue;
    left[n.nodeType] = (left[n.nodeType] ?? 0) - 1;
    out.push({ id: n.id, reason: 'idle' });
  }
  return out;
}
