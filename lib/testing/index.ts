// Helpers for tests of code that uses sunray (`sunray/testing`).

/**
 * Helpers for tests of code that uses sunray: withSunray, node and store counters, and clusters
 * of node processes on one machine.
 *
 * @module sunray/testing
 */

import * as sunray from '../index.js';
import { embeddedNode } from '../node/driver.js';
import type { NodeManager, NodeStats } from '../node/node-manager.js';

export type { NodeStats };

import { ObjectId } from '../store/index.js';

/** The driver's embedded node manager, or a NotInitializedError naming the helper that needed it. */
function node(what: string): NodeManager {
  const n = embeddedNode();
  if (!n) throw new sunray.NotInitializedError(`${what}: no embedded node in this process`);
  return n;
}

/** Runs fn with sunray started with opts, and always shuts it down after. */
export async function withSunray<T>(opts: sunray.InitOptions, fn: () => Promise<T>): Promise<T> {
  await sunray.init(opts);
  try {
    return await fn();
  } finally {
    await sunray.shutdown();
  }
}

/** Pids of this node's live worker processes (driver only): to check nothing leaks. */
export function workerPids(): number[] {
  const manager = node('workerPids()');
  return manager.workerPids();
}

/** Counts of the node's workers, tasks, actors and direct actor channels (driver only). */
export function nodeStats(): NodeStats {
  const manager = node('nodeStats()');
  return manager.stats();
}
export type { TlsFiles } from '../cluster/tls.js';
export { Cluster, type ClusterOptions, type NodeHandle, type NodeOptions } from './cluster.js';
export { makeTestCertificates, type TestCertificates } from './tls-certs.js';

/** The node's object store statistics (driver only): bytes used, objects, pins, spills. */
export function storeStats(): import('../store/index.js').StoreStats {
  const manager = node('storeStats()');
  return manager.store.stats();
}

/**
 * Whether this node's store holds the object's copy now (driver only): to check that an
 * object is kept, or freed, without counting bytes that other objects may also move.
 */
export function inStore(ref: sunray.ObjectRef<unknown>): boolean {
  return node('inStore()').store.contains(ObjectId.fromBytes(ref));
}

/**
 * Deletes an object's copy from the node's store behind its owner's back, as
 * losing the node that held it would (driver only). For tests of lineage
 * reconstruction and ObjectLostError.
 */
export function loseObject(ref: sunray.ObjectRef<unknown>): boolean {
  const manager = node('loseObject()');
  const id = ObjectId.fromBytes(ref);
  if (!manager.store.contains(id)) return false;
  const info = manager.store.list().find((o) => o.id.equals(id));
  if (info && info.pins > 0) {
    throw new sunray.InvalidArgumentError(
      `loseObject(): ${ref} is pinned by ${info.pins} live view(s) (values read by get); a lost node ` +
        'would take them along, but here they keep the memory: drop them (and collect) first',
    );
  }
  manager.store.delete(id);
  return true;
}
