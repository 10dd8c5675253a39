// Helpers for tests of code that uses sunray (`sunray/testing`).

import * as sunray from '../index.js';
import { currentRuntime } from '../runtime/context.js';

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

/** Counts of the node's workers and tasks (driver only). */
export function nodeStats(): {
  workers: number;
  idle: number;
  queued: number;
  running: number;
  actors: number;
} {
  const rt = currentRuntime();
  if (!rt?.manager) throw new sunray.NotInitializedError('nodeStats(): no embedded node in this process');
  return rt.manager.stats();
}
export { Cluster, type ClusterOptions, type NodeHandle, type NodeOptions } from './cluster.js';
