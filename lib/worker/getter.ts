// Reading objects (Ray's get and wait): an owned object's value comes from
// its record (inline) or the node's store, rebuilt first if its copies were
// lost (object-recovery.ts); a borrowed one is pulled into this node's store
// (from another node if need be) and read there. While a call waits, the
// process tells its node it is blocked, so its CPU can be lent out.
import { abortedError, GetTimeoutError, InvalidArgumentError } from '../base/errors.js';
import { ownerHexOf } from '../base/ids.js';
import { holdViewPin, ObjectRef } from '../base/object-ref.js';
import { deserialize, hasOutOfBandSections } from '../base/serialization.js';
import { ERROR_META, failureToError, type ReceivedErrorRecord } from '../protocol/error-record.js';
import { isStoreFull, type ObjectBuffer, ObjectId } from '../store/index.js';
import type { Backend } from './backend.js';
import type { ObjectRecovery } from './object-recovery.js';
import { ownerDied } from './ownership/borrows.js';
import { lostError, type Owned, type OwnerStore, type ReferenceTable, State } from './reference-table.js';

export class Getter {
  private readonly owned: Map<string, Owned>;

  constructor(
    private readonly refs: ReferenceTable,
    private readonly recovery: ObjectRecovery,
    private readonly backend: Pick<Backend, 'blocked' | 'unblocked' | 'request'>,
    private readonly store: OwnerStore,
  ) {
    this.owned = refs.owned;
  }

  /**
   * get() of one owned ref with no timeout, the common case of a sync loop:
   * one promise, settled by the owner's waiter itself, rather than a chain of
   * async functions. Everything else takes the general path.
   */
  getOne(ref: ObjectRef<unknown>, timeoutMs: number | undefined, signal?: AbortSignal): Promise<unknown> {
    const e = ref instanceof ObjectRef && !this.refs.closed ? this.owned.get(ref.hex) : undefined;
    if (!e || timeoutMs !== undefined || signal !== undefined)
      return this.get([ref], timeoutMs, signal).then((v) => v[0]);
    if (e.state !== State.Pending) {
      if (e.inStore && this.refs.isLost(ref, e))
        return this.recovery.recover(ref.hex, e).then(() => this.readOwnedWaiting(ref, e));
      try {
        return Promise.resolve(this.readOwned(ref, e));
      } catch (err) {
        if (isStoreFull(err)) return this.store.whenRoom(() => this.readOwned(ref, e));
        return Promise.reject(err);
      }
    }
    const wait = this.backend.blocked();
    return new Promise((resolve, reject) => {
      (e.waiters ??= []).push(() => {
        this.backend.unblocked(wait);
        try {
          resolve(this.readOwnedWaiting(ref, e));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  async get(
    refs: readonly ObjectRef<unknown>[],
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<unknown[]> {
    this.refs.assertOpen();
    // An aborted signal fails the call at once, ready or not (as piscina's run does).
    if (signal?.aborted) throw abortedError(signal, 'get()');
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    let blocked = false;
    let wait: unknown;
    try {
      const out: unknown[] = new Array(refs.length);
      for (let i = 0; i < refs.length; i++) {
        const ref = refs[i];
        if (!(ref instanceof ObjectRef))
          throw new InvalidArgumentError(`get() expects ObjectRefs; item ${i} is not`);
        const e = this.owned.get(ref.hex);
        if (e && e.state !== State.Pending) {
          if (e.inStore && this.refs.isLost(ref, e)) await this.recovery.recover(ref.hex, e);
          out[i] = await this.readOwnedWaiting(ref, e, signal);
          continue;
        }
        if (!blocked) {
          blocked = true;
          wait = this.backend.blocked();
        }
        const left = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
        if (e) {
          await this.refs.waitOwned(e, left, ref, signal);
          out[i] = await this.readOwnedWaiting(ref, e, signal);
        } else {
          out[i] = await this.readBorrowed(ref, left, signal);
        }
      }
      return out;
    } finally {
      if (blocked) this.backend.unblocked(wait);
    }
  }

  private readOwned(ref: ObjectRef<unknown>, e: Owned): unknown {
    if (e.state === State.Failed) throw e.error;
    if (!e.inStore && e.payload) return deserialize(e.payload);
    const obj = this.store.tryGet(ObjectId.fromBytes(ref));
    if (!obj) throw lostError(ref);
    return this.readStoreObject(obj, ref);
  }

  /**
   * readOwned, but a store too full to restore a spilled object waits for pins to be released
   * (the store's fullWaitMs) rather than failing at once.
   */
  private readOwnedWaiting(
    ref: ObjectRef<unknown>,
    e: Owned,
    signal?: AbortSignal,
  ): Promise<unknown> | unknown {
    try {
      return this.readOwned(ref, e);
    } catch (err) {
      if (!isStoreFull(err)) throw err;
      return this.store.whenRoom(() => this.readOwned(ref, e), signal ? { signal } : {});
    }
  }

  private readStoreObject(obj: ObjectBuffer, ref?: ObjectRef<unknown>): unknown {
    const outOfBand = hasOutOfBandSections(obj.data);
    const isError = obj.metadata.length > 0 && obj.metadata.equals(ERROR_META);
    const value = deserialize(obj.data);
    // Values with zero-copy views keep the pin until those views are collected, or until the
    // ref they were read through is released (ref.release(), `using`).
    if (!outOfBand) obj.release();
    else if (ref) holdViewPin(ref, obj.pin); // the pin, not obj: holding obj.data would keep the views alive
    if (isError) throw failureToError(value as ReceivedErrorRecord);
    return value;
  }

  /** A top-level argument the submitter left in the store (large, or not inlined). */
  async readArg(id: Buffer): Promise<unknown> {
    const oid = ObjectId.fromBytes(id);
    // A spilled argument is restored here: in a full store that waits for pins to go.
    const obj =
      (await this.store.whenRoom(() => this.store.tryGet(oid))) ??
      (
        await this.refs.borrows.waitFor(id, 'a task argument', async (signal) => {
          await this.fetchLocal(id, undefined);
          return this.store.get([oid], { signal });
        })
      )[0];
    if (!obj) throw lostError(id);
    return this.readStoreObject(obj);
  }

  private async readBorrowed(
    ref: ObjectRef<unknown>,
    timeoutMs: number | undefined,
    userSignal?: AbortSignal,
  ): Promise<unknown> {
    const [obj] = await this.refs.borrows.waitFor(ref, 'get() of', async (ownerGone) => {
      // The wait in the store stops when the owner dies or the caller's signal aborts.
      const link = userSignal ? linkSignals(ownerGone, userSignal) : undefined;
      const signal = link?.signal ?? ownerGone;
      try {
        // The owner may be on another node: its object is pulled here first (fetchLocal).
        const started = Date.now();
        const pulled = this.fetchLocal(ref, timeoutMs);
        await (userSignal ? untilAborted(pulled, userSignal, 'get()') : pulled);
        const left = timeoutMs === undefined ? undefined : Math.max(0, timeoutMs - (Date.now() - started));
        return await this.store.get(
          [ObjectId.fromBytes(ref)],
          left === undefined ? { signal } : { timeout: left, signal },
        );
      } catch (err) {
        if (userSignal?.aborted && !ownerGone.aborted) throw abortedError(userSignal, 'get()');
        throw err;
      } finally {
        link?.dispose();
      }
    });
    if (!obj) {
      if (timeoutMs !== undefined) {
        throw new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${ref}`);
      }
      throw lostError(ref);
    }
    return this.readStoreObject(obj, ref);
  }

  /**
   * Waits until a borrowed object is readable in this node's store: its owner may be
   * on another node, whose node manager then pulls it here. Local objects skip the ask.
   */
  async fetchLocal(id: Uint8Array, timeoutMs: number | undefined): Promise<void> {
    const buf = Buffer.from(id.buffer, id.byteOffset, id.byteLength);
    if (this.store.contains(ObjectId.fromBytes(buf))) return;
    const outcome = await this.backend.request('pullObject', Buffer.from(buf), timeoutMs);
    if (outcome === 'lost') throw lostError(buf);
    if (outcome === 'ownerDied') {
      // Its owner's node is gone: every ref of that owner is dead here from now on.
      this.refs.borrows.ownerDied(ownerHexOf(buf));
      throw ownerDied(buf, 'get() of');
    }
    if (outcome === 'timeout') {
      throw new GetTimeoutError(
        `get() timed out after ${timeoutMs} ms waiting for object ${buf.toString('hex')}`,
      );
    }
  }

  async wait(
    refs: readonly ObjectRef<unknown>[],
    numReturns: number,
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<[ObjectRef<unknown>[], ObjectRef<unknown>[]]> {
    this.refs.assertOpen();
    if (signal?.aborted) throw abortedError(signal, 'wait()');
    if (numReturns > refs.length) {
      throw new InvalidArgumentError(
        `wait(): numReturns (${numReturns}) is more than the ${refs.length} refs given`,
      );
    }
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    // A ref whose owner died counts as ready: it is settled (get throws OwnerDiedError).
    const isReady = (r: ObjectRef<unknown>) => {
      const e = this.owned.get(r.hex);
      return e
        ? e.state !== State.Pending
        : this.refs.borrows.isDead(r) || this.store.contains(ObjectId.fromBytes(r));
    };
    let blocked = false;
    let wait: unknown;
    try {
      for (;;) {
        const ready: ObjectRef<unknown>[] = [];
        const notReady: ObjectRef<unknown>[] = [];
        for (const r of refs) {
          if (ready.length < numReturns && isReady(r)) ready.push(r);
          else notReady.push(r);
        }
        const left = deadline === undefined ? undefined : deadline - Date.now();
        if (ready.length >= numReturns || (left !== undefined && left <= 0)) return [ready, notReady];
        if (!blocked) {
          blocked = true;
          wait = this.backend.blocked();
        }
        await this.anyChange(notReady, left, signal);
        if (signal?.aborted) throw abortedError(signal, 'wait()');
      }
    } finally {
      if (blocked) this.backend.unblocked(wait);
    }
  }

  /** Resolves when one of refs may have become ready (or after timeoutMs, or on abort). */
  private anyChange(
    refs: ObjectRef<unknown>[],
    timeoutMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      signal?.addEventListener('abort', finish, { once: true });
      let borrowed = false;
      for (const r of refs) {
        const e = this.owned.get(r.hex);
        if (e) (e.waiters ??= []).push(finish);
        else borrowed = true;
      }
      // Borrowed refs have no local waiter list: poll the store briefly.
      const wait = borrowed ? Math.min(timeoutMs ?? 10, 10) : timeoutMs;
      const timer = setTimeout(finish, wait ?? 2 ** 31 - 1);
    });
  }
}

/** A signal that aborts when either does; dispose() unhooks it from the caller's (long-lived) one. */
function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const abort = () => ac.abort();
  if (a.aborted || b.aborted) ac.abort();
  else {
    a.addEventListener('abort', abort, { once: true });
    b.addEventListener('abort', abort, { once: true });
  }
  return {
    signal: ac.signal,
    dispose() {
      a.removeEventListener('abort', abort);
      b.removeEventListener('abort', abort);
    },
  };
}

/** p, or an AbortError as soon as signal aborts; the listener goes when either settles. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {}); // it settles later, unread
    return Promise.reject(abortedError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
