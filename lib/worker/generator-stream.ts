// The owner's side of a streaming generator task (Ray's ObjectRefGenerator): the items its
// worker reported so far, by index, and how the stream ended (the number of items, or the
// error it failed with). GeneratorStream is the decision logic alone (unit-tested with
// fakes); ObjectRefGenerator is what `remote()` of a generator gives the user: an async
// iterator of one ref per yielded value, in order, each readable as soon as it was yielded.
import type { ObjectRef } from '../base/object-ref.js';

/** How a stream ended: its item count, or the error the generator (or its task) failed with. */
type StreamEnd = { count: number; error?: undefined } | { error: Error; count?: undefined };

/**
 * The items of one streaming task as they arrive, and the consumer's place in them.
 * Items come in index order from one run; a retried run yields from the start again, so an
 * item already taken or held is refused (offer() gives false). onConsumed hears the number
 * taken so far (the worker's backpressure waits on it).
 */
export class GeneratorStream<R> {
  private readonly items = new Map<number, R>();
  /** Index of the next item the consumer takes (= items taken so far). */
  private taken = 0;
  private end: StreamEnd | undefined;
  /** The error was thrown to the consumer: the stream is over. */
  private over = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly onConsumed?: (taken: number) => void) {}

  /** Items the consumer has taken. */
  get consumed(): number {
    return this.taken;
  }

  /** Items arrived and not taken yet. */
  get buffered(): number {
    return this.items.size;
  }

  /** Nothing more will be taken from outside: the end is known and every item before it has come. */
  get complete(): boolean {
    const end = this.end;
    return (
      this.over ||
      (end !== undefined && (end.error !== undefined || this.taken + this.items.size >= end.count))
    );
  }

  /** Whether item `index` is new (not taken, not held, the stream not closed). */
  wants(index: number): boolean {
    return !this.over && index >= this.taken && !this.items.has(index);
  }

  /** Item `index` arrived; false (and not kept) when it is not wanted (see wants). */
  offer(index: number, item: R): boolean {
    if (!this.wants(index)) return false;
    this.items.set(index, item);
    this.wake();
    return true;
  }

  /** Tells onConsumed again how many were taken (a retried run starts from zero). */
  reack(): void {
    this.onConsumed?.(this.taken);
  }

  /** The generator returned after `count` items. */
  ended(count: number): void {
    if (this.end) return;
    this.end = { count };
    this.wake();
  }

  /** The generator threw (or its task failed): the consumer gets err after the items before it. */
  failed(error: Error): void {
    if (this.end) return;
    this.end = { error };
    this.wake();
  }

  /** The consumer stopped early: nothing more is kept or given. */
  close(): void {
    this.over = true;
    this.items.clear();
    this.wake();
  }

  /** The next item in order, once it has arrived; done after the last; rejects with the stream's error. */
  async next(): Promise<IteratorResult<R, undefined>> {
    for (;;) {
      if (this.over) return { done: true, value: undefined };
      const item = this.items.get(this.taken);
      if (item !== undefined) {
        this.items.delete(this.taken);
        this.taken++;
        this.onConsumed?.(this.taken);
        return { done: false, value: item };
      }
      const end = this.end;
      if (end?.error) {
        this.over = true;
        this.items.clear();
        throw end.error;
      }
      // (An ended stream may still wait: across nodes an item may come after the end.)
      if (end && this.taken >= end.count) {
        this.over = true;
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const ws = this.waiters;
    if (ws.length === 0) return;
    this.waiters = [];
    for (const w of ws) w();
  }
}

/**
 * What calling a generator remotely gives (Ray's ObjectRefGenerator): `for await (const ref
 * of gen)` yields an ObjectRef<T> per value the generator yields, in order, each as soon as
 * it was yielded; an error the generator throws rejects the step after the values before it.
 * `cancel(gen)` stops the generator (refs already yielded stay valid). Iterate it once: it
 * is its own iterator.
 */
export class ObjectRefGenerator<T> implements AsyncIterableIterator<ObjectRef<T>> {
  /** @internal Made by the task submitter (task-submitter.ts submitStreaming). */
  constructor(
    /** The task's own result: ready (with the number of items) when the generator has returned. */
    readonly completed: ObjectRef<number>,
    private readonly stream: GeneratorStream<ObjectRef<T>>,
  ) {}

  /** The next item's ref, once the generator yielded it; done after the last item. */
  next(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    return this.stream.next();
  }

  /**
   * Stops consuming (a `break` out of `for await` calls it): items not taken yet are
   * dropped. The generator task itself runs on; cancel(gen) stops it.
   */
  return(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    this.stream.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The generator is its own iterator (`for await` takes it as it is). */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** `ObjectRefGenerator(<its task's id>)`. */
  toString(): string {
    return `ObjectRefGenerator(${this.completed.hex.slice(0, 48)})`;
  }
}
