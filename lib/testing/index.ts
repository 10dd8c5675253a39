// Helpers for tests of code that uses sunray (`sunray/testing`).

import * as sunray from '../index.js';
import type { NodeStats } from '../node/node-manager.js';
import { currentRuntime } from '../worker/context.js';

export type { NodeStats };

import { ObjectId } from '../store/index.js';

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
  const rt = currentRuntime();
  if (!rt?.manager) throw new sunray.NotInitializedError('workerPids(): no embedded node in this process');
  return rt.manager.workerPids();
}

/** Counts of the node's workers, tasks, actors and direct actor channels (driver only). */
export function nodeStats(): NodeStats {
  const rt = currentRuntime();
  if (!rt?.manager) throw new sunray.NotInitializedError('nodeStats(): no embedded node in this process');
  return rt.manager.stats();
}
export { Cluster, type ClusterOptions, type NodeHandle, type NodeOptions } from './cluster.js';

/** The node's object store statistics (driver only): bytes used, objects, pins, spills. */
export function storeStats(): import('../store/index.js').StoreStats {
  const rt = currentRuntime();
  if (!rt?.manager) throw new sunray.NotInitializedError('storeStats(): no embedded node in this process');
  return rt.manager.store.stats();
}

/**
 * Deletes an object's copy from the node's store behind its owner's back, as
 * losing the node that held it would (driver only). For tests of lineage
 * reconstruction and ObjectLostError.
 */
export function loseObject(ref: sunray.ObjectRef<unknown>): boolean {
  const rt = currentRuntime();
  if (!rt?.manager) throw new sunray.NotInitializedError('loseObject(): no embedded node in this process');
  const id = ObjectId.fromBytes(ref);
  if (!rt.manager.store.contains(id)) return false;
  const info = rt.manager.store.list().find((o) => o.id.equals(id));
  if (info && info.pins > 0) {
    throw new sunray.InvalidArgumentError(
      `loseObject(): ${ref} is pinned by ${info.pins} live view(s) (values read by get); a lost node ` +
        'would take them along, but here they keep the memory: drop them (and collect) first',
    );
  }
  rt.manager.store.delete(id);
  return true;
}
