// What a process's CoreWorker needs from the node it runs on. The driver's
// backend calls the embedded node manager directly; a worker's sends frames
// over its rings (worker-backend.ts).
import type { HandleHints } from '../protocol/actor-options.js';
import type { LogChunk, LogRead } from '../protocol/log-lines.js';
import type { GroupOp } from '../protocol/placement-group.js';
import type { FunctionDef, TaskSpec } from '../protocol/spec.js';
import type { RowSelection, StateKind } from '../protocol/state-rows.js';
import type { TaskRecord } from '../protocol/task-events.js';
import type { UserMetricUpdate } from '../protocol/user-metrics.js';

export interface ActorCreateReply {
  /** The actor the handle should address (differs from the requested id with getIfExists). */
  actorId: Buffer;
  methods: string[];
  className: string;
  /** What its handles know beyond its methods (HandleHints); none: the defaults. */
  handle?: HandleHints;
}

/** One node of the cluster, as `sunray.nodes()` gives it. */
export interface NodeInfo {
  /** The node's id (hex), as getRuntimeContext().nodeId gives it inside its tasks. */
  nodeId: string;
  /** host:port of its cluster listener; '' for an embedded node that is in no cluster. */
  address: string;
  /** false once the head has declared it dead (or it left); dead nodes stay listed. */
  alive: boolean;
  /** The head node (it keeps the cluster's directory). */
  isHead: boolean;
  /** A driver's embedded node (it joined with init({ address }) and runs no tasks of its own by default). */
  isDriver: boolean;
  /** All of its resources: CPU, GPU, memory-less custom ones ({ CPU: 8, GPU: 1, disk: 2 }). */
  resources: Record<string, number>;
  /** Its labels: those it was started with (init's `labels`, `sunray start --labels`) and `sunray.io/node-id` (its id). */
  labels: Record<string, string>;
}

/** Rows of the state API (protocol/state-rows.ts), and the nodes that did not answer. */
export interface StateAnswer {
  rows: unknown[];
  unreachable: string[];
  /** For tasks: what the head's table dropped (its limit; nodes that fell behind). */
  dropped?: { tasks: number; events: number };
}

export interface NodeRequests {
  getActor(name: string, namespace: string): ActorCreateReply | null | Promise<ActorCreateReply | null>;
  killActor(actorId: Buffer, noRestart: boolean): void;
  /** Cancels a task: queued, running, or on another node; recursive (default): its children too. */
  cancelTask(taskId: Buffer, force: boolean, recursive?: boolean): void;
  /** The owner of a streaming task has consumed `taken` of its items (protocol/streaming.ts). */
  streamConsumed(taskId: Buffer, taken: number): void;
  /** A worker cancelled the children of a task a forced recursive cancel kills next (node/task-cancel.ts). */
  childrenCancelled(taskId: Buffer): void;
  availableResources(): Record<string, number>;
  clusterResources(): Record<string, number>;
  /** The cluster's nodes (this one alone without a cluster). */
  nodes(): NodeInfo[];
  registerActor(
    actorId: Buffer,
    opts: { name?: string; namespace: string; getIfExists: boolean; detached: boolean },
    methods: string[],
    className: string,
  ): ActorCreateReply | Promise<ActorCreateReply>; // a promise when a named actor's name is claimed cluster-wide
  actorState(actorId: Buffer): { state: string; restarts: number; pid: number } | null;
  memorySummary(): unknown;
  releaseActor(actorId: Buffer): void;
  /** The actor's process ends it (sunray.exitActor()): dead for good, not restarted. */
  actorExited(actorId: Buffer): void;
  /** The state API's rows of a kind: this node's, or every node's in a cluster (api/state.ts). */
  listState(
    kind: StateKind,
    selection?: RowSelection<Record<string, unknown>>,
  ): StateAnswer | Promise<StateAnswer>;
  /** Every worker log file of this node, or of every node in a cluster (api/logs.ts). */
  logFiles(): StateAnswer | Promise<StateAnswer>;
  /** Reads a worker's log file on the node it is on. */
  readLog(req: LogRead): LogChunk | Promise<LogChunk>;
  /** An operation on the cluster's placement groups (the head's manager answers it). */
  placementGroup(op: GroupOp): Promise<unknown>;
  /** Records the autoscaler's standing request on the head (nothing without a cluster). */
  requestResources(bundles: Record<string, number>[]): void | Promise<void>;
  /** Makes an object readable in this node's store, pulling it from another node if needed. */
  pullObject(
    objectId: Buffer,
    timeoutMs: number | undefined,
  ): Promise<'ok' | 'lost' | 'timeout' | 'ownerDied'>;
}

export interface Backend {
  readonly nodeId: string;
  readonly workerId: string;
  readonly isDriver: boolean;
  submit(spec: TaskSpec, def: FunctionDef): void;
  /** Ownership ops (ownership/ref-ops.ts), in order with everything else this process sends. */
  refOp(op: Buffer): void;
  /** Task records only this process could make (worker/task-event-buffer.ts), for its node to keep. */
  taskEvents(events: TaskRecord[]): void;
  /** Updates of programs' metrics (sunray/metrics) made in this process, for its node to serve. */
  userMetrics(updates: UserMetricUpdate[]): void;
  /** A batch of direct actor calls this process ran (Msg.DirectCallsRan's body): a worker's only. */
  directCallsRan?(body: Buffer): void;
  /** Cancels an actor call this process sent straight to its actor; false if it did not. */
  cancelDirect?(taskKey: string, recursive: boolean): boolean;
  /** Tells the actor of a direct streaming call what its caller consumed; false if not a direct call. */
  streamConsumedDirect?(taskKey: string, taken: number): boolean;
  /** The current task waits in get/wait: its CPU may be lent to others. */
  /**
   * The current task waits in get/wait: its CPU may be lent to others. Returns a token to
   * hand to unblocked() (the executor's: which concurrency group waits; the wait may end in
   * another async context).
   */
  blocked(): unknown;
  unblocked(token?: unknown): void;
  request<K extends keyof NodeRequests>(
    kind: K,
    ...args: Parameters<NodeRequests[K]>
  ): Promise<ReturnType<NodeRequests[K]>>;
  /** Synchronous requests are only possible where the node manager is in-process (the driver). */
  requestSync?<K extends keyof NodeRequests>(
    kind: K,
    ...args: Parameters<NodeRequests[K]>
  ): ReturnType<NodeRequests[K]>;
}
