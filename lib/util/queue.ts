// Queue: Ray's ray.util.queue.Queue, a FIFO queue held by an actor, so that any task or actor
// on any node can put and get. A Queue is a typed array of its actor's id, as an actor handle
// is: passed to a task or an actor (as an argument or inside a value) it arrives as a Queue on
// the same actor.

import { type HandleWire, handleFromWire, handleToWire } from '../api/actor.js';
import { InvalidArgumentError, QueueEmptyError, QueueFullError, SunrayError } from '../base/errors.js';
import { OWNER_ID_SIZE } from '../base/ids.js';
import { registerHostType } from '../base/serialization.js';
import * as sunray from '../index.js';
import { SunrayQueueActor } from './queue-actor.js';

const MODULE = new URL('./queue-actor.js', import.meta.url).href;

/**
 * How many calls the queue's actor runs at once: blocked puts and gets wait inside it, so this
 * is how many callers may block at a time before further calls wait in line to start.
 */
export const QUEUE_MAX_CONCURRENCY = 1000;

/** Options of `new Queue()`. */
export interface QueueOptions {
  /** The most items the queue holds; put waits (or putNowait fails) when it is full. 0 (default): no bound. */
  maxsize?: number;
  /** Options of the queue's actor (name, namespace, resources, schedulingStrategy, lifetime...). */
  actorOptions?: Omit<sunray.ActorOptions, 'maxConcurrency'>;
}

/** Options of {@link Queue.put} and {@link Queue.get}. */
export interface QueueWaitOptions {
  /** Milliseconds to wait at most (default: forever); then QueueFullError / QueueEmptyError. */
  timeout?: number;
}

type QueueActorHandle = sunray.ActorHandle<SunrayQueueActor>;

let actorClass: sunray.ActorClass<typeof SunrayQueueActor> | undefined;

/**
 * A first-in first-out queue shared by tasks and actors on every node, held by an actor (as
 * Ray's `ray.util.queue.Queue`). Every method is a call to that actor.
 *
 * ```ts
 * const q = new Queue<number>({ maxsize: 100 });
 * const producer = sunray.remote(async (q: Queue<number>) => { for (let i = 0; i < 10; i++) await q.put(i); });
 * producer.remote(q);
 * console.log(await q.get({ timeout: 5000 }));   // 0
 * ```
 */
export class Queue<T = unknown> extends Uint8Array {
  /** @internal Uint8Array methods that make new arrays (subarray, map, slice) must not make queues. */
  static get [Symbol.species]() {
    return Uint8Array;
  }

  /** The most items the queue holds (0: no bound). */
  declare readonly maxsize: number;
  /** The actor that holds the items. */
  declare readonly actor: QueueActorHandle;

  /** Starts the queue's actor. InvalidArgumentError for a maxsize that is not a whole number >= 0. */
  constructor(opts: QueueOptions = {}) {
    super(OWNER_ID_SIZE);
    const wire = fromWire.get(opts);
    const maxsize = wire ? wire.maxsize : (opts.maxsize ?? 0);
    if (!Number.isInteger(maxsize) || maxsize < 0) {
      throw new InvalidArgumentError(
        `Queue: maxsize is a whole number >= 0 (0: no bound), got ${String(opts.maxsize)}`,
      );
    }
    let actor: QueueActorHandle;
    if (wire) actor = wire.actor;
    else {
      actorClass ??= sunray.remote(SunrayQueueActor, { module: MODULE });
      actor = actorClass
        .options({ ...opts.actorOptions, maxConcurrency: QUEUE_MAX_CONCURRENCY })
        .remote(maxsize);
    }
    this.set(actor);
    Object.defineProperties(this, { maxsize: { value: maxsize }, actor: { value: actor } });
  }

  /** Adds item, waiting while the queue is full; QueueFullError if no room came within `timeout`. */
  async put(item: T, opts: QueueWaitOptions = {}): Promise<void> {
    const timeout = checkTimeout(opts.timeout, 'put');
    if (!(await this.call(this.actor.put.remote(item, timeout)))) {
      throw new QueueFullError(
        `Queue.put(): the queue stayed full (maxsize ${this.maxsize}) for ${timeout} ms; take items out or wait longer`,
      );
    }
  }

  /** Adds item now; QueueFullError if the queue is full. */
  async putNowait(item: T): Promise<void> {
    if (!(await this.call(this.actor.putNowait.remote(item)))) {
      throw new QueueFullError(`Queue.putNowait(): the queue is full (maxsize ${this.maxsize})`);
    }
  }

  /** Takes the first item, waiting while the queue is empty; QueueEmptyError if none came within `timeout`. */
  async get(opts: QueueWaitOptions = {}): Promise<T> {
    const timeout = checkTimeout(opts.timeout, 'get');
    const got = await this.call(this.actor.get.remote(timeout));
    if (got === null) {
      throw new QueueEmptyError(`Queue.get(): no item came within ${timeout} ms; check that a producer puts`);
    }
    return got.item as T;
  }

  /** Takes the first item now; QueueEmptyError if the queue is empty. */
  async getNowait(): Promise<T> {
    const got = await this.call(this.actor.getNowait.remote());
    if (got === null) throw new QueueEmptyError('Queue.getNowait(): the queue is empty');
    return got.item as T;
  }

  /** How many items the queue holds now. */
  size(): Promise<number> {
    return this.call(this.actor.size.remote());
  }

  /** Whether the queue holds no item now. */
  empty(): Promise<boolean> {
    return this.call(this.actor.empty.remote());
  }

  /** Whether the queue holds maxsize items now (never, with no bound). */
  full(): Promise<boolean> {
    return this.call(this.actor.full.remote());
  }

  /**
   * Stops the queue's actor: its items are dropped, and every later call, here or in any other
   * process, fails (ActorDiedError; here a SunrayError saying the queue was shut down).
   */
  shutdown(): void {
    shutDown.add(this.actor.actorId);
    sunray.kill(this.actor);
  }

  override toString(): string {
    return `Queue(maxsize ${this.maxsize}, actor ${this.actor.actorId})`;
  }

  private async call<R>(ref: sunray.ObjectRef<R>): Promise<R> {
    if (shutDown.has(this.actor.actorId)) {
      throw new SunrayError('this Queue was shut down (queue.shutdown()); make a new Queue');
    }
    return sunray.get(ref);
  }
}

/** Queues this process shut down, by actor id (its copies know it too). */
const shutDown = new Set<string>();

/** What a Queue is rebuilt from, keyed by the options object the rebuilding constructor gets. */
const fromWire = new WeakMap<object, { actor: QueueActorHandle; maxsize: number }>();

function checkTimeout(t: number | undefined, op: string): number | null {
  if (t === undefined) return null;
  if (typeof t !== 'number' || Number.isNaN(t) || t < 0) {
    throw new InvalidArgumentError(
      `Queue.${op}(): timeout is in milliseconds and must be >= 0, got ${String(t)}`,
    );
  }
  return t;
}

registerHostType<Queue>({
  name: 'Queue',
  test: (x): x is Queue => x instanceof Queue,
  write: (q) => Buffer.from(JSON.stringify({ h: handleToWire(q.actor), maxsize: q.maxsize })),
  read(bytes) {
    const o = JSON.parse(bytes.toString()) as { h: HandleWire; maxsize: number };
    const key = {};
    fromWire.set(key, { actor: handleFromWire(o.h) as QueueActorHandle, maxsize: o.maxsize });
    return new Queue(key);
  },
});
