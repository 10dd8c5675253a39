// Workers that fail to start: a worker that exits before it is ready (a node flag or
// NODE_OPTIONS it inherits is refused, a --require'd file is missing, ...) would fail the
// same way each time. The node counts such failures in a row, waits longer before each
// next try (one try at a time), and once START_ATTEMPTS have failed hands the work that
// waits for a worker a WorkerStartError carrying the worker's stderr and exit status,
// rather than spawning processes without end while get() waits forever.
import { WorkerStartError } from '../base/errors.js';

/** Failed starts in a row after which the work waiting for a worker fails. */
export const START_ATTEMPTS = 3;
/** The pause after the first failed start; it doubles with each next failure, up to START_BACKOFF_MAX_MS. */
export const START_BACKOFF_MS = 100;
/** The longest pause between two tries to start a worker. */
export const START_BACKOFF_MAX_MS = 5000;

/** How a worker that never became ready ended. */
export interface FailedStart {
  pid: number;
  code: number | null;
  signal: string | null;
  /** The end of its stderr. */
  stderr: string;
  /** The command it was started with (node and its arguments), to say what to check. */
  command: readonly string[];
  /** NODE_OPTIONS in its environment, if any. */
  nodeOptions?: string | undefined;
}

/** Counts failed worker starts in a row and paces the next try; fails the waiting work after START_ATTEMPTS. */
export class StartGuard {
  private failures = 0;
  private notBefore = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts that failed in a row (0 once a worker became ready). */
  get failuresInRow(): number {
    return this.failures;
  }

  /** Milliseconds until the next start may be tried (0: now). */
  waitMs(): number {
    return Math.max(0, this.notBefore - this.now());
  }

  /**
   * Whether a worker may be started now, with `starting` workers still booting: always
   * while starts succeed; after a failure, one at a time once the pause is over.
   */
  mayStart(starting: number): boolean {
    if (this.failures === 0) return true;
    return starting === 0 && this.waitMs() === 0;
  }

  /** A worker became ready: starts work again. */
  started(): void {
    this.failures = 0;
    this.notBefore = 0;
  }

  /**
   * A worker exited before it was ready. Returns the error for the work that waits for a
   * worker once START_ATTEMPTS starts in a row have failed (and at each failure after that,
   * until one succeeds), else undefined.
   */
  failed(how: FailedStart): WorkerStartError | undefined {
    this.failures++;
    this.notBefore = this.now() + Math.min(START_BACKOFF_MAX_MS, START_BACKOFF_MS * 2 ** (this.failures - 1));
    if (this.failures < START_ATTEMPTS) return undefined;
    const ended = how.signal ? `was killed by ${how.signal}` : `exited with code ${how.code}`;
    const stderr = how.stderr.trimEnd();
    return new WorkerStartError(
      `sunray could not start a worker process: it ${ended} before it was ready, ` +
        `${this.failures} times in a row (the last: pid ${how.pid}). ` +
        (stderr
          ? `Its stderr ended with:\n${stderr.replace(/^/gm, '  | ')}\n`
          : 'It wrote nothing to stderr. ') +
        `Workers run \`${how.command.join(' ')}\` with the driver's environment: check the node ` +
        'flags they inherit from the driver (its execArgv) and NODE_OPTIONS' +
        (how.nodeOptions ? ` (now '${how.nodeOptions}').` : '.'),
      { exitCode: how.code, signal: how.signal, stderr: how.stderr, attempts: this.failures },
    );
  }
}
