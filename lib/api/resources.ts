// The cluster's resources and nodes as a program sees them (Ray's available_resources,
// cluster_resources and nodes): synchronous in the driver, whose node is in-process, and
// async anywhere.
import { SunrayError } from '../base/errors.js';
import { currentRuntimeOrStart } from './runtime.js';

/** Resources by name and amount: { CPU: 4, GPU: 1, memory: ..., custom ones }. */
export type Resources = Record<string, number>;

/** Resources free right now on this node (in the driver; in a worker use the async form). */
export function availableResources(): Resources {
  return nodeRequestSync('availableResources');
}

/** All resources of this node. */
export function clusterResources(): Resources {
  return nodeRequestSync('clusterResources');
}

/** availableResources() from anywhere, including inside tasks and actors. */
export function availableResourcesAsync(): Promise<Resources> {
  return currentRuntimeOrStart().backend.request('availableResources');
}

function nodeRequestSync<K extends 'availableResources' | 'clusterResources'>(kind: K): Resources {
  const rt = currentRuntimeOrStart();
  if (!rt.backend.requestSync) {
    throw new SunrayError(
      `${kind}() is synchronous only in the driver; inside a task use await ${kind}Async()`,
    );
  }
  return rt.backend.requestSync(kind as 'availableResources');
}

/** One node of the cluster (see nodes()). */
export type { NodeInfo } from '../worker/backend.js';

/**
 * The cluster's nodes, as Ray's `ray.nodes()`: each with its id, address, whether it is alive,
 * its resources and labels. An embedded node in no cluster lists itself alone; in a cluster
 * every node the head knows of, dead ones included (`alive: false`), and the drivers' nodes
 * (`isDriver: true`). Works in the driver and inside tasks and actors.
 */
export function nodes(): Promise<import('../worker/backend.js').NodeInfo[]> {
  return currentRuntimeOrStart().backend.request('nodes');
}

/** clusterResources() from anywhere, including inside tasks and actors. */
export function clusterResourcesAsync(): Promise<Resources> {
  return currentRuntimeOrStart().backend.request('clusterResources');
}
