// Waiting for room in a full store. A get that must restore a spilled object,
// a pull into the store, a result written from async code: when the store is
// full only because objects are pinned (views not yet released) or unsealed
// (being written), that space comes back soon, so such a call waits for it,
// for a bounded time, before it fails with ObjectStoreFullError. Synchronous
// calls (create, tryGet) never wait: they cannot.
//
// The policy is a pure function of the clock; the loop takes its clock, its
// sleep and its "can waiting help?" question from the caller, so tests drive
// it with fakes.
import { ObjectStoreFullError } from './errors.js';

/**
 * How long an async call that finds the store full waits for pins to be released (or unsealed
 * objects to be sealed) before failing with ObjectStoreFullError: 5 s.
 */
export const OBJECT_STORE_FULL_WAIT_MS = 5000;

/** How a wait for room polls: first after firstPollMs, then doubling up to maxPollMs, for waitMs in all. */
export interface RoomWaitPolicy {
  /** Total milliseconds to wait; 0 fails at once. */
  readonly waitMs: number;
  /** The first poll comes this soon (ms). */
  readonly firstPollMs: number;
  /** Polls come at least this often (ms). */
  readonly maxPollMs: number;
}

/** The default: OBJECT_STORE_FULL_WAIT_MS in all, polls from 2 ms to 50 ms apart. */
export const DEFAULT_ROOM_WAIT: RoomWaitPolicy = {
  waitMs: OBJECT_STORE_FULL_WAIT_MS,
  firstPollMs: 2,
  maxPollMs: 50,
};

/**
 * After `attempt` failed attempts (1 for the first) of a wait that started at `startedAt`:
 * how long to sleep before the next one, or undefined when the wait is over.
 */
export function nextPollDelay(
  policy: RoomWaitPolicy,
  startedAt: number,
  now: number,
  attempt: number,
): number | undefined {
  const left = startedAt + policy.waitMs - now;
  if (left <= 0) return undefined;
  const backoff = policy.firstPollMs * 2 ** Math.min(Math.max(attempt - 1, 0), 20);
  return Math.min(left, Math.max(policy.firstPollMs, Math.min(backoff, policy.maxPollMs)));
}

/** What retryWhenFull needs from the store and the clock. */
export interface RoomWaitDeps {
  readonly policy: RoomWaitPolicy;
  now(): number;
  /** Sleeps ms, or less when room may have come (a pin released in this process). */
  sleep(ms: number): Promise<void>;
  /** Whether waiting could help now: something is pinned or unsealed, so space may come back. */
  couldFree(): boolean;
  /** The error to throw when the wait ends in vain (the last refusal, with what was waited for). */
  giveUp(last: ObjectStoreFullError, waitedMs: number): Error;
  /** Stops the wait: the call rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

/** Whether err is a full store (not TooManyObjectsError: pins hold no table slots). */
export function isStoreFull(err: unknown): err is ObjectStoreFullError {
  return err instanceof ObjectStoreFullError && err.code === 'OBJECT_STORE_FULL';
}

/**
 * Runs attempt; while it fails with ObjectStoreFullError and waiting could help, sleeps (per the
 * policy) and tries again. Other errors pass through at once.
 */
export async function retryWhenFull<T>(attempt: () => T | Promise<T>, deps: RoomWaitDeps): Promise<T> {
  const startedAt = deps.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isStoreFull(err)) throw err;
      const delay = deps.couldFree() ? nextPollDelay(deps.policy, startedAt, deps.now(), n) : undefined;
      if (delay === undefined) throw deps.giveUp(err, deps.now() - startedAt);
      if (deps.signal?.aborted) throw deps.signal.reason;
      await deps.sleep(delay);
      if (deps.signal?.aborted) throw deps.signal.reason;
    }
  }
}

/**
 * Sleepers of whenRoom in one process: each sleeps until its poll or until wake() (a pin
 * released or an object deleted here), whichever comes first.
 */
export class RoomWakers {
  private readonly wakers = new Set<() => void>();

  /** Resolves after ms, or at the next wake(). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  /** Ends every sleep now. */
  wake(): void {
    if (this.wakers.size === 0) return;
    for (const w of [...this.wakers]) w();
  }
}

/**
 * err, if it is a full store, with what this process pins through views (and how long it
 * waited) added to its message; any other error as it is.
 */
export function withViews(err: unknown, views: number, bytes: number, waitedMs: number): unknown {
  if (!isStoreFull(err)) return err;
  const base = (err as { [nativeMessage]?: string })[nativeMessage] ?? err.message;
  const waited =
    waitedMs >= 1 ? ` (after waiting ${Math.round(waitedMs)} ms for pinned objects to be released)` : '';
  const out = new ObjectStoreFullError(
    `${base}${waited}; this process holds ${views} view(s) over ${bytes} bytes of the store ` +
      '(see "Pins and views" in docs/store.md)',
    'OBJECT_STORE_FULL',
  );
  Object.defineProperty(out, nativeMessage, { value: base });
  return out;
}

/** The store's own message of an error withViews made, so a later call adds to it afresh. */
const nativeMessage = Symbol('nativeMessage');
