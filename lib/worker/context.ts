// The process's one runtime: the driver's or a worker's core worker and its link
// to the node. The public API (lib/index.ts) talks to whichever is current; the
// driver's embedded node manager is node/driver.ts's own (embeddedNode()), so
// nothing of this layer needs the node's code.
import { ObjectRefReleasedError, SessionEndedError, type SunrayError } from '../base/errors.js';
import type { ObjectRef } from '../base/object-ref.js';
import type { Backend } from './backend.js';
import type { CoreWorker } from './core-worker.js';

export interface Runtime {
  readonly core: CoreWorker;
  readonly backend: Backend;
  /** The namespace of named actors: the job's (in a worker, the running call's job's). */
  readonly namespace: string;
  /**
   * The job (the driver program) of the code running now: the driver's own; in a worker,
   * the running call's (every call carries its job), else its node's driver's (undefined on
   * a `sunray start` node, which serves every driver of its cluster).
   */
  readonly jobId: string | undefined;
  shutdown(): Promise<void>;
  /** Ends the actor this process hosts once its running calls end (sunray.exitActor()); absent in the driver. */
  exitActor?(): void;
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

/** True if ref (an object id) was made by a session this process shut down. */
function fromEndedSession(ref: Uint8Array): boolean {
  if (endedNodes.size === 0) return false;
  for (const prefix of endedNodes) {
    const bytes = prefix.length / 2;
    if (Buffer.from(ref.buffer, ref.byteOffset, bytes).toString('hex') === prefix) return true;
  }
  return false;
}

/**
 * Why ref can never be read, or undefined: a released handle, or a ref of a session that was
 * shut down (with no session now, any ref is one). `use` says what was done with it, e.g.
 * 'get()'. Reading such a ref would otherwise wait forever (lib/index.ts, task arguments).
 */
export function unreadableRef(ref: ObjectRef<unknown>, use: string): SunrayError | undefined {
  if (ref.released) {
    return new ObjectRefReleasedError(
      `${use} of ${ref}, a handle that was released (ref.release(), or the end of a \`using\` block): ` +
        'it can no longer be read. Release a ref only once nothing will read it again.',
    );
  }
  if (fromEndedSession(ref) || (endedNodes.size > 0 && !current)) {
    return new SessionEndedError(
      `${use} of ${ref}: the ref belongs to a sunray session that was shut down (sunray.shutdown()), ` +
        'and its objects went with it. Make the value again in the current session.',
    );
  }
  return undefined;
}
