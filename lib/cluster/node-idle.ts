// Whether a node is idle, as its heartbeats report it to the autoscaler (which removes
// nodes idle past its timeout): nothing runs or waits here, and nothing here must outlive
// the node. Read once a heartbeat, so it is cheap while the node is busy.
import { OWNER_NODE_PREFIX } from '../node/node-manager.js';
import type { LocalNode } from './local-node.js';

/**
 * No tasks (queued or running), no actors (alive or waiting), every resource free (no
 * lease), and no object in its store pinned or owned by a process of this node (copies of
 * other nodes' objects may go: the store evicts them).
 */
export function nodeIdle(local: Pick<LocalNode, 'stats' | 'pool' | 'store' | 'nodeId'>): boolean {
  const s = local.stats();
  if (s.running > 0 || s.queued > 0 || s.actors > 0 || s.pendingActors > 0) return false;
  const total = local.pool.total();
  const free = local.pool.available();
  for (const [k, v] of Object.entries(total)) if ((free[k] ?? 0) < v) return false;
  const st = local.store.stats();
  if (st.pinned > 0) return false;
  if (st.objects === 0) return true;
  const own = Buffer.from(local.nodeId, 'hex').subarray(0, OWNER_NODE_PREFIX);
  return !local.store.list().some((o) => o.id.bytes.subarray(0, OWNER_NODE_PREFIX).equals(own));
}
