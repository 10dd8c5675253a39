// One actor this worker hosts: its instance, its concurrency groups, what its calls run
// with (its resources and job), and its end. A process actor's worker hosts one; a shared
// host (isolation: 'shared') holds many at once, by id, each with its own state, limits
// and exit, so one can be dropped (killed, released, exited) while its neighbours run on.
import { ConcurrencyGroups } from './concurrency-groups.js';

/** An actor's instance: its methods by name. */
export type ActorInstance = Record<string, unknown>;

/** An actor hosted here, from its constructor's start to its end. */
export class HostedActor<J> {
  instance: ActorInstance | undefined = undefined;
  /** Its constructor threw: its calls fail with this. */
  dead: Error | undefined = undefined;
  /**
   * Its node dropped it (killed, released, exited, or restarting elsewhere): what it still
   * runs answers no one (the node has already failed or retried those calls).
   */
  dropped = false;
  /** exitActor() was called in it: nothing more of it starts; `exited` once its running calls end. */
  exiting = false;
  exited: (() => void) | undefined = undefined;
  readonly groups = new ConcurrencyGroups<J>(1);

  constructor(
    /** Its id (16 bytes). */
    readonly id: Buffer,
    /** Whether it shares this process with other actors. */
    readonly shared: boolean,
    /** The resources it holds (its calls' assignedResources). */
    readonly resources: Readonly<Record<string, number>>,
    /** Its creator's job: its calls run in it, as in Ray. */
    readonly job: string,
    /** Its creation's scheduling strategy (a placement group's, for its calls' children). */
    readonly strategy = '',
  ) {}

  /** Whether none of its calls wait or run. */
  idle(): boolean {
    return this.groups.queued() === 0 && this.groups.running() === 0;
  }
}

/** The actors of this process: a process actor's one, or a shared host's, by id. */
export class HostedActors<J> {
  /** A process actor's worker: its actor. */
  single: HostedActor<J> | undefined = undefined;
  private readonly byKey = new Map<string, HostedActor<J>>();
  /** The shared actor last found, by its id Buffer (specs share one per actor: no key made). */
  private lastId: Buffer | undefined;
  private lastActor: HostedActor<J> | undefined;

  add(actor: HostedActor<J>): void {
    if (actor.shared) this.byKey.set(hostedKey(actor.id), actor);
    else this.single = actor;
  }

  /** The actor a call of actor `id` runs on: a process actor's own, or that shared actor if hosted here. */
  of(id: Buffer): HostedActor<J> | undefined {
    return this.single ?? this.shared(id);
  }

  /** The shared actor of that id, if hosted here. */
  private shared(id: Buffer): HostedActor<J> | undefined {
    if (id === this.lastId) return this.lastActor;
    const actor = this.byKey.get(hostedKey(id));
    if (actor) {
      this.lastId = id;
      this.lastActor = actor;
    }
    return actor;
  }

  /** Forgets a shared actor (its node dropped it): marked dropped, its queue emptied; returned. */
  drop(id: Buffer): HostedActor<J> | undefined {
    const key = hostedKey(id);
    const actor = this.byKey.get(key);
    if (!actor) return undefined;
    this.byKey.delete(key);
    if (this.lastActor === actor) this.lastId = this.lastActor = undefined;
    actor.dropped = true;
    actor.instance = undefined;
    actor.groups.clear();
    return actor;
  }

  /** Takes the first queued call that matches out of whichever actor's queue holds it. */
  removeQueued(match: (job: J) => boolean): J | undefined {
    const job = this.single?.groups.remove(match);
    if (job !== undefined) return job;
    for (const a of this.byKey.values()) {
      const j = a.groups.remove(match);
      if (j !== undefined) return j;
    }
    return undefined;
  }
}

/** The key of an actor id in a shared host's table (16 bytes as a latin1 string: cheap to make). */
function hostedKey(actorId: Buffer): string {
  return actorId.toString('latin1');
}
