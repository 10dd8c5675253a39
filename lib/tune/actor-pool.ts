// The trial actors: one per concurrent trial, each holding the trial's resources, started
// when first needed and (with reuseActors) kept for the next trial, so that a trial costs a
// call rather than a process. sunray has no ActorPool in its public API: this is the small one
// Tune needs, on actors and kill().
import * as sunray from '../index.js';
import { TuneTrialActor } from './trial-actor.js';
import type { WorkerWhere } from './trial-protocol.js';

/** The resources a trial's actor holds, as resourcesPerTrial gives them. */
export interface TrialResources {
  cpu: number;
  gpu: number;
  /** Custom resources by name. */
  custom: Record<string, number>;
}

/** An actor of the pool. */
export interface PoolActor {
  readonly handle: sunray.ActorHandle<TuneTrialActor>;
  /** Experiment setups this actor has (not sent again). */
  readonly setups: Set<number>;
  /** Where it runs: from the reply to its first trial. */
  where: WorkerWhere | undefined;
  /** Trials it ran. */
  trials: number;
}

/** Creates, lends, takes back and stops the trial actors. */
export class ActorPool {
  private readonly cls: sunray.ActorClass<typeof TuneTrialActor>;
  private readonly idle: PoolActor[] = [];
  private readonly all = new Set<PoolActor>();
  /** Actors started so far (for the overhead figures). */
  started = 0;

  constructor(
    resources: TrialResources,
    private readonly reuse: boolean,
  ) {
    this.cls = sunray.remote(TuneTrialActor, {
      module: new URL('./trial-actor.js', import.meta.url).href,
      numCpus: resources.cpu,
      numGpus: resources.gpu,
      resources: resources.custom,
      // One trial step at a time, as before async actors defaulted to 1000 concurrent calls:
      // a trial's state is not made for steps that interleave.
      maxConcurrency: 1,
    });
  }

  /** An idle actor, or a new one. */
  acquire(): PoolActor {
    const a = this.idle.pop();
    if (a) return a;
    const actor: PoolActor = { handle: this.cls.remote(), setups: new Set(), where: undefined, trials: 0 };
    this.all.add(actor);
    this.started++;
    return actor;
  }

  /** Takes an actor back after a trial: kept idle (reuseActors) or stopped. */
  release(a: PoolActor): void {
    if (!this.all.has(a)) return;
    if (this.reuse) this.idle.push(a);
    else this.discard(a);
  }

  /** Stops an actor (after its process died, or when it is not reused). */
  discard(a: PoolActor): void {
    if (!this.all.delete(a)) return;
    const i = this.idle.indexOf(a);
    if (i >= 0) this.idle.splice(i, 1);
    try {
      sunray.kill(a.handle);
    } catch {
      // already gone with the runtime
    }
  }

  /** Stops every actor. */
  shutdown(): void {
    for (const a of [...this.all]) this.discard(a);
  }
}
