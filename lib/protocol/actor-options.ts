// The options an actor is created with. They travel as JSON in the `method` field of its
// ActorCreate spec (a creation calls no method), written by the API (api/actor.ts) and read
// by the node that places it (cluster/) and the node that hosts it (node/actor-manager.ts):
// one type and one encoder/decoder for all of them, and Ray's defaults stated once here.

import { groupDemand, groupPlaceOfDemand } from './placement-group.js';
import type { Demand } from './resources.js';

/**
 * What every handle to an actor knows beyond its class and method names, so that one found
 * by name (getActor, getIfExists) acts as its creator's does: its maxPendingCalls, its
 * concurrency group names, its generator methods (whose calls stream). Each is left out
 * when it is the default (no limit, no groups, no generators).
 */
export interface HandleHints {
  maxPendingCalls?: number;
  groups?: string[];
  generators?: string[];
}

/** How an actor is registered before it is created (its name, and whether to reuse a live one). */
export interface ActorRegistration {
  /** Register the actor under this name (unique in its namespace; cluster-wide in a cluster). */
  name?: string;
  namespace: string;
  /** With a name: return the live actor of that name rather than fail. */
  getIfExists: boolean;
  /** Outlives its owner until killed or the node stops. */
  detached: boolean;
  /** What its handles know beyond its methods (none: the defaults). */
  handle?: HandleHints;
}

/** Everything an ActorCreate spec says of its actor beyond the spec's own fields. */
export interface ActorCreateOptions extends ActorRegistration {
  /** Restarts after its process dies; negative: without end (see restartBudget). */
  maxRestarts: number;
  /** Retries of a call that was running when its process died; negative: without end. */
  maxTaskRetries: number;
  /** Its class's method names (handles are built from them). */
  methods: string[];
  className: string;
  /**
   * It asked for resources (numCpus, numGpus or resources): the spec's demand is held for
   * its whole life. Otherwise it takes ACTOR_PLACE_DEMAND only to be placed, and holds none.
   */
  explicitResources: boolean;
  /** Its named concurrency groups and their limits (Ray's concurrency_groups); none if undefined. */
  concurrencyGroups?: Record<string, number>;
  /**
   * 'shared': it lives in a host process with other shared actors (at most actorsPerProcess
   * of them) instead of a process of its own ('process', the default).
   */
  isolation: ActorIsolation;
  /** The most shared actors a host process it joins may hold (DEFAULT_ACTORS_PER_PROCESS). */
  actorsPerProcess: number;
}

/** Where an actor runs: a process of its own (Ray's semantics) or a host shared with others. */
export type ActorIsolation = 'process' | 'shared';

/** How many shared actors a host process holds at most, unless the actor says otherwise. */
export const DEFAULT_ACTORS_PER_PROCESS = 1000;

/** What an actor that asked for no resources takes to be placed (Ray's default: one CPU). */
export const ACTOR_PLACE_DEMAND: Readonly<Demand> = Object.freeze({ CPU: 1 });

/** The options as they travel in the spec's `method` field. */
export function encodeActorOptions(o: ActorCreateOptions): string {
  return JSON.stringify({
    ...(o.name !== undefined ? { name: o.name } : {}),
    namespace: o.namespace,
    getIfExists: o.getIfExists,
    detached: o.detached,
    maxRestarts: wireBudget(o.maxRestarts),
    maxTaskRetries: wireBudget(o.maxTaskRetries),
    methods: o.methods,
    className: o.className,
    explicitResources: o.explicitResources,
    ...(o.concurrencyGroups ? { concurrencyGroups: o.concurrencyGroups } : {}),
    ...(o.handle ? { handle: o.handle } : {}),
    ...(o.isolation === 'shared' ? { isolation: 'shared', actorsPerProcess: o.actorsPerProcess } : {}),
  });
}

/** The options of an ActorCreate spec's `method` field (defaults for what it leaves out). */
export function decodeActorOptions(method: string): ActorCreateOptions {
  const o = (method ? JSON.parse(method) : {}) as Partial<ActorCreateOptions>;
  return {
    ...(typeof o.name === 'string' ? { name: o.name } : {}),
    namespace: o.namespace ?? 'default',
    getIfExists: o.getIfExists ?? false,
    detached: o.detached ?? false,
    maxRestarts: o.maxRestarts ?? 0,
    maxTaskRetries: o.maxTaskRetries ?? 0,
    methods: o.methods ?? [],
    className: o.className ?? 'actor',
    explicitResources: o.explicitResources ?? false,
    ...(o.concurrencyGroups && typeof o.concurrencyGroups === 'object'
      ? { concurrencyGroups: o.concurrencyGroups }
      : {}),
    ...(o.handle && typeof o.handle === 'object' ? { handle: o.handle } : {}),
    isolation: o.isolation === 'shared' ? 'shared' : 'process',
    actorsPerProcess:
      typeof o.actorsPerProcess === 'number' && o.actorsPerProcess >= 1
        ? o.actorsPerProcess
        : DEFAULT_ACTORS_PER_PROCESS,
  };
}

/** How many restarts (or call retries) a budget allows: a negative one is without end. */
export function restartBudget(n: number): number {
  return n < 0 ? Number.POSITIVE_INFINITY : n;
}

/**
 * What an actor takes to be placed: what it asked for, else ACTOR_PLACE_DEMAND (nothing for a
 * shared actor: its host process runs many, so none of them claims a CPU by default).
 */
export function actorPlaceDemand(o: ActorCreateOptions, specDemand: Demand): Demand {
  if (o.explicitResources) return specDemand;
  // In a placement group, its demand holds the bundle's marker: the CPU it takes to be placed
  // comes from the bundle.
  const g = groupPlaceOfDemand(specDemand);
  if (g) return o.isolation === 'shared' ? specDemand : groupDemand(ACTOR_PLACE_DEMAND, g.pg, g.index);
  return o.isolation === 'shared' ? {} : ACTOR_PLACE_DEMAND;
}

/** What an actor holds while it lives: what it asked for, else nothing. */
export function actorHoldDemand(o: ActorCreateOptions, specDemand: Demand): Demand {
  return o.explicitResources ? specDemand : {};
}

/** A budget as JSON carries it: Infinity (which JSON cannot hold) as -1. */
function wireBudget(n: number): number {
  return n === Number.POSITIVE_INFINITY ? -1 : n;
}
