// What of a thrown error crosses processes: its name, message and stack, the own
// fields programs test (`code`, `errno`, `syscall`, `path`, fields of its own
// class) and its `cause` chain, so that a driver can write
// `err.cause.code === 'ENOENT'` about a task that failed to open a file.
// RemoteError (errors.ts) rebuilds the error from this record on the other side.
//
// A field that cannot cross (a function, a socket, an ObjectRef whose ownership
// an error cannot carry) is left out: the error still arrives, without it.
//
// A failed task's error travels as an ErrorRecord: that record, how the task
// failed, and its name. This file is its one encoder (errorRecord,
// thrownErrorRecord, encodeErrorRecord) and its one decoder (failureToError),
// for results in messages and for errors kept in the object store (ERROR_META).
// The record of a thrown error also names its classes, so that the node can tell
// whether a retryExceptions list retries it (retryableError).
import {
  ActorDiedError,
  errorClasses,
  OutOfMemoryError,
  type RemoteErrorCause,
  type RemoteErrorInfo,
  TaskCancelledError,
  TaskError,
  WorkerCrashedError,
} from '../base/errors.js';
import { deserialize, encode, encodeToBuffer } from '../base/serialization.js';

/** Metadata that marks a store object as a failed task's error rather than a value. */
export const ERROR_META = Buffer.from('sunray:error');

/**
 * How a task failed: its own code threw ('error'), its worker died ('crashed'), it was
 * cancelled, its actor died, or the node gave one of sunray's errors for it ('other').
 */
export type FailureKind = 'error' | 'crashed' | 'cancelled' | 'actorDied' | 'other';

/** A failed task's error on the wire. */
export interface ErrorRecord extends RemoteErrorInfo {
  failure: FailureKind;
  /** The task's name, for 'error' (TaskError says which task failed). */
  taskName?: string;
  /**
   * For 'error': the names of the classes the thrown value is an instance of (its prototype
   * chain), which a retryExceptions list is matched against (retryableError).
   */
  classes?: string[];
}

/** An ErrorRecord as it is read back: a record from an older or foreign sender may lack fields. */
export type ReceivedErrorRecord = RemoteErrorInfo & { failure?: string; taskName?: string };

/** The record of an error the runtime holds for a task (the owner's TaskError, a crash, a cancel, ...). */
export function errorRecord(err: Error): ErrorRecord {
  const failure: FailureKind =
    err instanceof TaskError
      ? 'error'
      : err instanceof WorkerCrashedError
        ? 'crashed'
        : err instanceof TaskCancelledError
          ? 'cancelled'
          : err instanceof ActorDiedError
            ? 'actorDied'
            : 'other';
  // A TaskError is the owner's wrapper: what crosses is the remote error it wraps (its cause).
  const info = remoteErrorInfo(err instanceof TaskError && err.cause instanceof Error ? err.cause : err);
  return {
    ...info,
    failure,
    ...(err instanceof TaskError ? { taskName: err.taskName } : {}),
  };
}

/** The record of what a task's own code threw (anything: `throw 'x'` too). */
export function thrownErrorRecord(thrown: unknown, taskName: string): ErrorRecord {
  return { ...remoteErrorInfo(thrown), failure: 'error', taskName, classes: classNames(thrown) };
}

/**
 * The classes a thrown value is an instance of, by name, nearest first (Object left out).
 * A nested task's TaskError rethrown counts as its cause's class too, as Ray's RayTaskError
 * is an instance of the class its task raised.
 */
function classNames(thrown: unknown): string[] {
  const out: string[] = [];
  if (typeof thrown !== 'object' || thrown === null) return out;
  try {
    let p: unknown = Object.getPrototypeOf(thrown);
    for (let depth = 0; p !== null && p !== Object.prototype && depth < 64; depth++) {
      const name: unknown = (p as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof name === 'string' && name !== '') out.push(name);
      p = Object.getPrototypeOf(p);
    }
    if (thrown instanceof TaskError && thrown.cause instanceof Error) out.push(thrown.cause.name);
  } catch {
    // A hostile prototype (a Proxy that throws): what was read so far.
  }
  return out;
}

/**
 * Whether a task's thrown error is one its retryExceptions list retries: retryOn is the
 * spec's ('' = every error; else a JSON array of names, matched against the error's
 * classes and its name). Read by the node only when a task threw.
 */
export function retryableError(retryOn: string, payload: Buffer): boolean {
  if (retryOn === '') return true;
  try {
    const names = JSON.parse(retryOn) as unknown;
    const rec = deserialize(payload) as { name?: unknown; classes?: unknown };
    if (!Array.isArray(names)) return false;
    const classes = Array.isArray(rec.classes) ? rec.classes : [];
    // A thrown non-error (`throw 'x'`) has no classes, and its record's name 'Error' is made up.
    return classes.length > 0 && names.some((n) => n === rec.name || classes.includes(n));
  } catch {
    return false; // a record we cannot read is not retried
  }
}

/** A record as the bytes of a result's payload or of a store object marked ERROR_META. */
export function encodeErrorRecord(rec: ErrorRecord): Buffer {
  try {
    return encodeToBuffer(encode(rec));
  } catch {
    // Each field was checked alone; should the whole still fail, the bare error goes.
    const { name, message, stack, failure, taskName, classes } = rec;
    const bare: ErrorRecord = { name, message, stack, failure };
    if (taskName !== undefined) bare.taskName = taskName;
    if (classes !== undefined) bare.classes = classes;
    return encodeToBuffer(encode(bare));
  }
}

/** Rebuilds the error a task ended with, from its record. */
export function failureToError(info: ReceivedErrorRecord): Error {
  switch (info.failure) {
    case 'crashed':
      return info.name === 'OutOfMemoryError'
        ? new OutOfMemoryError(info.message)
        : new WorkerCrashedError(info.message);
    case 'cancelled':
      return new TaskCancelledError(info.message);
    case 'actorDied':
      return new ActorDiedError(info.message);
    case 'other': {
      // One of ours the node gave for the task (WorkerStartError, ...): the same class again.
      const Cls = errorClasses[info.name];
      if (Cls) return new Cls(info.message);
      return new TaskError(info.taskName ?? 'task', info);
    }
    default:
      return new TaskError(info.taskName ?? 'task', info);
  }
}

/** Causes deeper than this are cut (a chain that long is a loop or a mistake). */
const MAX_CAUSE_DEPTH = 16;
/** Fields the record carries apart (or that every error has): never among `props`. */
const OWN_FIELDS = new Set(['name', 'message', 'stack', 'cause']);

/** The record of anything thrown (an Error, or any other value, as `throw 'x'` allows). */
export function remoteErrorInfo(thrown: unknown): RemoteErrorInfo {
  return infoOf(thrown, new Set(), 0);
}

function infoOf(thrown: unknown, seen: Set<unknown>, depth: number): RemoteErrorInfo {
  seen.add(thrown);
  if (!(thrown instanceof Error)) {
    // `throw 'boom'` or `throw { code: 42 }`: an Error named after nothing, keeping the fields.
    const message = safeString(thrown);
    const info: RemoteErrorInfo = { name: 'Error', message, stack: `Error: ${message}` };
    const props = typeof thrown === 'object' && thrown !== null ? propsOf(thrown) : undefined;
    if (props) info.props = props;
    return info;
  }
  const name = read(() => String(thrown.name), 'Error');
  const message = read(() => String(thrown.message), '');
  const stack =
    read(() => (typeof thrown.stack === 'string' ? thrown.stack : ''), '') || `${name}: ${message}`;
  const info: RemoteErrorInfo = { name, message, stack };
  const props = propsOf(thrown);
  if (props) info.props = props;
  if (Object.hasOwn(thrown, 'cause')) {
    const cause = causeOf(
      read(() => thrown.cause, undefined),
      seen,
      depth,
    );
    if (cause) info.cause = cause;
  }
  return info;
}

function causeOf(cause: unknown, seen: Set<unknown>, depth: number): RemoteErrorCause | undefined {
  if (cause instanceof Error) {
    if (seen.has(cause) || depth + 1 >= MAX_CAUSE_DEPTH) return undefined;
    return { error: infoOf(cause, seen, depth + 1) };
  }
  return crosses(cause) ? { value: cause } : undefined;
}

/**
 * The own enumerable fields (and an AggregateError's `errors`) that can be serialized;
 * undefined when there are none, so the usual error's record stays as small as before.
 */
function propsOf(e: object): Record<string, unknown> | undefined {
  let props: Record<string, unknown> | undefined;
  const keys = Object.keys(e);
  if (Object.hasOwn(e, 'errors') && !keys.includes('errors')) keys.push('errors');
  for (const k of keys) {
    if (OWN_FIELDS.has(k)) continue;
    let v: unknown;
    try {
      v = (e as Record<string, unknown>)[k]; // a getter may throw
    } catch {
      continue;
    }
    if (!crosses(v)) continue;
    props ??= {};
    // defineProperty, not assignment: a field named __proto__ stays a field.
    Object.defineProperty(props, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return props;
}

/** Whether v can be serialized, and holds no ObjectRef (an error cannot keep one alive). */
function crosses(v: unknown): boolean {
  if (typeof v === 'function' || typeof v === 'symbol') return false;
  try {
    return encode(v).refs.length === 0;
  } catch {
    return false;
  }
}

function read<T>(get: () => T, fallback: T): T {
  try {
    return get();
  } catch {
    return fallback;
  }
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
