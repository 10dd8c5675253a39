// An actor's isolation options, checked when it is created: 'process' (a worker process of
// its own, Ray's semantics) or 'shared' (one of many actors in a host process), and for a
// shared actor how many may share its host. Bad values fail here, before anything is sent.
import { InvalidArgumentError } from '../base/errors.js';
import { type ActorIsolation, DEFAULT_ACTORS_PER_PROCESS } from '../protocol/actor-options.js';

/** The isolation options an actor class was given. */
export interface IsolationOptions {
  isolation?: ActorIsolation;
  actorsPerProcess?: number;
  numGpus?: number;
}

/** isolation and actorsPerProcess, checked (defaults: 'process', DEFAULT_ACTORS_PER_PROCESS). */
export function checkIsolation(o: IsolationOptions): { isolation: ActorIsolation; actorsPerProcess: number } {
  const isolation = o.isolation ?? 'process';
  if (isolation !== 'process' && isolation !== 'shared') {
    throw new InvalidArgumentError(
      `isolation must be 'process' (an actor is a process of its own) or 'shared' (many actors in a host process), got ${JSON.stringify(isolation)}`,
    );
  }
  const perProcess = o.actorsPerProcess ?? DEFAULT_ACTORS_PER_PROCESS;
  if (!Number.isInteger(perProcess) || perProcess < 1) {
    throw new InvalidArgumentError(`actorsPerProcess must be a whole number >= 1, got ${String(perProcess)}`);
  }
  if (isolation === 'shared' && (o.numGpus ?? 0) > 0) {
    throw new InvalidArgumentError(
      "a shared actor cannot take GPUs (CUDA_VISIBLE_DEVICES belongs to a whole process): use isolation: 'process' for an actor with numGpus",
    );
  }
  return { isolation, actorsPerProcess: perProcess };
}
