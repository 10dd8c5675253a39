// Ray's maxPendingCalls on the caller's side: per actor, the calls this process has made
// and not yet had answered. A call past the actor's limit is refused at once
// (PendingCallsLimitError from `.remote()`), as Ray's PendingCallsLimitExceeded is, rather
// than queued without bound. Only actors created with a limit are counted: the others'
// calls pay one comparison.
import { PendingCallsLimitError } from '../base/errors.js';

/** Unanswered calls per actor (hex id), for the actors that have a limit. */
export class PendingCalls {
  private readonly counts = new Map<string, number>();

  /**
   * Counts one more call to the actor, or throws PendingCallsLimitError when `limit` calls
   * to it are unanswered already. `what` names the call in the message.
   */
  admit(actorHex: string, limit: number, what: string): void {
    const n = this.counts.get(actorHex) ?? 0;
    if (n >= limit) {
      throw new PendingCallsLimitError(
        `${what}: this caller already has ${n} calls to the actor unanswered, its maxPendingCalls ` +
          `(${limit}): wait for some of their results before calling again, or create the actor ` +
          'with a larger maxPendingCalls',
      );
    }
    this.counts.set(actorHex, n + 1);
  }

  /** One call to the actor was answered (its result came, or it failed). */
  done(actorHex: string): void {
    const n = (this.counts.get(actorHex) ?? 0) - 1;
    if (n > 0) this.counts.set(actorHex, n);
    else this.counts.delete(actorHex);
  }

  /** Calls to the actor unanswered. */
  pending(actorHex: string): number {
    return this.counts.get(actorHex) ?? 0;
  }
}
