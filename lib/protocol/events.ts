// The events a node reports to the program (sunray.events): a worker process exited, a node
// joined or died, an actor restarted or died, work no node has the resources for. The node and
// cluster layers report them here; a driver's program listens (its embedded node is in its own
// process), and where nobody listens (workers, `sunray start` daemons) a report costs one
// check. Listeners run on a later tick, never inside the node's bookkeeping: one that throws
// is the program's uncaught exception, as with any emitter, and leaves the node consistent.
import { EventEmitter } from 'node:events';

/** A worker process of the node exited. */
export interface WorkerExitEvent {
  /** The node it ran on (hex). */
  nodeId: string;
  /** Its process id. */
  pid: number;
  /** Its owner id (hex), as getRuntimeContext().workerId gives it inside it. */
  workerId: string;
  /** Its exit code, or null if a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it ('SIGKILL', ...), or null if it exited. */
  signal: string | null;
  /** How it ended, in words: "was killed by SIGKILL", "exited with code 1", "ran out of memory: ...". */
  how: string;
  /** It ran out of memory (its heap limit, or the kernel's OOM killer). */
  outOfMemory: boolean;
  /** The actor it hosted (hex), if it hosted one. */
  actorId: string | undefined;
  /** The node stopped it (idle too long, or to make room for an actor): not a failure. */
  expected: boolean;
}

/** A node joined the cluster (at init with an address: one for each node already there). */
export interface NodeAddedEvent {
  /** The node's id (hex). */
  nodeId: string;
  /** Its address, host:port. */
  address: string;
  /** Its resources in all ({ CPU: 4, GPU: 1, ... }). */
  resources: Record<string, number>;
  /** It is the cluster's head node. */
  isHead: boolean;
  /** It is a driver's embedded node (a program that joined with init({ address })). */
  isDriver: boolean;
}

/** A node of the cluster died: declared dead by the head, left, or could not be reached. */
export interface NodeDeadEvent {
  /** The node's id (hex). */
  nodeId: string;
  /** Its address, host:port. */
  address: string;
}

/** An actor's process died and the actor is being restarted (within its maxRestarts). */
export interface ActorRestartedEvent {
  /** The actor's id (hex). */
  actorId: string;
  /** Its class's name. */
  className: string;
  /** Its name, if it was given one. */
  name: string | undefined;
  /** Restarts so far, this one included. */
  restarts: number;
  /** Why it restarts: how its process died, or that its node died. */
  reason: string;
}

/** An actor died for good: killed, its constructor threw, its owner exited, its restarts used up. */
export interface ActorDiedEvent {
  /** The actor's id (hex). */
  actorId: string;
  /** Its class's name. */
  className: string;
  /** Its name, if it was given one. */
  name: string | undefined;
  /** Why, as calls to it will say. */
  reason: string;
}

/** Work asks for more resources than its node has in all: it waits for a node that can run it. */
export interface InfeasibleEvent {
  /** A task, an actor to be placed, or a placement group (reported where the group is kept). */
  kind: 'task' | 'actor' | 'placementGroup';
  /** The task's or actor class's name (a group's name, or its id). */
  name: string;
  /** What it asks for (a group: its bundles summed). */
  demand: Record<string, number>;
  /** The node it waits on, and that node's resources in all. */
  nodeId: string;
  /** That node's resources in all. */
  nodeResources: Record<string, number>;
}

/** Each event of sunray.events and what its listeners get. */
export interface SunrayEventMap {
  /** A worker process of the node exited. */
  workerExit: [WorkerExitEvent];
  /** A node joined the cluster. */
  nodeAdded: [NodeAddedEvent];
  /** A node of the cluster died. */
  nodeDead: [NodeDeadEvent];
  /** An actor's process died and the actor is being restarted. */
  actorRestarted: [ActorRestartedEvent];
  /** An actor died for good. */
  actorDied: [ActorDiedEvent];
  /** Work asks for more resources than its node has: it waits. */
  infeasible: [InfeasibleEvent];
}

/**
 * The events about a driver's work (a worker that ran its tasks, its actors) that a node
 * also reports to the node that owns the work, when that is another (cluster/event-relay.ts).
 */
export const OWNED_WORK_EVENTS = ['workerExit', 'actorRestarted', 'actorDied'] as const;

/** One of OWNED_WORK_EVENTS. */
export type OwnedWorkEvent = (typeof OWNED_WORK_EVENTS)[number];

/** sunray.events: an EventEmitter typed with its events (SunrayEventMap). */
export class SunrayEvents extends EventEmitter<SunrayEventMap> {}

/**
 * sunray.events: what happens to the driver's work (workerExit, nodeAdded, nodeDead,
 * actorRestarted, actorDied, infeasible), for logs and alerts. One per process, kept across
 * init() and shutdown(); listeners run on a later tick.
 */
export const events = new SunrayEvents();

/** Reports an event: its listeners run on the next tick (none: nothing is done). */
export function reportEvent<K extends keyof SunrayEventMap>(name: K, ...args: SunrayEventMap[K]): void {
  if (events.listenerCount(name) === 0) return;
  process.nextTick(() => (events.emit as (n: K, ...a: SunrayEventMap[K]) => boolean)(name, ...args));
}
