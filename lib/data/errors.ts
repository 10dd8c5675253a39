// The errors sunray/data throws. Each extends sunray's SunrayError with a stable `code`
// (SUNRAY_DATA_*) and says what happened and what to do. Errors thrown inside a task reach the
// driver as a TaskError whose cause names the class; `dataErrorFrom` turns such a TaskError
// back into the data class, so `instanceof` works in the driver.
import { SunrayError, TaskError } from '../index.js';

/** A source found nothing to read, or a file could not be read or parsed (`path` names it). */
export class DataSourceError extends SunrayError {
  static override readonly code: string = 'SUNRAY_DATA_SOURCE';
  /** The file or pattern at fault ('' when none applies). */
  readonly path: string;
  constructor(message: string, path = '') {
    super(message);
    this.path = path;
  }
}

/**
 * Blocks that must agree do not: a column with types that cannot be unified (a number and a
 * string), a zip of datasets with different row counts, a sort or groupby key that is missing.
 */
export class SchemaMismatchError extends SunrayError {
  static override readonly code: string = 'SUNRAY_DATA_SCHEMA';
}

/** A sink could not write its output (`path` names the file or directory). */
export class DataSinkError extends SunrayError {
  static override readonly code: string = 'SUNRAY_DATA_SINK';
  /** The file or directory that could not be written. */
  readonly path: string;
  constructor(message: string, path = '') {
    super(message);
    this.path = path;
  }
}

/**
 * A streamingSplit() iterator was used wrongly or its coordinator is gone: a split asked for
 * twice at once, or the coordinator actor died.
 */
export class StreamingSplitError extends SunrayError {
  static override readonly code: string = 'SUNRAY_DATA_SPLIT';
}

const BY_NAME: Record<string, (message: string, path: string) => SunrayError> = {
  DataSourceError: (m, p) => new DataSourceError(m, p),
  SchemaMismatchError: (m) => new SchemaMismatchError(m),
  DataSinkError: (m, p) => new DataSinkError(m, p),
  StreamingSplitError: (m) => new StreamingSplitError(m),
};

/**
 * The data error a TaskError carries, rebuilt in this process (same class, message and path),
 * or the error itself when it carries none.
 */
export function dataErrorFrom(err: unknown): unknown {
  if (!(err instanceof TaskError)) return err;
  let cause = err.cause as { name?: unknown; message?: unknown; path?: unknown; cause?: unknown } | undefined;
  // A task that rethrew another task's error nests the chain: find the innermost data error.
  while (cause) {
    const cls = typeof cause.name === 'string' ? BY_NAME[cause.name] : undefined;
    if (cls) {
      const out = cls(String(cause.message ?? ''), typeof cause.path === 'string' ? cause.path : '');
      (out as { cause?: unknown }).cause = err;
      return out;
    }
    cause = cause.cause as typeof cause;
  }
  return err;
}
