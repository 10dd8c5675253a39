// An actor's record on the node that hosts it (ActorRec): what its ActorCreate said, where
// it runs, its state, budget, calls waiting and running, and how it died; made here from
// its ActorCreate, read and changed by the actor manager (actor-manager.ts).
import { Deque } from '../base/deque.js';
import type { RemoteErrorInfo } from '../base/errors.js';
import {
  actorHoldDemand,
  actorPlaceDemand,
  decodeActorOptions,
  type HandleHints,
  restartBudget,
} from '../protocol/actor-options.js';
import { groupOfDemand } from '../protocol/placement-group.js';
import type { Demand } from '../protocol/resources.js';
import type { FunctionDef, TaskSpec } from '../protocol/spec.js';
import type { NamedActor } from './cluster-hooks.js';
import type { ResultSink } from './owner-router.js';
import type { Grant } from './resource-pool.js';
import type { TaskEntry } from './task-table.js';
import type { WorkerSlot } from './worker-slot.js';

/** Where an actor is in its life: placed and constructing, serving calls, restarting, or gone. */
export type ActorState = 'pending' | 'alive' | 'restarting' | 'dead';

/** An actor hosted on this node, from creation to death (kept after, for its error). */
export interface ActorRec<W extends WorkerSlot = WorkerSlot> {
  id: Buffer;
  hex: string;
  def: FunctionDef;
  createSpec: TaskSpec;
  owner: ResultSink;
  worker: W | undefined;
  state: ActorState;
  restartsLeft: number;
  restarts: number;
  name: string | undefined;
  namespace: string;
  detached: boolean;
  /** What it holds while alive (what it asked for; nothing by default). */
  holdDemand: Demand;
  /** What it takes to be placed (what it asked for, else one CPU). */
  placeDemand: Demand;
  /**
   * The placement group whose bundle resources placeDemand asks for, if any: read once here
   * rather than parsed out of placeDemand's resource names each time (the waiting load asks at
   * every heartbeat).
   */
  group: string | undefined;
  grant: Grant | null;
  /** Calls waiting for it to be alive (placed, constructed, restarted). */
  pending: Deque<TaskEntry<W>>;
  /**
   * Calls sent to its process and not done. Counted, not listed (two map operations a call
   * saved): the rare death of an actor finds them in the node's task table (takeRunningCalls).
   */
  running: number;
  cause: RemoteErrorInfo | undefined;
  deathMessage: string;
  methods: string[];
  className: string;
  /** What its handles know beyond its methods (getActor hands it on). */
  handle: HandleHints | undefined;
  maxTaskRetries: number;
  terminateWhenIdle: boolean;
  /** It lives in a shared host (isolation: 'shared'), with at most `perHost` actors there. */
  shared: boolean;
  perHost: number;
}

/** A new actor's record, from its ActorCreate entry (t) and its class: pending, not placed yet. */
export function newActorRec<W extends WorkerSlot>(t: TaskEntry<W>, def: FunctionDef): ActorRec<W> {
  const opts = decodeActorOptions(t.spec.method);
  const placeDemand = actorPlaceDemand(opts, t.spec.demand);
  return {
    id: t.spec.actorId,
    hex: t.spec.actorId.toString('hex'),
    def,
    createSpec: t.spec,
    owner: t.owner,
    worker: undefined,
    state: 'pending',
    restartsLeft: restartBudget(opts.maxRestarts),
    restarts: 0,
    name: opts.name,
    namespace: opts.namespace,
    detached: opts.detached,
    holdDemand: actorHoldDemand(opts, t.spec.demand),
    placeDemand,
    group: groupOfDemand(placeDemand),
    grant: null,
    pending: new Deque(),
    running: 0,
    cause: undefined,
    deathMessage: '',
    methods: opts.methods,
    className: opts.className,
    handle: opts.handle,
    maxTaskRetries: restartBudget(opts.maxTaskRetries),
    terminateWhenIdle: false,
    shared: opts.isolation === 'shared',
    perHost: opts.actorsPerProcess,
  };
}

/** What the cluster registers of a named actor. */
export function namedOf(a: ActorRec<WorkerSlot>): NamedActor {
  return {
    name: a.name ?? '',
    namespace: a.namespace,
    actorId: a.id,
    methods: a.methods,
    className: a.className,
    ...(a.handle ? { handle: a.handle } : {}),
  };
}

/**
 * Whether a was created by an owner on another node whose id starts with `prefix` (a task
 * id starts with its owner's id, which starts with its node's: ownership across nodes).
 */
export function ownedFrom(prefix: string): (a: ActorRec<WorkerSlot>) => boolean {
  return (a) => a.owner.kind === 'remote' && a.createSpec.taskId.toString('hex').startsWith(prefix);
}
