// Asking the head for the node table (`sunray status`, the testing Cluster), the autoscaler's
// status, and the state API's rows of the whole cluster (`sunray list`, `sunray summary`).

import { randomBytes } from 'node:crypto';
import { ClusterConnectionError } from '../base/errors.js';
import { AUTOSCALER_KV_NAMESPACE, type AutoscalerStatus, STATUS_KEY } from '../protocol/autoscaler.js';
import type { LogChunk, LogFileRow, LogRead } from '../protocol/log-lines.js';
import { type LocalStateKind, nodeRow, type RowSelection, type StateKind } from '../protocol/state-rows.js';
import { Conn } from './connection.js';
import type { Message, NodeInfoMsg } from './messages.js';
import { splitAddress } from './peers.js';
import type { TlsMaterial } from './tls.js';

/** What reaching the head takes: the cluster token, and the TLS files when the cluster uses TLS. */
export type HeadAuth = string | { token: string; tls?: TlsMaterial | undefined };

/** The head's node table and heartbeat timeout, over a connection opened for it and closed after. */
export async function queryStatus(
  address: string,
  auth: HeadAuth,
): Promise<{ nodes: NodeInfoMsg[]; heartbeatTimeoutMs: number }> {
  const r = await askHead(address, auth, { t: 'status' });
  if (r.t !== 'nodeTable') throw new ClusterConnectionError(`the head answered ${r.t} to status`);
  return { nodes: r.nodes, heartbeatTimeoutMs: r.heartbeatTimeoutMs };
}

/**
 * The state API's rows of a kind over the whole cluster (nodes: the head's table; tasks: the
 * head's task table, filtered and limited there by selection), and the nodes that did not answer.
 */
export async function queryState(
  address: string,
  auth: HeadAuth,
  kind: StateKind,
  selection: RowSelection<Record<string, unknown>> = {},
): Promise<{ rows: unknown[]; unreachable: string[]; dropped?: { tasks: number; events: number } }> {
  if (kind === 'nodes') {
    const { nodes } = await queryStatus(address, auth);
    return { rows: nodes.map(nodeRow), unreachable: [] };
  }
  const r = await askHead(address, auth, {
    t: 'stateQuery',
    kind: kind satisfies LocalStateKind | 'tasks' | 'jobs' | 'placementGroups',
    cluster: true,
    selectionJson:
      kind === 'tasks' ? JSON.stringify({ filters: selection.filters ?? [], limit: selection.limit }) : '',
  });
  if (r.t !== 'stateRows') throw new ClusterConnectionError(`the head answered ${r.t} to a state query`);
  return {
    rows: JSON.parse(r.rowsJson) as unknown[],
    unreachable: JSON.parse(r.unreachableJson) as string[],
    ...(r.extraJson ? { dropped: JSON.parse(r.extraJson) as { tasks: number; events: number } } : {}),
  };
}

/** Every worker log file of the cluster (`sunray logs`), and the nodes that did not answer. */
export async function queryLogFiles(
  address: string,
  auth: HeadAuth,
): Promise<{ rows: LogFileRow[]; unreachable: string[] }> {
  const r = await askHead(address, auth, { t: 'stateQuery', kind: 'logFiles', cluster: true });
  if (r.t !== 'stateRows') throw new ClusterConnectionError(`the head answered ${r.t} to a log query`);
  return {
    rows: JSON.parse(r.rowsJson) as LogFileRow[],
    unreachable: JSON.parse(r.unreachableJson) as string[],
  };
}

/** A read of a worker's log file on the node it is on, through the head (`sunray logs`). */
export async function queryLogRead(address: string, auth: HeadAuth, req: LogRead): Promise<LogChunk> {
  const r = await askHead(address, auth, {
    t: 'stateQuery',
    kind: 'logRead',
    cluster: true,
    selectionJson: JSON.stringify(req),
  });
  if (r.t !== 'stateRows') throw new ClusterConnectionError(`the head answered ${r.t} to a log read`);
  const [chunk] = JSON.parse(r.rowsJson) as LogChunk[];
  if (!chunk) throw new ClusterConnectionError(`could not read the log: ${JSON.parse(r.unreachableJson)}`);
  return chunk;
}

/** The autoscaler's last status on the head (`sunray status`); undefined when the head runs none. */
export async function queryAutoscalerStatus(
  address: string,
  auth: HeadAuth,
): Promise<AutoscalerStatus | undefined> {
  const r = await askHead(address, auth, {
    t: 'kvGet',
    namespace: AUTOSCALER_KV_NAMESPACE,
    key: STATUS_KEY,
  });
  if (r.t !== 'kvReply') throw new ClusterConnectionError(`the head answered ${r.t} to kvGet`);
  return r.found ? (JSON.parse(r.value.toString('utf8')) as AutoscalerStatus) : undefined;
}

/** One request to the head (`auth`: its token, or the token and TLS), over a connection opened for it and closed after. */
export async function askHead(address: string, auth: HeadAuth, m: Message): Promise<Message> {
  const [host, port] = splitAddress(address);
  const { token, tls } = typeof auth === 'string' ? { token: auth, tls: undefined } : auth;
  const conn = await Conn.dial(
    host,
    port,
    { token, nodeId: randomBytes(16), log: () => {}, onMessage: () => {}, tls },
    `the head at ${address}`,
  );
  try {
    return (await conn.request(m)).msg;
  } finally {
    conn.close('done', false);
  }
}
