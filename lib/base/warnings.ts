// sunray's own warnings and debug output, as Node programs expect them. Warnings go through
// process.emitWarning with type 'SunrayWarning' and a stable code per kind (docs/errors.md):
// `process.on('warning')` sees them, `--no-warnings` silences them, `--trace-warnings` gives
// their stack. Debug lines go through util.debuglog('sunray'): printed with
// NODE_DEBUG=sunray, and nothing is formatted when it is off.
import { debuglog } from 'node:util';

/** The codes of sunray's warnings (stable: programs may filter on them). */
export type SunrayWarningCode =
  /** Work waits for resources this node does not have at all. */
  | 'SUNRAY_INFEASIBLE'
  /** Work waits for a worker process: the node runs its maxWorkerProcesses. */
  | 'SUNRAY_PROCESS_CAP'
  /** `sunray memory` cannot reach this process (its session socket did not open). */
  | 'SUNRAY_NO_MEMORY_ENDPOINT'
  /** A direct actor channel could not open: calls go by the node manager instead. */
  | 'SUNRAY_DIRECT_CHANNEL'
  /** The completion ring could not be repaired after a worker died mid-write. */
  | 'SUNRAY_RING_REPAIR'
  /** A message of a type this version does not know arrived, and was ignored. */
  | 'SUNRAY_UNKNOWN_MESSAGE'
  /** A program's metric update was dropped (a name reused with another kind, labels Prometheus refuses). */
  | 'SUNRAY_BAD_METRIC'
  /** The dashboard's default port (8265) is taken: it listens on another (dashboardUrl() says which). */
  | 'SUNRAY_DASHBOARD_PORT'
  /** A node could not make its log directory: its workers' output is not kept in files. */
  | 'SUNRAY_LOG_FILES'
  /** /dev/shm's free space, not 30% of memory, set the default object store size. */
  | 'SUNRAY_STORE_SHM'
  /** A runtime env's workingDir held entries that are not regular files (links, sockets): left out. */
  | 'SUNRAY_WORKING_DIR_SKIPPED';

/** Emits a sunray warning (process.emitWarning, type 'SunrayWarning'). */
export function warn(code: SunrayWarningCode, message: string): void {
  process.emitWarning(message, { type: 'SunrayWarning', code });
}

/** Writes a debug line when NODE_DEBUG includes `sunray` (util.format arguments). */
export const debug: (message: string, ...args: unknown[]) => void = debuglog('sunray');
