// The errors sunray/serve throws. Each extends sunray's SunrayError with a stable `code`
// (SUNRAY_SERVE_*), and says what happened and what to do. Errors thrown by the controller
// or a replica reach the caller as a TaskError whose cause carries the class name; `fromRemote`
// turns such a TaskError back into the serve class, so `instanceof` works in the driver.
import { InvalidArgumentError, SunrayError, TaskError } from '../index.js';

/**
 * A call or request was refused because every replica is at `maxOngoingRequests` and the
 * caller's queue holds `maxQueuedRequests` already (over HTTP: a 503). Retry later, add
 * replicas, or raise the limits.
 */
export class BackPressureError extends SunrayError {
  static override readonly code: string = 'SUNRAY_SERVE_BACKPRESSURE';
}

/** The application or deployment does not exist (never deployed, deleted, or serve was shut down). */
export class DeploymentUnavailableError extends SunrayError {
  static override readonly code: string = 'SUNRAY_SERVE_UNAVAILABLE';
}

/**
 * A deployment could not be brought up: its replicas' constructors threw, they could not be
 * placed, or they did not start in time. The message carries the replica's error.
 */
export class DeploymentFailedError extends SunrayError {
  static override readonly code: string = 'SUNRAY_SERVE_DEPLOY_FAILED';
}

/** The request was cancelled (`response.cancel()`, or the HTTP client went away) before it finished. */
export class RequestCancelledError extends SunrayError {
  static override readonly code: string = 'SUNRAY_SERVE_REQUEST_CANCELLED';
}

/** A `serve deploy` config file that cannot be right; `path` names the key (e.g. `applications[0].routePrefix`). */
export class ServeConfigError extends InvalidArgumentError {
  static override readonly code: string = 'SUNRAY_SERVE_CONFIG';
  /** The config key at fault ('' when none applies). */
  readonly path: string;
  constructor(message: string, path = '') {
    super(message);
    this.path = path;
  }
}

const byName: Record<string, new (message: string) => SunrayError> = {
  BackPressureError,
  DeploymentUnavailableError,
  DeploymentFailedError,
  RequestCancelledError,
  InvalidArgumentError,
};

/**
 * The serve error a remote call failed with, rebuilt as its own class (with the remote error as
 * its cause); any other error as it was.
 */
export function fromRemote(err: unknown): unknown {
  if (!(err instanceof TaskError)) return err;
  const cause = err.cause as { name?: string; message?: string } | undefined;
  if (!cause?.name) return err;
  const cls = byName[cause.name];
  if (!cls) return err;
  const out = new cls(cause.message ?? err.message);
  Object.defineProperty(out, 'cause', { value: err.cause, configurable: true, writable: true });
  return out;
}
