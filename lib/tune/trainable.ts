// The class API of trainables (Ray's tune.Trainable): setup once, step once per iteration,
// save and load checkpoints so that schedulers can pause, restore and copy trials.
import type { Checkpoint } from './checkpoint.js';
import type { Config, Metrics } from './result.js';

const BRAND = Symbol.for('sunray.tune.Trainable');

/**
 * A trainable as a class: Tune makes an instance per trial in a worker, calls setup(config),
 * then step() once per iteration until a stop criterion, a scheduler, or `done: true` in the
 * returned metrics ends it. Each trial gets a fresh instance (the worker process may be reused).
 */
export abstract class Trainable<C = Config, M extends Metrics = Metrics> {
  /** The trial's config (set before setup). */
  config!: C;
  /** Iterations done so far (continues after a restore from a checkpoint). */
  iteration = 0;
  /** The trial's id. */
  trialId = '';
  /** The trial's name. */
  trialName = '';

  /** Prepares the trial (load data, build the model). */
  setup(_config: C): void | Promise<void> {}

  /** One iteration of training: its metrics (`done: true` ends the trial). */
  abstract step(): M | Promise<M>;

  /**
   * Saves the trial's state: write files into dir (a new empty directory), or return a value to
   * save instead (as Checkpoint.fromDict). Called every checkpointConfig.checkpointFrequency
   * iterations, at the end with checkpointAtEnd, and when a scheduler pauses the trial.
   */
  saveCheckpoint(_dir: string): unknown | Promise<unknown> {
    return undefined;
  }

  /** Restores the state saved by saveCheckpoint (checkpoint.toDict() for a returned value, checkpoint.path for files). */
  loadCheckpoint(_checkpoint: Checkpoint): void | Promise<void> {}

  /** Releases what setup took; called when the trial ends or is stopped. */
  cleanup(): void | Promise<void> {}
}
Object.defineProperty(Trainable.prototype, BRAND, { value: true });

/** Whether cls is a class extending Trainable (from any copy of this module). */
export function isTrainableClass(cls: unknown): cls is new () => Trainable {
  return (
    typeof cls === 'function' &&
    typeof (cls as { prototype?: unknown }).prototype === 'object' &&
    (cls as { prototype: Record<symbol, unknown> }).prototype[BRAND] === true
  );
}
