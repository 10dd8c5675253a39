// What the autoscaler asks of a node provider: create a node of a type (it starts
// `sunray start --address HEAD` there with the type's resources and labels), terminate
// one, list those that exist, and say where one is. Three providers implement it:
// providers/local.ts, providers/ssh.ts, providers/command.ts; providers/index.ts picks one.
import type { Resources } from './bin-pack.js';

/** What a new node is started with. */
export interface NodeLaunch {
  nodeType: string;
  /** A name for the node, unique in this cluster (`<cluster>-<type>-<8 hex>`); its instance label. */
  name: string;
  /** What the node offers (CPU and GPU included). */
  resources: Resources;
  /** Its labels, the node type's and instance's included. */
  labels: Record<string, string>;
  /** Bytes of its object store (absent: sunray's default). */
  objectStoreMemory?: number;
}

/** A node a provider made. */
export interface Instance {
  /** The provider's id of it (a pid-based id, a host, a cloud's id). */
  id: string;
  /** Its name (NodeLaunch.name): the value of its instance label, how the head's table is matched. */
  name: string;
  nodeType: string;
}

/** Creates, lists and removes the cluster's nodes. */
export interface NodeProvider {
  /** Its kind, for status ('local', 'ssh', 'command'). */
  readonly kind: string;
  /** Starts a node; resolves once the provider has made it (it joins the head later). */
  create(launch: NodeLaunch): Promise<Instance>;
  /** Removes a node (its sunray first, gracefully where it can). */
  terminate(instance: Instance): Promise<void>;
  /** The ids of the nodes that exist now (made by this provider for this cluster). */
  list(): Promise<string[]>;
  /** The address (host) of a node. */
  address(instance: Instance): Promise<string>;
}

/** Where the nodes join, and with what: the head's address and the token's 0600 file. */
export interface HeadAccess {
  /** host:port the nodes reach the head at. */
  address: string;
  /** The cluster token (for providers that hand it over a pipe). */
  token: string;
  /** A 0600 file holding the token (for providers whose commands pass it on by file). */
  tokenFile: string;
}
