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
