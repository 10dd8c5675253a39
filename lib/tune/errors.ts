// The errors sunray/tune throws, beside sunray's own (InvalidArgumentError for bad options,
// SerializationError for a trainable that cannot be shipped). Both extend SunrayError, with a
// stable code, as every sunray error does.
import { SunrayError } from '../index.js';

/**
 * An experiment-level failure: trials that ended in ERROR when `raiseOnFailedTrial` asked for
 * an exception (`analysis` still holds every trial and result), or an experiment directory
 * that cannot be restored.
 */
export class TuneError extends SunrayError {
  static override readonly code: string = 'SUNRAY_TUNE_ERROR';
  /** The experiment's results, when the experiment ran to its end before this was thrown. */
  analysis?: unknown;
}

/**
 * A trial failed more times than `maxFailures` allows: its trainable threw, or the worker
 * running it died. `cause` is the last error (a RemoteError with the trainable's stack, or the
 * sunray error that ended the worker); `trialId` and `attempts` say which trial and how often.
 */
export class TrialFailedError extends SunrayError {
  static override readonly code: string = 'SUNRAY_TUNE_TRIAL_FAILED';
  /** The id of the trial that failed (as in its directory name and results). */
  readonly trialId: string;
  /** How many times the trial ran (1 + the retries it had). */
  readonly attempts: number;
  constructor(message: string, trialId: string, attempts: number, options?: ErrorOptions) {
    super(message, options);
    this.trialId = trialId;
    this.attempts = attempts;
  }
}
