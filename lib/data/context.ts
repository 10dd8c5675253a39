// DataContext: the settings every execution of a dataset reads (block sizes, the memory budget
// of the streaming executor, ordering, progress display). One per process, as Ray's
// DataContext.get_current(); a dataset captures a copy when it starts executing.
import { statfsSync } from 'node:fs';
import { totalmem } from 'node:os';

/** How progress is shown while a dataset executes. */
export type ProgressMode = 'auto' | 'bars' | 'lines' | 'off';

/** sunray's own default store size (docs/tasks.md): used when objectStoreMemory is not set here. */
function defaultStoreBytes(): number {
  let bytes = Math.floor(totalmem() * 0.3);
  try {
    const st = statfsSync('/dev/shm');
    bytes = Math.min(bytes, Number(st.bavail) * Number(st.bsize));
  } catch {
    // no /dev/shm: the RAM share alone
  }
  return Math.min(bytes, 4 * 1024 ** 3 - 256 * 1024 ** 2);
}

/** The settings of dataset execution in this process. */
export class DataContext {
  /**
   * Bytes of the object store this process's node has. sunray's public API does not tell a
   * library the store's size, so set this when `init({ objectStoreMemory })` was given
   * (default: sunray's own default, 30% of RAM capped by /dev/shm and 3.75 GiB).
   */
  objectStoreMemory: number = defaultStoreBytes();
  /**
   * Bytes of blocks in the store that one execution may hold at once, shared by its operators
   * (each gets an equal part, and at least one block in flight). Default: half the store.
   */
  executionMemoryBudget: number | undefined = undefined;
  /** Blocks above this size are split by sources that can (row ranges, byte ranges of files). */
  targetMaxBlockSize = 128 * 1024 * 1024;
  /** Rows per block that `range` and `fromItems` aim for when no parallelism is given (at most). */
  targetRowsPerBlock = 256 * 1024;
  /** Outputs come in the order of their inputs (the order of rows is kept). Ray's default is false. */
  preserveOrder = true;
  /** Tasks of one operator in flight at most, per CPU of the cluster. */
  tasksInFlightPerCpu = 2;
  /** Calls in flight per actor of an actor pool (mapBatches with a class). */
  maxTasksInFlightPerActor = 2;
  /** 'auto': bars on a TTY, plain lines every progressIntervalMs otherwise. */
  progress: ProgressMode = 'auto';
  /** Milliseconds between plain progress lines (and bar redraws). */
  progressIntervalMs = 5000;

  private static current: DataContext | undefined;

  /** This process's context (made on first use). Changes apply to executions that start later. */
  static getCurrent(): DataContext {
    DataContext.current ??= new DataContext();
    return DataContext.current;
  }

  /** The budget in bytes for one execution: executionMemoryBudget, else half the store. */
  budgetBytes(): number {
    return this.executionMemoryBudget ?? Math.floor(this.objectStoreMemory / 2);
  }

  /** A copy, which an execution keeps so that later changes do not reach it midway. */
  snapshot(): DataContext {
    return Object.assign(Object.create(DataContext.prototype), this) as DataContext;
  }
}
