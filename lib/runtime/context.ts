// The process's one runtime: the driver's (with its embedded node manager) or
// a worker's. The public API (lib/index.ts) talks to whichever is current.
import type { Backend } from './backend.js';
import type { CoreWorker } from './core-worker.js';
import type { NodeManager } from './node-manager.js';

export interface Runtime {
  readonly core: CoreWorker;
  readonly backend: Backend;
  readonly manager: NodeManager | undefined; // the driver's embedded node
  readonly namespace: string;
  shutdown(): Promise<void>;
}

let current: Runtime | undefined;

export function setRuntime(r: Runtime | undefined): void {
  current = r;
}

export function currentRuntime(): Runtime | undefined {
  return current;
}

/** True inside a worker process (a task or an actor). */
export function inWorker(): boolean {
  return (
    process.env.SUNRAY_WORKER_CONFIG !== undefined || (current !== undefined && !current.backend.isDriver)
  );
}

// Sessions this process shut down, by the start of their node's id (hex): every
// object id embeds its owner's id, whose first bytes are its node's (ids.ts,
// node-manager.ts newOwnerId), so a ref tells which session it came from. Their
// objects are gone, and their owners will never answer: reading such a ref fails
// at once instead of waiting forever.
const endedNodes = new Set<string>();

/** Records that the session of node `nodePrefixHex` (NodeManager.nodePrefix) was shut down. */
export function sessionEnded(nodePrefixHex: string): void {
  endedNodes.add(nodePrefixHex);
}

/** True once this process has shut a session down (a ref seen with no session must be from one). */
export function anySessionEnded(): boolean {
  return endedNodes.size > 0;
}

/** True if ref (an object id) was made by a session this process shut down. */
export function fromEndedSession(ref: Uint8Array): boolean {
  if (endedNodes.size === 0) return false;
  for (const prefix of endedNodes) {
    const bytes = prefix.length / 2;
    if (Buffer.from(ref.buffer, ref.byteOffset, bytes).toString('hex') === prefix) return true;
  }
  return false;
}
