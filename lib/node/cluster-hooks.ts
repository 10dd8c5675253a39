// What the node manager asks of the cluster layer when its node is part of a
// cluster (lib/cluster/cluster-node.ts implements it). Without a cluster the
// node manager runs everything itself and never calls these.
import type { HandleHints } from '../protocol/actor-options.js';
import type { OwnedWorkEvent, SunrayEventMap } from '../protocol/events.js';
import type { JobStateRow } from '../protocol/job.js';
import type { LogChunk, LogLine, LogRead } from '../protocol/log-lines.js';
import type { GroupOp } from '../protocol/placement-group.js';
import type { FunctionDef, TaskSpec } from '../protocol/spec.js';
import type { LocalStateKind, RowSelection, TableNode } from '../protocol/state-rows.js';
import type { TaskStateRow } from '../protocol/task-events.js';
import type { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import type { ResultSink } from './owner-router.js';
import type { TaskRowsAnswer } from './task-events.js';

/** 'ownerDied': the node of the object's owner is gone, and the owner with it. */
export type FetchOutcome = 'ok' | 'lost' | 'timeout' | 'ownerDied';

/** A named actor as the cluster's directory records it. */
export interface NamedActor {
  name: string;
  namespace: string;
  actorId: Buffer;
  methods: string[];
  className: string;
  /** What its handles know beyond its methods; none: the defaults. */
  handle?: HandleHints;
}

/** The cluster layer as the node manager sees it (implemented by cluster/cluster-node.ts). */
export interface ClusterHooks {
  /**
   * The node a new task or actor should run on: undefined for here, an Error if none can, a
   * promise when it waits for its placement group to be placed (submit it again once settled).
   */
  place(spec: TaskSpec): string | undefined | Error | Promise<void>;
  /** A process's placement-group request, answered by the head. */
  placementGroupOp(o: GroupOp): Promise<unknown>;
  /** Sends a task to another node; its results come back to owner on this node. */
  forward(nodeId: string, spec: TaskSpec, def: FunctionDef, owner: ResultSink): void;
  /** An actor call for an actor this node does not host. false: no node knows the actor. */
  routeActorCall(spec: TaskSpec, owner: ResultSink): boolean;
  /** A result of a task that another node forwarded here. */
  sendResult(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void;
  /**
   * Makes the object readable in this node's store (pulls it from the node that has it).
   * 'lost': its owner's node is dead, so no copy is known; lineage reconstruction (re-running
   * the task that made it) would plug in here and in ClusterNode.onResult.
   */
  fetch(objectId: Buffer, timeoutMs: number | undefined): Promise<FetchOutcome>;
  /** Cancels a task forwarded elsewhere; false if this node never forwarded it. */
  cancel(taskId: Buffer, force: boolean, recursive: boolean): boolean;
  /** Passes an owner's consumed count to the node running its streaming task; false if not forwarded. */
  streamConsumed(taskId: Buffer, consumed: number): boolean;
  /** Kills an actor hosted elsewhere (the directory says where, if this node does not know). */
  killActor(actorId: Buffer, noRestart: boolean): void;
  /** An actor now lives on this node (recorded in the head's directory for other nodes). */
  actorHere(actorHex: string, named?: NamedActor): void;
  /**
   * Claims an actor's name cluster-wide before it is created: undefined if it is ours; the
   * live actor holding it if getIfExists; else rejects with InvalidArgumentError.
   */
  claimName(named: NamedActor, getIfExists: boolean): Promise<NamedActor | undefined>;
  /** A named actor hosted here died for good: frees its name. */
  nameGone(named: NamedActor): void;
  /** The owner here dropped its last handle to an actor hosted elsewhere; false if unknown. */
  releaseActor(actorId: Buffer): boolean;
  /** A named actor created on any node of the cluster. */
  lookupNamed(name: string, namespace: string): Promise<NamedActor | null>;
  /**
   * Ownership ops whose owners live on other nodes (sender: the process of this node that
   * made them). They reach each owner before anything this node sends afterwards that could
   * let another holder of those refs let go (the results of tasks).
   */
  sendRefOps(ops: Buffer, sender: ResultSink): void;
  /**
   * Reports a sunray.events event on the nodes of the owners of these task ids (work owned
   * elsewhere that this node ran: a worker exited, an actor restarted or died).
   */
  sendEvent<K extends OwnedWorkEvent>(
    ownerTaskIds: readonly Uint8Array[],
    name: K,
    ...args: SunrayEventMap[K]
  ): void;
  /**
   * Records the autoscaler's standing request on the head (sunray.autoscaler.requestResources):
   * it replaces the one before; an empty list clears it.
   */
  requestResources(bundles: Record<string, number>[]): Promise<void>;
  /** The state API's rows of a kind from every alive node, this one's included, and the nodes that did not answer. */
  stateRows(kind: LocalStateKind): Promise<{ rows: unknown[]; unreachable: string[] }>;
  /** Objects pulled from and chunks served to other nodes so far (metrics). */
  transfers(): { objectsPulled: number; bytesPulled: number; chunksServed: number; bytesServed: number };
  /** Tasks from the head's table (cluster/task-events-link.ts): this node's events shipped first. */
  taskRows(sel: RowSelection<TaskStateRow>): Promise<TaskRowsAnswer>;
  /** The cluster's jobs, from the head's job table. */
  jobRows(): Promise<JobStateRow[]>;
  /** Sends lines of this node's workers to the node of their job's driver (cluster/log-link.ts). */
  sendLogs(jobId: string, lines: LogLine[]): void;
  /** Reads a worker's log file on the node it is on. */
  readLog(req: LogRead): Promise<LogChunk>;
  /** A runtime env's working-directory archive from the head's package store (undefined: not there). */
  getPackage(hash: string): Promise<Buffer | undefined>;
  /** Stores a working-directory archive in the head's package store (once per hash). */
  putPackage(hash: string, gz: Buffer): Promise<void>;
  /** A process of this node that may own or borrow objects exited: other nodes are told. */
  ownerExited(ownerHex: string): void;
  /** The node table as this node last heard it (dead nodes included). */
  nodes(): ReadonlyArray<TableNode>;
  /** Resources of the whole cluster (alive nodes). */
  clusterResources(kind: 'total' | 'available'): Record<string, number>;
  close(): Promise<void>;
}
