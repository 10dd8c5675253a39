// What a worker's death says: how it ended (out of V8's heap, a signal, an exit code),
// what to do about it, and the error a task it was running fails with. A worker killed
// by V8's heap limit dies of SIGABRT, which alone says nothing: V8's report on its stderr
// (kept by WorkerProcess) tells it apart, and the limit comes from its Ready message. Each
// death is reported to the program too (sunray.events' workerExit: workerExitEvent).
import { OutOfMemoryError, WorkerCrashedError } from '../base/errors.js';
import { reportEvent, type WorkerExitEvent } from '../protocol/events.js';
import type { ClusterHooks } from './cluster-hooks.js';
import type { ResultSink } from './owner-router.js';
import { maxOldSpaceFlag, type WorkerProcess } from './worker-process.js';

/** What an out-of-memory death says to do. */
export const RAISE_HEAP =
  "Raise workers' heap limit with --max-old-space-size=<MiB> in NODE_OPTIONS or in the driver's node " +
  'flags (workers inherit them), or make the task hold less at once (stream it, or put() large parts).';

/** Why a worker died, in words for an error message, and what to do about it. */
export interface WorkerDeath {
  /** "was killed by SIGKILL", "exited with code 1", "ran out of memory: ...". */
  how: string;
  /** What to do about it ('' when there is nothing to say). */
  hint: string;
  outOfMemory: boolean;
}

/** Says how a worker died (signal, exit code, out of memory from its stderr) and what to try. */
export function describeDeath(
  w: WorkerProcess,
  code: number | null,
  signal: NodeJS.Signals | null,
): WorkerDeath {
  if (signal === 'SIGABRT' && w.outOfMemory()) {
    return {
      how:
        `ran out of memory: its JavaScript heap reached V8's limit${heapLimitText(w.heapLimit)}, ` +
        'and it was killed by SIGABRT',
      hint: RAISE_HEAP,
      outOfMemory: true,
    };
  }
  return {
    how: signal ? `was killed by ${signal}` : `exited with code ${code}`,
    hint: '',
    outOfMemory: false,
  };
}

/** The error of a task whose worker died while it ran, once its retries are used up. */
export function taskCrashError(
  death: WorkerDeath,
  w: WorkerProcess,
  taskName: string,
  maxRetries: number,
): WorkerCrashedError {
  const what = `the worker (pid ${w.pid}) running task ${taskName} ${death.how}; it was tried ${maxRetries + 1} time(s) in all.`;
  if (death.outOfMemory) return new OutOfMemoryError(`${what} ${death.hint}`, w.heapLimit);
  return new WorkerCrashedError(`${what} Raise maxRetries in remote()/options() to retry more.`);
}

/** " (N MiB in all; --max-old-space-size=M)" for a heap limit in bytes, as far as it is known. */
function heapLimitText(bytes: number | undefined): string {
  const flag = maxOldSpaceFlag();
  const parts = [
    ...(bytes ? [`${Math.round(bytes / (1024 * 1024))} MiB in all`] : []),
    ...(flag ? [`--max-old-space-size=${flag}`] : []),
  ];
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

/**
 * The ids of the tasks a worker was running for owners on other nodes: those hear of its
 * exit too (sunray.events there).
 */
export function ownedElsewhere(
  inflight: Iterable<string>,
  ownerOf: (taskKey: string) => Pick<ResultSink, 'kind'> | undefined,
): Buffer[] {
  const ids: Buffer[] = [];
  for (const key of inflight) if (ownerOf(key)?.kind === 'remote') ids.push(Buffer.from(key, 'latin1'));
  return ids;
}

/** What reportWorkerExit is told of a worker's exit. */
export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  death: WorkerDeath;
  /** The actor it hosted, if any. */
  hosted: { hex: string; owner: Pick<ResultSink, 'kind'>; createSpec: { taskId: Buffer } } | undefined;
  /** The ids of the tasks it ran for owners on other nodes (ownedElsewhere). */
  elsewhere: Uint8Array[];
}

/**
 * Reports w's exit to the program (sunray.events' workerExit), here and on the nodes of the
 * owners of the work it did for them: its tasks' and, when owned elsewhere, its actor's.
 */
export function reportWorkerExit(
  nodeId: string,
  w: WorkerProcess,
  exit: WorkerExit,
  cluster: Pick<ClusterHooks, 'sendEvent'> | undefined,
): void {
  const actorHex = exit.hosted?.hex;
  const event: WorkerExitEvent = {
    nodeId,
    pid: w.pid,
    workerId: w.ownerId,
    exitCode: exit.code,
    signal: exit.signal,
    how: exit.death.how,
    outOfMemory: exit.death.outOfMemory,
    actorId: actorHex,
    // Retired by the pool (idle too long, or to make room) before it exited.
    expected: w.state === 'dead' && actorHex === undefined,
  };
  reportEvent('workerExit', event);
  const hosted = exit.hosted;
  const owners =
    hosted?.owner.kind === 'remote' ? [...exit.elsewhere, hosted.createSpec.taskId] : exit.elsewhere;
  if (owners.length > 0) cluster?.sendEvent(owners, 'workerExit', event);
}
