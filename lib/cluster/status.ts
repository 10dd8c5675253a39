// Asking the head for the node table (`sunray status`, the testing Cluster).

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { ClusterConnectionError } from '../core/errors.js';
import { splitAddress } from './cluster-node.js';
import { Conn } from './connection.js';
import type { NodeInfoMsg } from './messages.js';

export async function queryStatus(
  address: string,
  token: string,
): Promise<{ nodes: NodeInfoMsg[]; heartbeatTimeoutMs: number }> {
  const [host, port] = splitAddress(address);
  const socket = net.connect(port, host);
  await new Promise<void>((res, rej) => {
    socket.once('connect', res);
    socket.once('error', (e) =>
      rej(new ClusterConnectionError(`cannot reach the head at ${address}: ${e.message}`)),
    );
  });
  let conn: Conn;
  try {
    conn = await Conn.client(socket, {
      token,
      nodeId: randomBytes(16),
      log: () => {},
      onMessage: () => {},
    });
  } catch (err) {
    socket.destroy();
    throw new ClusterConnectionError(
      `the head at ${address} refused us (${(err as Error).message}): is the cluster token right?`,
    );
  }
  try {
    const r = await conn.request({ t: 'status' });
    if (r.msg.t !== 'nodeTable') throw new ClusterConnectionError(`the head answered ${r.msg.t} to status`);
    return { nodes: r.msg.nodes, heartbeatTimeoutMs: r.msg.heartbeatTimeoutMs };
  } finally {
    conn.close('done', false);
  }
}
