// ActorPool: Ray's ray.util.ActorPool, a fixed set of actors that work is spread over. Each
// submit runs on an idle actor, or waits for one; results come back in submission order
// (getNext, map) or as they finish (getNextUnordered, mapUnordered). An actor counts as busy
// until its result has been taken with getNext*, as in Ray. Written on the public API only.
import { GetTimeoutError, InvalidArgumentError } from '../base/errors.js';
import * as sunray from '../index.js';

/** What a pool runs: given an actor of the pool and a value, call the actor and return the ref. */
export type PoolFn<A, V, R> = (actor: A, value: V) => sunray.ObjectRef<R>;

/** Options of {@link ActorPool.getNext} and {@link ActorPool.getNextUnordered}. */
export interface PoolGetOptions {
  /** Milliseconds to wait for the result before GetTimeoutError (default: forever). */
  timeout?: number;
}

interface InFlight<A> {
  index: number;
  actor: A;
  ref: sunray.ObjectRef<unknown>;
}

/**
 * A pool of actors to run work on, as Ray's `ActorPool`: `fn(actor, value)` calls a method of
 * the actor it is given and returns its ref. `A` is the actors' handle type.
 *
 * ```ts
 * const pool = new ActorPool([Doubler.remote(), Doubler.remote()]);
 * for await (const y of pool.map((a, v: number) => a.double.remote(v), [1, 2, 3])) console.log(y);
 * ```
 */
export class ActorPool<A extends sunray.ActorHandleBase> {
  private idle: A[];
  /** Work submitted and not yet taken, by its submission index. */
  private readonly inFlight = new Map<number, InFlight<A>>();
  /** Work waiting for an idle actor, in submission order. */
  private readonly pending: Array<{ fn: PoolFn<A, unknown, unknown>; value: unknown }> = [];
  private nextTask = 0;
  private nextReturn = 0;

  /** A pool of these actors (handles of any one actor class). */
  constructor(actors: Iterable<A>) {
    this.idle = [];
    for (const a of actors) this.pushActor(a);
  }

  /**
   * Runs fn on every value and yields the results in the order of `values`. Work still in the
   * pool from earlier submits is dropped first (its results are never read), as in Ray.
   */
  map<V, R>(fn: PoolFn<A, V, R>, values: Iterable<V>): AsyncIterableIterator<R> {
    this.dropAll();
    for (const v of values) this.submit(fn, v);
    return this.drain(() => this.getNext<R>());
  }

  /** As {@link map}, but yields each result as soon as it is ready, in any order. */
  mapUnordered<V, R>(fn: PoolFn<A, V, R>, values: Iterable<V>): AsyncIterableIterator<R> {
    this.dropAll();
    for (const v of values) this.submit(fn, v);
    return this.drain(() => this.getNextUnordered<R>());
  }

  /** Runs fn(actor, value) on an idle actor now, or queues it until an actor is free. */
  submit<V>(fn: PoolFn<A, V, unknown>, value: V): void {
    if (typeof fn !== 'function') {
      throw new InvalidArgumentError(
        'ActorPool.submit(fn, value): fn must be a function (actor, value) => ref',
      );
    }
    const actor = this.idle.pop();
    if (actor === undefined) {
      this.pending.push({ fn: fn as PoolFn<A, unknown, unknown>, value });
      return;
    }
    let ref: unknown;
    try {
      ref = fn(actor, value);
    } catch (err) {
      this.idle.push(actor);
      throw err;
    }
    if (!(ref instanceof sunray.ObjectRef)) {
      this.idle.push(actor);
      throw new InvalidArgumentError(
        'ActorPool: fn(actor, value) must return the ObjectRef of an actor call, such as actor.method.remote(value)',
      );
    }
    const index = this.nextTask++;
    this.inFlight.set(index, { index, actor, ref });
  }

  /** Whether results are still to be taken (submitted work, running or waiting for an actor). */
  hasNext(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * The next result in submission order. Rejects with GetTimeoutError after `timeout` ms (the
   * work stays in the pool), with the task's error if it failed, and with InvalidArgumentError
   * when nothing is left or after getNextUnordered (the order is lost then).
   */
  async getNext<R = unknown>(opts: PoolGetOptions = {}): Promise<R> {
    const deadline = opts.timeout === undefined ? undefined : Date.now() + opts.timeout;
    for (;;) {
      if (!this.hasNext()) throw this.nothingLeft('getNext');
      const item = this.inFlight.get(this.nextReturn);
      if (!item) {
        throw new InvalidArgumentError(
          'ActorPool.getNext() after getNextUnordered(): the order is lost; keep to getNextUnordered()',
        );
      }
      if (deadline !== undefined) {
        const [ready] = await sunray.wait([item.ref], { timeout: Math.max(0, deadline - Date.now()) });
        if (ready.length === 0) throw timedOut('getNext', opts.timeout);
        // Another getNext may have taken it while this one waited: look again.
        if (this.inFlight.get(item.index) !== item) continue;
      }
      this.take(item);
      return sunray.get(item.ref as sunray.ObjectRef<R>);
    }
  }

  /** The next result to finish, whatever its order. Rejects as {@link getNext} does. */
  async getNextUnordered<R = unknown>(opts: PoolGetOptions = {}): Promise<R> {
    const deadline = opts.timeout === undefined ? undefined : Date.now() + opts.timeout;
    for (;;) {
      if (!this.hasNext()) throw this.nothingLeft('getNextUnordered');
      const items = [...this.inFlight.values()];
      const [ready] = await sunray.wait(
        items.map((i) => i.ref),
        deadline === undefined ? {} : { timeout: Math.max(0, deadline - Date.now()) },
      );
      const ref = ready[0];
      if (ref === undefined) throw timedOut('getNextUnordered', opts.timeout);
      const item = items.find((i) => i.ref === ref);
      if (!item || this.inFlight.get(item.index) !== item) continue; // taken meanwhile
      this.take(item);
      // Later getNext() calls must not go back to an index before this one.
      this.nextReturn = Math.max(this.nextReturn, item.index + 1);
      return sunray.get(item.ref as sunray.ObjectRef<R>);
    }
  }

  /** Whether an actor is idle and no work waits for one (so a submit would run at once). */
  hasFree(): boolean {
    return this.idle.length > 0 && this.pending.length === 0;
  }

  /** Takes an idle actor out of the pool (undefined if none is free). */
  popIdle(): A | undefined {
    return this.hasFree() ? this.idle.pop() : undefined;
  }

  /** Adds an actor to the pool; it takes waiting work at once. InvalidArgumentError if it is in the pool. */
  pushActor(actor: A): void {
    if (!(actor instanceof sunray.ActorHandleBase)) {
      throw new InvalidArgumentError('ActorPool takes actor handles (the result of ActorClass.remote())');
    }
    const id = actor.actorId;
    const known = (a: A) => a.actorId === id;
    if (this.idle.some(known) || [...this.inFlight.values()].some((i) => known(i.actor))) {
      throw new InvalidArgumentError(`ActorPool.pushActor(): actor ${id} already belongs to the pool`);
    }
    this.returnActor(actor);
  }

  /** Marks a result as taken and frees its actor for the next waiting work. */
  private take(item: InFlight<A>): void {
    this.inFlight.delete(item.index);
    if (item.index === this.nextReturn) this.nextReturn++;
    this.returnActor(item.actor);
  }

  private returnActor(actor: A): void {
    this.idle.push(actor);
    const next = this.pending.shift();
    if (next) this.submit(next.fn, next.value);
  }

  /** Drops every result not taken yet (map starts afresh); their actors go back to the pool. */
  private dropAll(): void {
    while (this.inFlight.size > 0) {
      const first = Math.min(...this.inFlight.keys());
      const item = this.inFlight.get(first) as InFlight<A>;
      this.take(item);
      this.nextReturn = Math.max(this.nextReturn, item.index + 1);
    }
  }

  private nothingLeft(op: string): InvalidArgumentError {
    return new InvalidArgumentError(
      this.pending.length > 0
        ? `ActorPool.${op}(): the pool has no actor to run its ${this.pending.length} waiting submits: pushActor() one`
        : `ActorPool.${op}(): no more results to get (check hasNext() first)`,
    );
  }

  private async *drain<R>(next: () => Promise<R>): AsyncIterableIterator<R> {
    while (this.hasNext()) yield await next();
  }
}

function timedOut(op: string, timeout: number | undefined): GetTimeoutError {
  return new GetTimeoutError(
    `ActorPool.${op}(): no result within ${timeout} ms; the work stays in the pool, call again to wait more`,
  );
}
