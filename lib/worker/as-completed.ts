// asCompleted(): refs in the order their objects become ready, as an async
// iterator (for progress bars and pipelines). Each owned ref gets one waiter
// on its record, which queues the ref when it settles: n refs cost O(n) in
// all, not a wait() over the rest after each one. Borrowed refs have no local
// waiter list and are polled in the store, as wait() does. A ref counts as
// ready as in wait(): settled, failed or not (get() then throws its error).
import { Deque } from '../base/deque.js';
import { abortedError, GetTimeoutError } from '../base/errors.js';
import type { ObjectRef } from '../base/object-ref.js';
import { ObjectId } from '../store/index.js';
import type { Backend } from './backend.js';
import { type Owned, type OwnerStore, type ReferenceTable, State } from './reference-table.js';

/** How often pending borrowed refs are looked for in the store. */
const BORROWED_POLL_MS = 10;

/** The options asCompleted() takes: a signal, a timeout for the whole iteration. */
export interface CompletionOptions {
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
}

/** One iteration over refs in the order they finish; started on the first next(). */
export class CompletionIterator<T> implements AsyncIterableIterator<ObjectRef<T>> {
  private readonly ready = new Deque<ObjectRef<T>>();
  /** Owned records we hooked, with the hook, to unhook them if the iteration stops early. */
  private hooks: Array<[Owned, () => void]> = [];
  private borrowed: ObjectRef<T>[] = [];
  private started = false;
  private closed = false;
  private left: number;
  private readonly deadline: number | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly refs: readonly ObjectRef<T>[],
    private readonly table: ReferenceTable,
    private readonly store: Pick<OwnerStore, 'contains'>,
    private readonly backend: Pick<Backend, 'blocked' | 'unblocked'>,
    private readonly opts: CompletionOptions,
  ) {
    this.left = refs.length;
    this.deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    if (!this.started) this.start();
    const signal = this.opts.signal;
    let blocked = false;
    try {
      for (;;) {
        if (this.closed) return { done: true, value: undefined };
        if (signal?.aborted) {
          this.close();
          throw abortedError(signal, 'asCompleted()');
        }
        const ref = this.ready.shift();
        if (ref !== undefined) {
          this.left--;
          if (this.left === 0) this.close();
          return { done: false, value: ref };
        }
        if (this.left === 0) {
          this.close();
          return { done: true, value: undefined };
        }
        const wait = this.deadline === undefined ? undefined : this.deadline - Date.now();
        if (wait !== undefined && wait <= 0) {
          const pending = this.left;
          this.close();
          throw new GetTimeoutError(
            `asCompleted() timed out after ${this.opts.timeoutMs} ms with ${pending} of ${this.refs.length} refs not ready`,
          );
        }
        if (!blocked) {
          blocked = true;
          this.backend.blocked();
        }
        await this.change(wait);
      }
    } finally {
      if (blocked) this.backend.unblocked();
    }
  }

  /** Stops the iteration (a `break` out of for-await calls it): hooks and timers go. */
  async return(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    this.close();
    return { done: true, value: undefined };
  }

  private start(): void {
    this.started = true;
    this.table.assertOpen();
    const owned = this.table.owned;
    for (const ref of this.refs) {
      const e = owned.get(ref.hex);
      if (e) {
        if (e.state !== State.Pending) this.ready.push(ref);
        else {
          const hook = () => this.settled(ref);
          (e.waiters ??= []).push(hook);
          this.hooks.push([e, hook]);
        }
      } else if (this.borrowedReady(ref)) this.ready.push(ref);
      else this.borrowed.push(ref);
    }
  }

  /** A ref whose owner died counts as ready: it is settled (get throws OwnerDiedError). */
  private borrowedReady(ref: ObjectRef<T>): boolean {
    return this.table.borrows.isDead(ref) || this.store.contains(ObjectId.fromBytes(ref));
  }

  private settled(ref: ObjectRef<T>): void {
    if (this.closed) return;
    this.ready.push(ref);
    this.wakeUp?.();
  }

  /** Resolves when a ref may have become ready, the signal aborts, or after waitMs. */
  private change(waitMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.opts.signal;
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        this.wakeUp = undefined;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.wakeUp = done;
      signal?.addEventListener('abort', done, { once: true });
      const poll = this.borrowed.length > 0;
      const ms = poll ? Math.min(waitMs ?? BORROWED_POLL_MS, BORROWED_POLL_MS) : waitMs;
      if (ms !== undefined) {
        timer = setTimeout(() => {
          if (poll) this.pollBorrowed();
          done();
        }, ms);
      }
    });
  }

  private pollBorrowed(): void {
    const still: ObjectRef<T>[] = [];
    for (const ref of this.borrowed) {
      if (this.borrowedReady(ref)) this.ready.push(ref);
      else still.push(ref);
    }
    this.borrowed = still;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    // Unhook from records still pending: an abandoned iteration holds nothing of theirs.
    for (const [e, hook] of this.hooks) this.table.unwait(e, hook);
    this.hooks = [];
    this.borrowed = [];
    this.wakeUp?.();
  }
}
