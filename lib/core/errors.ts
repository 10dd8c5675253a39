// Every error sunray throws extends SunrayError, so callers can tell ours from
// their own with one instanceof; each subclass names what happened and, where
// there is one, what to do about it.

export class SunrayError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The error a remote task or actor method threw, as seen by the process that called it. */
export interface RemoteErrorInfo {
  name: string;
  message: string;
  stack: string;
}

/** A rebuilt copy of the remote error, so `cause` carries its name, message and remote stack. */
export class RemoteError extends Error {
  constructor(info: RemoteErrorInfo) {
    super(info.message);
    this.name = info.name;
    this.stack = info.stack;
  }
}

/** A task (or actor method) threw; `cause` is the remote error with its stack. */
export class TaskError extends SunrayError {
  readonly taskName: string;
  constructor(taskName: string, cause: RemoteErrorInfo) {
    super(`task ${taskName} failed: ${cause.name}: ${cause.message}`, { cause: new RemoteError(cause) });
    this.taskName = taskName;
  }
}

export class GetTimeoutError extends SunrayError {}

/** The worker running a task died (crashed, was killed, ran out of memory) and retries were used up. */
export class WorkerCrashedError extends SunrayError {}

export class TaskCancelledError extends SunrayError {}

/** A value could not cross processes: `path` says where in the value the bad part is. */
export class SerializationError extends SunrayError {
  readonly path: string | undefined;
  constructor(message: string, path?: string, options?: ErrorOptions) {
    super(message, options);
    this.path = path;
  }
}

/** The actor is dead: its constructor threw, it was killed, or it crashed past maxRestarts. */
export class ActorDiedError extends SunrayError {}

/** The actor is restarting or unreachable for now; the call may succeed later. */
export class ActorUnavailableError extends SunrayError {}

/** Every copy of the object is gone and it cannot be rebuilt (e.g. it was made by `put`). */
export class ObjectLostError extends SunrayError {}

/**
 * The process that owns the object is gone, so the object can never be read.
 * A kind of ObjectLostError, as in Ray: code that handles lost objects handles this too.
 */
export class OwnerDiedError extends ObjectLostError {}

/** The call needs a running sunray (or a feature that the current mode lacks). */
export class NotInitializedError extends SunrayError {}

/** Options or arguments that cannot be right, caught before anything is sent. */
export class InvalidArgumentError extends SunrayError {}

/** A cluster peer could not be reached, or refused us (wrong token, other protocol version). */
export class ClusterConnectionError extends SunrayError {}

/** No node of the cluster can run the task as asked (e.g. a hard node affinity to a dead node). */
export class TaskUnschedulableError extends SunrayError {}

/** Our error classes by name, to rebuild them on the other side of a process boundary. */
export const errorClasses: Record<string, new (message: string) => SunrayError> = {
  SunrayError,
  GetTimeoutError,
  WorkerCrashedError,
  TaskCancelledError,
  ActorDiedError,
  ActorUnavailableError,
  OwnerDiedError,
  ObjectLostError,
  NotInitializedError,
  InvalidArgumentError,
  ClusterConnectionError,
  TaskUnschedulableError,
};
