// The rows of the state API (listActors, listWorkers, listNodes): what each node reports of
// its actors and workers, and what the cluster's table says of its nodes. Written by the
// node (node/state-rows.ts), carried between nodes as JSON (cluster/), filtered and
// trimmed for the caller by the API (api/state.ts). States are Ray's names.
import { InvalidArgumentError } from '../base/errors.js';
import type { JobStateRow } from './job.js';
import { NODE_ID_LABEL } from './node-labels.js';
import type { PlacementGroupRow } from './placement-group.js';
import type { TaskStateName, TaskStateRow } from './task-events.js';

/** An actor's state, as Ray names it. */
export type ActorStateName = 'PENDING_CREATION' | 'ALIVE' | 'RESTARTING' | 'DEAD';

/** One actor, on the node that hosts it. */
export interface ActorStateRow {
  /** Its id (hex). */
  actorId: string;
  /** Its class's name. */
  className: string;
  /** Where it is in its life. */
  state: ActorStateName;
  /** Its name, if it was given one ('' otherwise). */
  name: string;
  /** The namespace of its name. */
  namespace: string;
  /** The node that hosts it. */
  nodeId: string;
  /** Its process (a shared actor's host) while it has one, else null. */
  pid: number | null;
  /** Restarts so far. */
  numRestarts: number;
  /** The job that created it (hex; '' when not known). */
  jobId: string;
  /** 'process' (a process of its own) or 'shared' (one of many in a host process). */
  isolation: 'process' | 'shared';
  /** It outlives its owner (lifetime: 'detached'). */
  detached: boolean;
  /** Restarts it may make in all (-1: without end). */
  maxRestarts: number;
  /** What it takes to be placed. */
  requiredResources: Record<string, number>;
  /** Why it died ('' while it lives). */
  deathCause: string;
}

/** One worker process (or a driver), on its node. */
export interface WorkerStateRow {
  /** Its id: the owner id of what it creates (hex). */
  workerId: string;
  /** 'WORKER' (started by its node) or 'DRIVER' (a program that called init()). */
  workerType: 'WORKER' | 'DRIVER';
  /** Its node. */
  nodeId: string;
  /** Its process id. */
  pid: number;
  /** Its process runs (not stopping). */
  isAlive: boolean;
  /**
   * A worker: STARTING, IDLE, LEASED (running tasks), ACTOR (hosting an actor or shared
   * actors), DEAD (stopping). A driver: RUNNING.
   */
  state: 'STARTING' | 'IDLE' | 'LEASED' | 'ACTOR' | 'DEAD' | 'RUNNING';
  /** The process actor it hosts (hex; '' for none). */
  actorId: string;
  /** The shared actors it hosts (a shared host; 0 otherwise). */
  sharedActors: number;
}

/** One node of the cluster (or the one node of an embedded session). */
export interface NodeStateRow {
  /** Its id (hex). */
  nodeId: string;
  /** host:port other nodes reach it at ('' for an embedded node on its own). */
  address: string;
  /** DEAD once the head declared it so (it left, or stopped answering). */
  state: 'ALIVE' | 'DEAD';
  /** It keeps the cluster's directory. */
  isHead: boolean;
  /** A driver's embedded node. */
  isDriver: boolean;
  /** Its resources in all. */
  resourcesTotal: Record<string, number>;
  /** Its labels (sunray.io/node-id among them). */
  labels: Record<string, string>;
}

/** A node as the cluster's table lists it (cluster/messages.ts NodeInfoMsg has these). */
export interface TableNode {
  nodeId: string;
  address: string;
  alive: boolean;
  isHead: boolean;
  isDriver: boolean;
  total: Record<string, number>;
  labels: Record<string, string>;
}

/** A node of the cluster's table as the state API lists it. */
export function nodeRow(n: TableNode): NodeStateRow {
  return {
    nodeId: n.nodeId,
    address: n.address,
    state: n.alive ? 'ALIVE' : 'DEAD',
    isHead: n.isHead,
    isDriver: n.isDriver,
    resourcesTotal: { ...n.total },
    labels: { ...n.labels, [NODE_ID_LABEL]: n.nodeId },
  };
}

/** Why an object is alive where a row saw it (`sunray memory`'s kinds, as Ray names them). */
export type ObjectReferenceType =
  | 'LOCAL_REFERENCE'
  | 'USED_BY_PENDING_TASK'
  | 'BORROWED'
  | 'PINNED_IN_MEMORY'
  | 'SPILLED'
  | 'PENDING';

/** One reference to an object, in one process (an object held in three processes has three rows). */
export interface ObjectStateRow {
  /** Its id (hex). */
  objectId: string;
  /** Its size in bytes, as far as the process knows (0 when it does not). */
  objectSize: number;
  /** Why it is alive in this process. */
  referenceType: ObjectReferenceType;
  /** Its task's state as its owner knows it: PENDING, READY, FAILED ('BORROWED': not the owner). */
  taskStatus: string;
  /** The node of the process. */
  nodeId: string;
  /** The process holding the reference. */
  pid: number;
  /** 'DRIVER' or 'WORKER'. */
  type: 'DRIVER' | 'WORKER';
  /** The worker id of its owner (hex). */
  ownerId: string;
  /** Handles (ObjectRefs) to it alive in the process. */
  localRefs: number;
  /** Whether it is in the node's shared-memory store. */
  inStore: boolean;
  /** Where it was made (with init({ recordCallSites: true }); '' otherwise). */
  callSite: string;
}

/** What the state API lists, and the row each gives. */
export interface StateRows {
  actors: ActorStateRow;
  workers: WorkerStateRow;
  nodes: NodeStateRow;
  tasks: TaskStateRow;
  objects: ObjectStateRow;
  jobs: JobStateRow;
  placementGroups: PlacementGroupRow;
}

/**
 * What a node is using now, and its running totals (the dashboard: a node's row of the
 * `usage` kind, which each node reports of itself). Rates are the caller's to compute from
 * two rows of the totals.
 */
export interface NodeUsageRow {
  /** Its id (hex). */
  nodeId: string;
  /** When the row was made (ms since the epoch). */
  timeMs: number;
  /** Its resources in all. */
  resourcesTotal: Record<string, number>;
  /** Its resources free now. */
  resourcesAvailable: Record<string, number>;
  /** Its object store now (null once closed). */
  store: {
    capacity: number;
    used: number;
    objects: number;
    pinned: number;
    spilledObjects: number;
    spilledBytes: number;
  } | null;
  /** Task attempts that ended on it so far (with task events on). */
  tasksEnded: number;
  /** Of those, the ones that failed. */
  tasksFailed: number;
  /** Its tasks now, by state (PENDING_NODE_ASSIGNMENT, SUBMITTED_TO_WORKER, RUNNING). */
  tasksNow: Record<string, number>;
  /** Its worker processes, by state (STARTING, IDLE, LEASED, ACTOR, DEAD). */
  workers: Record<string, number>;
  /** The machine: logical CPUs, load average over a minute, memory in all and free (bytes). */
  cpus: number;
  load1: number;
  memTotal: number;
  memAvailable: number;
}

/**
 * A kind of row a node reports of itself (nodes come from the cluster's table; liveTasks: its
 * tasks now, as task records, which the head folds into its table of tasks; usage: one
 * NodeUsageRow; logFiles: its workers' log files; logRead: a read of one, the selection a
 * protocol/log-lines.ts LogRead).
 */
export type LocalStateKind =
  | 'actors'
  | 'workers'
  | 'liveTasks'
  | 'objects'
  | 'usage'
  | 'logFiles'
  | 'logRead';

/** Every kind the state API lists. */
export type StateKind = keyof StateRows;

/** The state kinds, for checks and the CLI. */
export const STATE_KINDS: readonly StateKind[] = [
  'actors',
  'workers',
  'nodes',
  'tasks',
  'objects',
  'jobs',
  'placementGroups',
];

/** Every column of each kind (filters may name any of them). */
export const COLUMNS: { readonly [K in StateKind]: readonly (keyof StateRows[K])[] } = {
  actors: [
    'actorId',
    'className',
    'state',
    'name',
    'namespace',
    'nodeId',
    'pid',
    'numRestarts',
    'jobId',
    'isolation',
    'detached',
    'maxRestarts',
    'requiredResources',
    'deathCause',
  ],
  workers: ['workerId', 'workerType', 'nodeId', 'pid', 'isAlive', 'state', 'actorId', 'sharedActors'],
  nodes: ['nodeId', 'address', 'state', 'isHead', 'isDriver', 'resourcesTotal', 'labels'],
  tasks: [
    'taskId',
    'attemptNumber',
    'name',
    'state',
    'jobId',
    'actorId',
    'type',
    'funcOrClassName',
    'nodeId',
    'workerId',
    'workerPid',
    'ownerPid',
    'ownerNodeId',
    'requiredResources',
    'errorType',
    'errorMessage',
    'errorStack',
    'creationTimeMs',
    'startTimeMs',
    'endTimeMs',
    'events',
  ],
  objects: [
    'objectId',
    'objectSize',
    'referenceType',
    'taskStatus',
    'nodeId',
    'pid',
    'type',
    'ownerId',
    'localRefs',
    'inStore',
    'callSite',
  ],
  jobs: [
    'jobId',
    'type',
    'submissionId',
    'status',
    'entrypoint',
    'namespace',
    'driverPid',
    'driverNodeId',
    'startTime',
    'endTime',
    'message',
  ],
  placementGroups: [
    'placementGroupId',
    'name',
    'namespace',
    'state',
    'strategy',
    'bundles',
    'lifetime',
    'creatorJobId',
    'pendingReason',
    'createdAt',
    'scheduledAt',
    'removedAt',
  ],
};

/** The columns each kind shows without `detail` (Ray's default columns); the rest need it. */
export const DEFAULT_COLUMNS: { readonly [K in StateKind]: readonly (keyof StateRows[K])[] } = {
  actors: ['actorId', 'className', 'state', 'name', 'namespace', 'nodeId', 'pid', 'numRestarts'],
  workers: ['workerId', 'workerType', 'nodeId', 'pid', 'isAlive', 'state'],
  nodes: ['nodeId', 'address', 'state', 'isHead'],
  tasks: [
    'taskId',
    'attemptNumber',
    'name',
    'state',
    'jobId',
    'actorId',
    'type',
    'funcOrClassName',
    'nodeId',
    'workerId',
    'workerPid',
    'errorType',
  ],
  objects: ['objectId', 'objectSize', 'referenceType', 'taskStatus', 'nodeId', 'pid', 'type', 'callSite'],
  jobs: ['jobId', 'type', 'status', 'entrypoint', 'startTime', 'endTime'],
  placementGroups: ['placementGroupId', 'name', 'state', 'strategy', 'creatorJobId'],
};

/** One filter: a column, '=' or '!=', and the value (compared as text, as Ray's CLI does). */
export type StateFilter<Row> = readonly [
  key: keyof Row & string,
  op: '=' | '!=',
  value: string | number | boolean,
];

/** How rows are chosen and shown: filters, a limit, every column or the default ones. */
export interface RowSelection<Row> {
  /** Rows must match every filter, e.g. `[['state', '=', 'ALIVE']]`. */
  filters?: readonly StateFilter<Row>[];
  /** At most this many rows (default DEFAULT_LIST_LIMIT, as Ray's). */
  limit?: number;
  /** Every column; without it, Ray's default columns only. */
  detail?: boolean;
}

/** Ray's default limit of the list calls. */
export const DEFAULT_LIST_LIMIT = 100;

/** Checks a selection before any row is asked for: a bad filter or limit throws InvalidArgumentError. */
export function checkSelection<K extends StateKind>(kind: K, sel: RowSelection<StateRows[K]>): void {
  const limit = sel.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`limit must be a whole number >= 1, got ${String(limit)}`);
  }
  const known = COLUMNS[kind].map(String);
  for (const f of sel.filters ?? []) checkFilter(f, known, kind);
}

/** The rows that match the filters, up to the limit, with the columns asked for. */
export function selectRows<K extends StateKind>(
  kind: K,
  rows: readonly StateRows[K][],
  sel: RowSelection<StateRows[K]>,
): Partial<StateRows[K]>[] {
  checkSelection(kind, sel);
  const filters = sel.filters ?? [];
  const kept = rows
    .filter((r) => filters.every((f) => matches(r, f)))
    .slice(0, sel.limit ?? DEFAULT_LIST_LIMIT);
  return sel.detail ? kept : kept.map((r) => pick(r, DEFAULT_COLUMNS[kind]));
}

/** How many actors of each class are in each state. */
export function summarizeActorRows(rows: readonly ActorStateRow[]): {
  total: number;
  byClass: Record<string, Partial<Record<ActorStateName, number>>>;
} {
  const byClass: Record<string, Partial<Record<ActorStateName, number>>> = {};
  for (const r of rows) {
    const counts = (byClass[r.className] ??= {});
    counts[r.state] = (counts[r.state] ?? 0) + 1;
  }
  return { total: rows.length, byClass };
}

/** summarizeObjects(): objects by call site (Ray's summarize_objects), with their references. */
export interface ObjectSummaryRows {
  /** Distinct objects. */
  totalObjects: number;
  /** Their bytes (each object counted once). */
  totalSizeBytes: number;
  /** By the call site that made them ('disabled' without init({ recordCallSites: true })). */
  byCallSite: Record<
    string,
    {
      /** Distinct objects made there. */
      objects: number;
      /** Their bytes. */
      sizeBytes: number;
      /** References to them, by type. */
      references: Partial<Record<ObjectReferenceType, number>>;
    }
  >;
}

/** Objects grouped by where they were made ('' without recordCallSites: 'disabled'). */
export function summarizeObjectRows(rows: readonly ObjectStateRow[]): ObjectSummaryRows {
  const byCallSite: ObjectSummaryRows['byCallSite'] = {};
  const seen = new Map<string, number>();
  const counted = new Set<string>();
  for (const r of rows) seen.set(r.objectId, Math.max(seen.get(r.objectId) ?? 0, r.objectSize));
  for (const r of rows) {
    const site = r.callSite || 'disabled';
    const entry = (byCallSite[site] ??= { objects: 0, sizeBytes: 0, references: {} });
    entry.references[r.referenceType] = (entry.references[r.referenceType] ?? 0) + 1;
    if (counted.has(`${site}\u0000${r.objectId}`)) continue;
    counted.add(`${site}\u0000${r.objectId}`);
    entry.objects++;
    entry.sizeBytes += seen.get(r.objectId) ?? 0;
  }
  let totalSizeBytes = 0;
  for (const size of seen.values()) totalSizeBytes += size;
  return { totalObjects: seen.size, totalSizeBytes, byCallSite };
}

/** summarizeTasks(): how many tasks of each name are in each state (Ray's summarize_tasks). */
export interface TaskSummaryRows {
  total: number;
  byName: Record<string, { type: string; states: Partial<Record<TaskStateName, number>> }>;
}

/** How many tasks of each name are in each state. */
export function summarizeTaskRows(rows: readonly TaskStateRow[]): TaskSummaryRows {
  const byName: TaskSummaryRows['byName'] = {};
  for (const r of rows) {
    const entry = (byName[r.name] ??= { type: r.type, states: {} });
    entry.states[r.state] = (entry.states[r.state] ?? 0) + 1;
  }
  return { total: rows.length, byName };
}

function checkFilter(f: readonly unknown[], known: readonly string[], kind: StateKind): void {
  const [key, op] = f;
  if (f.length !== 3 || typeof key !== 'string' || (op !== '=' && op !== '!=')) {
    throw new InvalidArgumentError(
      `a filter is [key, '=' | '!=', value], e.g. ['state', '=', 'ALIVE'], got ${JSON.stringify(f)}`,
    );
  }
  if (!known.includes(key)) {
    throw new InvalidArgumentError(`no column '${key}' to filter ${kind} by: use one of ${known.join(', ')}`);
  }
}

function matches(row: object, [key, op, value]: readonly [string, '=' | '!=', unknown]): boolean {
  const v = (row as Record<string, unknown>)[key];
  const same = String(v ?? '') === String(value);
  return op === '=' ? same : !same;
}

function pick<Row extends object>(row: Row, columns: readonly (keyof Row)[]): Partial<Row> {
  const out: Partial<Row> = {};
  for (const c of columns) out[c] = row[c];
  return out;
}
