// `serve.batch(fn, { maxBatchSize, batchWaitTimeoutMs })`: calls that arrive together are
// handed to fn as one array (model inference batching, Ray Serve's @serve.batch). A batch
// goes when it is full or when its first call has waited batchWaitTimeoutMs; fn returns one
// result per item, in order, and each caller gets its own. If fn throws, every call of that
// batch fails with the error. Batches run one at a time unless maxConcurrentBatches says more.
import { InvalidArgumentError } from '../index.js';

/** Options of `serve.batch`. */
export interface BatchOptions {
  /** Most items in one batch (default 10, as Ray). */
  maxBatchSize?: number;
  /** How long the first item of a batch waits for others (default 10 ms). */
  batchWaitTimeoutMs?: number;
  /** Batches that may run at once (default 1). */
  maxConcurrentBatches?: number;
}

interface Pending<T, R> {
  item: T;
  resolve(r: R): void;
  reject(err: unknown): void;
}

/** A batched function: takes one item, gives its result once its batch has run. */
export type BatchedFunction<T, R, This = unknown> = (this: This, item: T) => Promise<R>;

/**
 * Batches calls to fn: each call passes one item, fn gets an array of up to maxBatchSize items
 * and returns an array of as many results. Use it as a class field so that each instance has its
 * own queue: `predict = serve.batch(async (xs: number[]) => model(xs), { maxBatchSize: 8 })`.
 */
export function batch<T, R, This = unknown>(
  fn: (this: This, items: T[]) => R[] | Promise<R[]>,
  opts: BatchOptions = {},
): BatchedFunction<T, R, This> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('serve.batch() takes a function of an array');
  const maxBatchSize = opts.maxBatchSize ?? 10;
  const waitMs = opts.batchWaitTimeoutMs ?? 10;
  const maxConcurrent = opts.maxConcurrentBatches ?? 1;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1)
    throw new InvalidArgumentError(
      `serve.batch(): maxBatchSize must be a whole number >= 1, got ${maxBatchSize}`,
    );
  if (typeof waitMs !== 'number' || !(waitMs >= 0))
    throw new InvalidArgumentError(`serve.batch(): batchWaitTimeoutMs must be a number >= 0, got ${waitMs}`);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
    throw new InvalidArgumentError(
      `serve.batch(): maxConcurrentBatches must be a whole number >= 1, got ${maxConcurrent}`,
    );

  const queue: Pending<T, R>[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = 0;
  let self: This | undefined;

  const run = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    while (queue.length > 0 && running < maxConcurrent) {
      const group = queue.splice(0, maxBatchSize);
      running++;
      void runBatch(group).finally(() => {
        running--;
        // Items that came while this batch ran: a full batch goes now, else after the wait.
        if (queue.length >= maxBatchSize) run();
        else if (queue.length > 0) arm();
      });
    }
  };

  const arm = (): void => {
    if (timer === undefined && queue.length > 0) timer = setTimeout(run, waitMs);
  };

  const runBatch = async (group: Pending<T, R>[]): Promise<void> => {
    try {
      const out = await fn.call(
        self as This,
        group.map((p) => p.item),
      );
      if (!Array.isArray(out) || out.length !== group.length) {
        throw new InvalidArgumentError(
          `serve.batch(): the batch function was given ${group.length} item(s) and must return an array of ` +
            `${group.length} result(s), one per item in order; it returned ${Array.isArray(out) ? `an array of ${out.length}` : typeof out}`,
        );
      }
      group.forEach((p, i) => {
        p.resolve(out[i] as R);
      });
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  };

  return function batched(this: This, item: T): Promise<R> {
    self = this;
    return new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length >= maxBatchSize && running < maxConcurrent) run();
      else arm();
    });
  };
}
