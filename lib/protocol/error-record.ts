// What of a thrown error crosses processes: its name, message and stack, the own
// fields programs test (`code`, `errno`, `syscall`, `path`, fields of its own
// class) and its `cause` chain, so that a driver can write
// `err.cause.code === 'ENOENT'` about a task that failed to open a file.
// RemoteError (errors.ts) rebuilds the error from this record on the other side.
//
// A field that cannot cross (a function, a socket, an ObjectRef whose ownership
// an error cannot carry) is left out: the error still arrives, without it.
import type { RemoteErrorCause, RemoteErrorInfo } from '../base/errors.js';
import { encode } from '../base/serialization.js';

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
