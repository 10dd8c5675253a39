// A driver joining a cluster: its embedded node manager becomes one more node
// (with 0 CPUs unless told otherwise, so its tasks run on the cluster's nodes,
// while its store still holds what the driver puts and gets).
import { ClusterConnectionError } from '../base/errors.js';
import type { NodeManager } from '../node/node-manager.js';
import { loadHead } from '../session/session-dir.js';
import { checkToken } from './auth.js';
import { ClusterNode } from './cluster-node.js';
import { loadTls, type TlsFiles, tlsFilesOf } from './tls.js';

/** What init() was given to join a cluster. */
export interface JoinOptions {
  /** The head's host:port, or 'auto' for the cluster started on this machine. */
  address: string;
  /** The cluster token; else SUNRAY_CLUSTER_TOKEN, else the session's when the head is ours. */
  token?: string | undefined;
  /** Milliseconds of silence after which a node is declared dead. */
  heartbeatTimeout?: number | undefined;
  /** Where the driver's node listens (default: its address on the route to the head). */
  bind?: string | undefined;
  /** The IP other nodes reach the driver's node at (default: the bind address). */
  nodeIpAddress?: string | undefined;
  /** TLS: this driver's certificate, key and the cluster's CA (paths); all three or none. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
}

/**
 * The head address and token to use: 'auto' becomes the head recorded in this machine's
 * session, and a missing token comes from the environment or that session. Throws
 * InvalidArgumentError for a short token, ClusterConnectionError when there is no head or token.
 */
export function resolveAddress(o: JoinOptions): { address: string; token: string; tls?: TlsFiles } {
  let address = o.address;
  // Given tokens are checked for length (auth.ts checkToken); the session's was, when the head started.
  let token =
    o.token !== undefined
      ? checkToken(o.token, 'init({ token })')
      : process.env.SUNRAY_CLUSTER_TOKEN
        ? checkToken(process.env.SUNRAY_CLUSTER_TOKEN, 'SUNRAY_CLUSTER_TOKEN')
        : undefined;
  if (address === 'auto') {
    const head = loadHead();
    if (!head) {
      throw new ClusterConnectionError(
        "init({ address: 'auto' }): no cluster was started on this machine; run `sunray start --head` first, " +
          'or give the head address and token',
      );
    }
    address = head.address;
    token ??= head.token;
  }
  if (!token) {
    const head = loadHead();
    if (head && head.address === address) token = head.token;
  }
  if (!token) {
    throw new ClusterConnectionError(
      `init({ address: '${address}' }): no cluster token: pass token (printed by \`sunray start --head\`) ` +
        'or set SUNRAY_CLUSTER_TOKEN',
    );
  }
  // TLS files: given, else the local head's when that is the head joined.
  const given = tlsFilesOf(
    { cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa },
    { cert: 'init({ tlsCert })', key: 'init({ tlsKey })', ca: 'init({ tlsCa })' },
  );
  const local = given ? undefined : loadHead();
  const tls = given ?? (local && local.address === address ? local.tls : undefined);
  return tls ? { address, token, tls } : { address, token };
}

/** Joins the driver's node manager to the cluster at o.address, as a driver node. */
export async function joinCluster(manager: NodeManager, o: JoinOptions): Promise<ClusterNode> {
  const { address, token, tls } = resolveAddress(o);
  return ClusterNode.start({
    tls: tls ? loadTls(tls) : undefined,
    manager,
    token,
    head: false,
    headAddress: address,
    isDriver: true,
    bind: o.bind,
    nodeIpAddress: o.nodeIpAddress,
    ...(o.heartbeatTimeout !== undefined ? { heartbeatTimeoutMs: o.heartbeatTimeout } : {}),
  });
}
