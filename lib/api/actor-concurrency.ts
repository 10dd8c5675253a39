// How an actor's concurrency options are decided and checked when it is created (Ray's
// rules): its default group's limit (maxConcurrency: ASYNC_ACTOR_MAX_CONCURRENCY when any
// method is an async function, else 1; an explicit one always wins), its named concurrency
// groups, and its maxPendingCalls. Bad values fail here, before anything is sent.
import { types } from 'node:util';
import { InvalidArgumentError } from '../base/errors.js';

/** Ray's default maxConcurrency for an actor with async methods (its asyncio actors). */
export const ASYNC_ACTOR_MAX_CONCURRENCY = 1000;

/** Whether an actor is "async" as Ray decides it: any of its methods is an async function. */
export function hasAsyncMethods(methods: Iterable<unknown>): boolean {
  for (const m of methods) if (typeof m === 'function' && types.isAsyncFunction(m)) return true;
  return false;
}

/** The default group's limit: the explicit maxConcurrency (checked), else Ray's default for the class. */
export function actorMaxConcurrency(explicit: number | undefined, isAsync: boolean): number {
  if (explicit === undefined) return isAsync ? ASYNC_ACTOR_MAX_CONCURRENCY : 1;
  if (!Number.isInteger(explicit) || explicit < 1) {
    throw new InvalidArgumentError(`maxConcurrency must be a whole number >= 1, got ${explicit}`);
  }
  return explicit;
}

/** The named concurrency groups, checked: names that can travel in a spec, limits whole and >= 1. */
export function checkConcurrencyGroups(
  groups: Readonly<Record<string, number>> | undefined,
): Record<string, number> | undefined {
  if (groups === undefined) return undefined;
  if (groups === null || typeof groups !== 'object' || Array.isArray(groups)) {
    throw new InvalidArgumentError(
      `concurrencyGroups must be an object of group names to limits, e.g. { io: 10, compute: 1 }, got ${String(groups)}`,
    );
  }
  const out: Record<string, number> = {};
  for (const [name, limit] of Object.entries(groups)) {
    if (name === '' || name.includes('\0')) {
      throw new InvalidArgumentError(
        `concurrencyGroups: a group name must be a non-empty string without NUL characters, got ${JSON.stringify(name)}`,
      );
    }
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(
        `concurrencyGroups: the limit of group '${name}' must be a whole number >= 1, got ${String(limit)}`,
      );
    }
    out[name] = limit;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** maxPendingCalls, checked: -1 (or undefined) is without limit (Ray's default), else a whole number >= 1. */
export function checkMaxPendingCalls(n: number | undefined): number {
  if (n === undefined || n === -1) return -1;
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(
      `maxPendingCalls must be a whole number >= 1 (or -1 for no limit), got ${n}`,
    );
  }
  return n;
}

/** Checks a call's concurrencyGroup against the groups its handle knows the actor has (undefined: not known). */
export function checkCallGroup(
  group: string | undefined,
  declared: readonly string[] | undefined,
  method: string,
): string {
  if (group === undefined || group === '') return '';
  if (typeof group !== 'string') {
    throw new InvalidArgumentError(`${method}: concurrencyGroup must be a group name, got ${typeof group}`);
  }
  if (declared && !declared.includes(group)) {
    throw new InvalidArgumentError(
      `${method}: the actor has no concurrency group '${group}' ` +
        `(${declared.length > 0 ? `it declares ${declared.map((n) => `'${n}'`).join(', ')}` : 'it declares none'}): ` +
        "use a name given in the actor's concurrencyGroups option, or none for the default group",
    );
  }
  if (group.includes('\0')) throw new InvalidArgumentError(`${method}: a group name has no NUL characters`);
  return group;
}
