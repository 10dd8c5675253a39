// Asking the head for the node table (`sunray status`, the testing Cluster).

import { randomBytes } from 'node:crypto';
import { ClusterConnectionError } from '../base/errors.js';
import { Conn } from './connection.js';
import type { NodeInfoMsg } from './messages.js';
import { splitAddress } from './peers.js';

/** The head's node table and heartbeat timeout, over a connection opened for it and closed after. */
export async function queryStatus(
  address: string,
  token: string,
): Promise<{ nodes: NodeInfoMsg[]; heartbeatTimeoutMs: number }> {
  const [host, port] = splitAddress(address);
  const conn = await Conn.dial(
    host,
    port,
    { token, nodeId: randomBytes(16), log: () => {}, onMessage: () => {} },
    `the head at ${address}`,
  );
  try {
    const r = await conn.request({ t: 'status' });
    if (r.msg.t !== 'nodeTable') throw new ClusterConnectionError(`the head answered ${r.msg.t} to status`);
    return { nodes: r.msg.nodes, heartbeatTimeoutMs: r.msg.heartbeatTimeoutMs };
  } finally {
    conn.close('done', false);
  }
}
