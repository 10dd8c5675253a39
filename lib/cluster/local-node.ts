// The view of this node's node manager that the cluster layer works with: what it
// reads (resources, load, the store) and what it asks of it (run a task, hand a
// result to its owner, fail a task, route ownership ops). NodeManager has all of it;
// the unit tests of the cluster's parts give a fake instead, so no process is needed.
import type { ClusterHooks } from '../node/cluster-hooks.js';
import type { LocalBundles } from '../node/local-bundles.js';
import type { HandedOver } from '../node/local-task-manager.js';
import type { LoadSnapshot, NodeStats } from '../node/node-stats.js';
import type { ResultSink } from '../node/owner-router.js';
import type { PlacementGroups } from '../node/placement-groups.js';
import type { TaskEventRecorder } from '../node/task-events.js';
import type { DriverJob } from '../protocol/job.js';
import type { LogLine } from '../protocol/log-lines.js';
import type { FunctionDef, TaskSpec } from '../protocol/spec.js';
import type { LocalStateKind } from '../protocol/state-rows.js';
import type { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import type { ObjectStore } from '../store/index.js';
import type { Resources } from './messages.js';

export type { LoadSnapshot } from '../node/node-stats.js';

/**
 * The node manager as the cluster sees it. Owners are the node manager's ResultSinks
 * (node/owner-router.ts): a worker of this node, the driver, or `remoteOwner` for tasks
 * other nodes forwarded here.
 */
export interface LocalNode {
  readonly nodeId: string;
  readonly store: ObjectStore;
  readonly pool: { total(): Resources; available(): Resources };
  readonly opts: {
    readonly objectStoreMemory: number;
    readonly labels?: Record<string, string>;
    /** A driver's job (the head's job table starts it when this node registers). */
    readonly driverJob?: DriverJob;
  };
  /** The owner of tasks other nodes forwarded here: their results go back over the cluster. */
  readonly remoteOwner: ResultSink;
  /** Set by ClusterNode.start: the node manager then asks the cluster (ClusterHooks). */
  cluster: ClusterHooks | undefined;
  loadSnapshot(): LoadSnapshot;
  /** Counts of its workers, tasks and actors (node-idle.ts: whether it is idle). */
  stats(): NodeStats;
  /** This node's rows of the state API (node/state-rows.ts). */
  readonly localState: { rows(kind: LocalStateKind, selectionJson?: string): unknown[] | Promise<unknown[]> };
  /** Where worker lines go: another node's, for this node's driver, are printed here. */
  readonly logs: { fromNode(lines: LogLine[], nodeId: string): void };
  /** Its task records: the cluster's table of tasks when it is the head (task-events-link.ts). */
  readonly taskEvents: TaskEventRecorder;
  /** The placement groups this node keeps (used on the head: node/placement-groups.ts). */
  readonly placementGroups: PlacementGroups;
  /** The bundles reserved on this node (node/local-bundles.ts). */
  readonly bundles: LocalBundles;
  /** Takes the queued tasks this node can never run (a node that joined may), while room() says one has room. */
  takeInfeasible(room?: (demand: Resources) => boolean): HandedOver[];
  /** Runs a task or creates an actor: here, or placed elsewhere through the cluster again. */
  submit(spec: TaskSpec, def: FunctionDef, owner: ResultSink): void;
  /** Fails every return of a task for its owner. */
  notifyFailed(spec: TaskSpec, owner: ResultSink, err: Error): void;
  /** Hands a result to its owner on this node. */
  deliver(
    owner: ResultSink,
    objectId: Buffer,
    status: DoneStatus,
    kind: ReturnKind,
    payload: Buffer | undefined,
  ): void;
  cancelTask(taskId: Buffer, force: boolean, recursive: boolean): void;
  /** The owner (on another node) of a streaming task running here took `consumed` of its items. */
  streamConsumed(taskId: Buffer, consumed: number): void;
  killActor(actorId: Buffer, noRestart: boolean): void;
  releaseActor(actorId: Buffer): void;
  /** Ownership ops another node sent for owners here: the owners (hex) among them that are gone. */
  routeRemoteRefOps(ops: Buffer): string[];
  /** Every owner whose id starts with prefix (hex) is dead. */
  ownersDied(prefix: string): void;
  /** Tells the process `to` of this node that the owner ownerHex is dead. */
  tellOwnerDied(to: ResultSink, ownerHex: string): void;
}
