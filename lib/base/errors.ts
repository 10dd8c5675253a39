// Every error sunray throws extends SunrayError, so callers can tell ours from
// their own with one instanceof; each subclass names what happened and, where
// there is one, what to do about it.

/** The base class of every error sunray throws: `instanceof SunrayError` tells ours from others, `code` says which. */
export class SunrayError extends Error {
  /** The stable code of this class: what programs compare, whatever the message says. */
  static readonly code: string = 'SUNRAY_ERROR';
  /** Stable, documented code of what happened (docs/errors.md), e.g. 'SUNRAY_TASK_ERROR'. */
  readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = (new.target as typeof SunrayError).code;
  }
}

/** The error a remote task or actor method threw, as seen by the process that called it (error-record.ts). */
export interface RemoteErrorInfo {
  /** The error's name ('TypeError', a custom class's name, ...). */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, as the remote process printed it. */
  stack: string;
  /** Its own fields that could be serialized: `code`, `errno`, `syscall`, `path`, custom ones. */
  props?: Record<string, unknown>;
  /** Its `cause`: another error's record, or any other value as it was. */
  cause?: RemoteErrorCause;
}

/** An error's `cause` on the wire: an error (rebuilt as a RemoteError) or a plain value. */
export type RemoteErrorCause =
  | {
      /** The cause was an error: its record. */
      error: RemoteErrorInfo;
    }
  | {
      /** The cause was some other value: the value itself. */
      value: unknown;
    };

/**
 * A rebuilt copy of the remote error: its name, message and remote stack, its own fields
 * (`err.code === 'ENOENT'`) and its `cause` chain, each cause a RemoteError too.
 */
export class RemoteError extends Error {
  constructor(info: RemoteErrorInfo) {
    const c = info.cause;
    super(
      info.message,
      c === undefined ? undefined : { cause: 'error' in c ? new RemoteError(c.error) : c.value },
    );
    this.name = info.name;
    this.stack = info.stack;
    if (info.props) {
      for (const k of Object.keys(info.props)) {
        if (k === 'name' || k === 'message' || k === 'stack' || k === 'cause') continue;
        // defineProperty, not assignment: a field named __proto__ stays a field.
        Object.defineProperty(this, k, {
          value: info.props[k],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
  }
}

/** A task (or actor method) threw; `cause` is the remote error with its stack. */
export class TaskError extends SunrayError {
  static override readonly code: string = 'SUNRAY_TASK_ERROR';
  /** The name of the function or actor method that threw. */
  readonly taskName: string;
  constructor(taskName: string, cause: RemoteErrorInfo) {
    super(`task ${taskName} failed: ${cause.name}: ${cause.message}`, { cause: new RemoteError(cause) });
    this.taskName = taskName;
  }
}

/** A get(), wait() or ActorPool getNext* did not finish within its `timeout`; the work goes on. */
export class GetTimeoutError extends SunrayError {
  static override readonly code: string = 'SUNRAY_GET_TIMEOUT';
}

/** The worker running a task died (crashed, was killed, ran out of memory) and retries were used up. */
export class WorkerCrashedError extends SunrayError {
  static override readonly code: string = 'SUNRAY_WORKER_CRASHED';
}

/**
 * A worker ran out of JavaScript heap (V8's limit, --max-old-space-size) and was killed by it:
 * `heapLimitBytes` is the limit it had, when known. A kind of WorkerCrashedError.
 */
export class OutOfMemoryError extends WorkerCrashedError {
  static override readonly code: string = 'SUNRAY_OUT_OF_MEMORY';
  /** The heap limit the worker had, in bytes, when known. */
  readonly heapLimitBytes: number | undefined;
  constructor(message: string, heapLimitBytes?: number) {
    super(message);
    this.heapLimitBytes = heapLimitBytes;
  }
}

/** What a worker that failed to start left behind (WorkerStartError). */
export interface WorkerStartDetails {
  /** Its exit code, or null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it, or null when it exited. */
  signal: string | null;
  /** The end of what it wrote to stderr (the last few KiB). */
  stderr: string;
  /** Starts that failed in a row before this error was given. */
  attempts: number;
}

/**
 * The node could not start a worker process: it exited before it was ready, several times
 * in a row (a bad node flag or NODE_OPTIONS the workers inherit, a --require or --import of
 * a missing file, ...). Tasks and actor creations that waited for a worker fail with it.
 */
export class WorkerStartError extends SunrayError {
  static override readonly code: string = 'SUNRAY_WORKER_START';
  /** The last failed worker's exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended the last failed worker, or null. */
  readonly signal: string | null;
  /** The end of what the last failed worker wrote to stderr. */
  readonly stderr: string;
  /** Starts that failed in a row before this error was given. */
  readonly attempts: number;
  constructor(message: string, details?: WorkerStartDetails) {
    super(message);
    this.exitCode = details?.exitCode ?? null;
    this.signal = details?.signal ?? null;
    this.stderr = details?.stderr ?? '';
    this.attempts = details?.attempts ?? 0;
  }
}

/** The task was cancelled with cancel(ref) (or its parent was, recursively) before it finished. */
export class TaskCancelledError extends SunrayError {
  static override readonly code: string = 'SUNRAY_TASK_CANCELLED';
}

/**
 * A get(), wait() or asCompleted() was stopped by the AbortSignal passed in its options (as
 * piscina's `run({ signal })` is): its `cause` is the signal's reason. The tasks it waited for
 * keep running; cancel them with `cancel(ref)` if their results are no longer wanted.
 */
export class AbortError extends SunrayError {
  static override readonly code: string = 'SUNRAY_ABORTED';
}

/** The AbortError for an aborted signal: what was stopped, and the signal's reason as `cause`. */
export function abortedError(signal: AbortSignal, what: string): AbortError {
  const reason: unknown = signal.reason;
  let why = '';
  try {
    why = reason instanceof Error ? `: ${reason.message}` : reason === undefined ? '' : `: ${String(reason)}`;
  } catch {
    // A reason whose toString throws: the message goes without it (it is still the cause).
  }
  return new AbortError(
    `${what} was aborted by its signal${why}. The tasks it waited for keep running: ` +
      'cancel them with sunray.cancel(ref) if their results are no longer wanted',
    { cause: reason },
  );
}

/** A value could not cross processes: `path` says where in the value the bad part is. */
export class SerializationError extends SunrayError {
  static override readonly code: string = 'SUNRAY_SERIALIZATION';
  /** Where in the value the part that could not cross is ('args[0].conn', ...), when known. */
  readonly path: string | undefined;
  constructor(message: string, path?: string, options?: ErrorOptions) {
    super(message, options);
    this.path = path;
  }
}

/** The actor is dead: its constructor threw, it was killed, or it crashed past maxRestarts. */
export class ActorDiedError extends SunrayError {
  static override readonly code: string = 'SUNRAY_ACTOR_DIED';
}

/**
 * A caller already has `maxPendingCalls` calls to this actor unanswered (the actor option, as
 * Ray's `max_pending_calls`): thrown by `.remote()` at once rather than queueing without bound.
 * Wait for some of the calls' results (or give the actor a larger `maxPendingCalls`) and call again.
 */
export class PendingCallsLimitError extends SunrayError {
  static override readonly code: string = 'SUNRAY_PENDING_CALLS_LIMIT';
}

/** `exitActor()` was called where there is no actor to end: in the driver or in a task. */
export class NotInActorError extends SunrayError {
  static override readonly code: string = 'SUNRAY_NOT_IN_ACTOR';
}

/** The actor is restarting or unreachable for now; the call may succeed later. */
export class ActorUnavailableError extends SunrayError {
  static override readonly code: string = 'SUNRAY_ACTOR_UNAVAILABLE';
}

/** Every copy of the object is gone and it cannot be rebuilt (e.g. it was made by `put`). */
export class ObjectLostError extends SunrayError {
  static override readonly code: string = 'SUNRAY_OBJECT_LOST';
}

/**
 * The process that owns the object is gone, so the object can never be read.
 * A kind of ObjectLostError, as in Ray: code that handles lost objects handles this too.
 */
export class OwnerDiedError extends ObjectLostError {
  static override readonly code: string = 'SUNRAY_OWNER_DIED';
}

/** get() or wait() of a handle that was released (ref.release(), or `using`): it can no longer be read. */
export class ObjectRefReleasedError extends SunrayError {
  static override readonly code: string = 'SUNRAY_REF_RELEASED';
}

/**
 * The ref belongs to a sunray session that was shut down (sunray.shutdown()): its objects went
 * with it. A kind of ObjectLostError.
 */
export class SessionEndedError extends ObjectLostError {
  static override readonly code: string = 'SUNRAY_SESSION_ENDED';
}

/** The call needs a running sunray (or a feature that the current mode lacks). */
export class NotInitializedError extends SunrayError {
  static override readonly code: string = 'SUNRAY_NOT_INITIALIZED';
}

/** Options or arguments that cannot be right, caught before anything is sent. */
export class InvalidArgumentError extends SunrayError {
  static override readonly code: string = 'SUNRAY_INVALID_ARGUMENT';
}

/** A cluster peer could not be reached, or refused us (wrong token, other protocol version). */
export class ClusterConnectionError extends SunrayError {
  static override readonly code: string = 'SUNRAY_CLUSTER_CONNECTION';
}

/** No node of the cluster can run the task as asked (e.g. a hard node affinity to a dead node). */
export class TaskUnschedulableError extends SunrayError {
  static override readonly code: string = 'SUNRAY_TASK_UNSCHEDULABLE';
}

/**
 * The placement group a task or actor was to run in was removed (removePlacementGroup, or its
 * creator's job ended): work still queued for it fails with this, as does its ready().
 */
export class PlacementGroupRemovedError extends SunrayError {
  static override readonly code: string = 'SUNRAY_PLACEMENT_GROUP_REMOVED';
}

/** Queue.put or putNowait found the queue full: no room came within the timeout, or none at once. */
export class QueueFullError extends SunrayError {
  static override readonly code: string = 'SUNRAY_QUEUE_FULL';
}

/** Queue.get or getNowait found the queue empty: no item came within the timeout, or none at once. */
export class QueueEmptyError extends SunrayError {
  static override readonly code: string = 'SUNRAY_QUEUE_EMPTY';
}

/**
 * getLog() or `sunray logs` found no log file for what it was asked: no such actor, task or
 * worker, a task that has not run yet, an actor without a process, or a node that is gone.
 */
export class LogNotFoundError extends SunrayError {
  static override readonly code: string = 'SUNRAY_LOG_NOT_FOUND';
}

/**
 * A directory sunray would keep private files in (the session directory, a spill directory) could be
 * changed by another user: it or a level above it is a symbolic link, belongs to another user, or is
 * writable by group or others. `path` is the directory that failed the check.
 */
export class UnsafeDirectoryError extends SunrayError {
  static override readonly code: string = 'SUNRAY_UNSAFE_DIRECTORY';
  /** The directory that failed the check. */
  readonly path: string;
  constructor(message: string, path = '') {
    super(message);
    this.path = path;
  }
}

/** Our error classes by name, to rebuild them on the other side of a process boundary. */
export const errorClasses: Record<string, new (message: string) => SunrayError> = {
  SunrayError,
  GetTimeoutError,
  WorkerCrashedError,
  OutOfMemoryError,
  WorkerStartError,
  TaskCancelledError,
  AbortError,
  ActorDiedError,
  ActorUnavailableError,
  PendingCallsLimitError,
  NotInActorError,
  OwnerDiedError,
  ObjectLostError,
  ObjectRefReleasedError,
  SessionEndedError,
  NotInitializedError,
  InvalidArgumentError,
  ClusterConnectionError,
  TaskUnschedulableError,
  PlacementGroupRemovedError,
  UnsafeDirectoryError,
  QueueFullError,
  QueueEmptyError,
  LogNotFoundError,
};

// --- real hosts (#21): the head's saved state ---

/**
 * The head's saved state (its directory, for a restart: docs/cluster.md) cannot be used: it
 * is not a private file of this user, not JSON, of a newer format, or made with another token.
 */
export class HeadStateError extends SunrayError {
  static override readonly code: string = 'SUNRAY_HEAD_STATE';
}

// ---- the autoscaler (lib/autoscaler/) ----

/**
 * A cluster config (`sunray up cluster.yaml`) that cannot be right: a missing or unknown key,
 * a value of the wrong kind or out of range. `key` is the path of the bad key
 * (`nodeTypes.gpu.maxWorkers`), `file` the config file when there is one.
 */
export class AutoscalerConfigError extends SunrayError {
  static override readonly code: string = 'SUNRAY_AUTOSCALER_CONFIG';
  /** The path of the bad key in the config ('' for the whole file). */
  readonly key: string;
  constructor(message: string, key = '') {
    super(message);
    this.key = key;
  }
}

/**
 * The autoscaler's node provider failed: a `command` provider's command exited non-zero or
 * printed nothing usable, an `ssh` command failed, a local node did not start. The message
 * names the command and carries its stderr's end.
 */
export class NodeProviderError extends SunrayError {
  static override readonly code: string = 'SUNRAY_NODE_PROVIDER';
}

// ---------------------------------------------------------------- runtime environments and jobs

/**
 * A runtime env could not be set up on a node: its npm install failed, its working directory
 * could not be fetched or unpacked. The tasks and actors that needed it fail with this; the
 * message carries the cause (npm's output) and what to do.
 */
export class RuntimeEnvSetupError extends SunrayError {
  static override readonly code: string = 'SUNRAY_RUNTIME_ENV_SETUP_FAILED';
}

/** A runtime env's workingDir holds more than the limit (100 MiB of files). */
export class RuntimeEnvTooLargeError extends SunrayError {
  static override readonly code: string = 'SUNRAY_RUNTIME_ENV_TOO_LARGE';
}

/** A job the job server does not know (`sunray job status`, JobSubmissionClient). */
export class JobNotFoundError extends SunrayError {
  static override readonly code: string = 'SUNRAY_JOB_NOT_FOUND';
}

/** The job server refused or failed a request (its HTTP status and message say why). */
export class JobServerError extends SunrayError {
  static override readonly code: string = 'SUNRAY_JOB_SERVER_ERROR';
  /** The HTTP status it answered (0: it could not be reached). */
  readonly status: number;
  constructor(message: string, status = 0) {
    super(message);
    this.status = status;
  }
}

Object.assign(errorClasses, {
  RuntimeEnvSetupError,
  RuntimeEnvTooLargeError,
  JobNotFoundError,
  JobServerError,
});
