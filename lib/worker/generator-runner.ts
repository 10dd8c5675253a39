// The worker's side of a streaming generator task: it steps the iterator the function
// returned, and each value becomes an object (emit) as soon as it is yielded, reported to
// the owner by the executor. With generatorBackpressure n it pauses while n items are
// unconsumed, until the owner's count (StreamControl) lets it on; a cancel (STREAM_STOP)
// ends the generator (its finally blocks run) at its next step.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { InvalidArgumentError, TaskCancelledError } from '../base/errors.js';
import type { TaskSpec } from '../protocol/spec.js';
import { STREAM_STOP } from '../protocol/streaming.js';

/** One generator running here: what its owner has consumed, and whether it was stopped. */
export class GeneratorRun {
  consumed = 0;
  stopped = false;
  private wakeUp: (() => void) | undefined;

  constructor(
    /** Items that may be unconsumed before the generator pauses (0: no limit). */
    readonly backpressure: number,
  ) {}

  /** The owner's StreamControl: a consumed count, or STREAM_STOP. */
  control(consumed: number): void {
    if (consumed === STREAM_STOP) this.stopped = true;
    else if (consumed > this.consumed) this.consumed = consumed;
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Resolves at the next control message. */
  waitControl(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }
}

/** Steps of a generator that never waits between which the worker still reads its messages. */
const TURN_EVERY = 64;

type Stepper = { next(): unknown; return?(value?: unknown): unknown };

/** The iterator of what a streaming task's function returned (a generator, or any iterable). */
function iteratorOf(value: unknown, name: string): Stepper {
  const v = value as Record<symbol | string, unknown> | null | undefined;
  if (v && typeof v.next === 'function') return v as unknown as Stepper;
  const make = v?.[Symbol.asyncIterator] ?? v?.[Symbol.iterator];
  if (typeof make === 'function') return make.call(v) as Stepper;
  throw new InvalidArgumentError(
    `${name} was declared with numReturns: 'streaming' but returned ${value === null ? 'null' : typeof value}, ` +
      'not a generator or iterable: make it a generator (function*) or async generator (async function*)',
  );
}

/**
 * Runs a streaming task's iterator to its end: emit(k, value) for the k-th value. Resolves
 * with the number of values; rejects with what the generator threw, or TaskCancelledError
 * once stopped.
 */
export async function driveGenerator(
  returned: unknown,
  run: GeneratorRun,
  name: string,
  emit: (index: number, value: unknown) => void,
): Promise<number> {
  const it = iteratorOf(await returned, name);
  let k = 0;
  try {
    for (;;) {
      while (!run.stopped && run.backpressure > 0 && k - run.consumed >= run.backpressure) {
        await run.waitControl();
      }
      if (run.stopped)
        throw new TaskCancelledError(`task ${name} was cancelled while it was yielding values`);
      const step = (await it.next()) as IteratorResult<unknown>;
      if (step.done) return k;
      emit(k++, step.value);
      if (k % TURN_EVERY === 0) await nextTurn();
    }
  } catch (err) {
    // Stopped or failed mid-way: let the generator run its finally blocks (errors there are its own).
    if (run.stopped) await Promise.resolve(it.return?.()).catch(() => {});
    throw err;
  }
}

/**
 * The error for a generator returned as a value (it cannot cross processes): a generator
 * method called from a handle that did not know it was one (a worker's getIfExists handle),
 * or a function that returns a generator object without being a generator function.
 */
export function generatorReturned(spec: TaskSpec, value: unknown): Error | undefined {
  const tag = Object.prototype.toString.call(value);
  if (tag !== '[object Generator]' && tag !== '[object AsyncGenerator]') return undefined;
  return new InvalidArgumentError(
    `${spec.name} returned a generator, which cannot be sent back as a value: call it with ` +
      ".options({ numReturns: 'streaming' }) to stream what it yields (a handle a worker got " +
      'with getIfExists does not know which methods are generators)',
  );
}
