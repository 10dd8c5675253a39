// The state API (Ray's `ray.util.state`): listActors, listWorkers, listNodes, listTasks,
// listObjects, listJobs, the summaries and getTask, over every node of the cluster (a node
// on its own: itself). Actor and worker rows come from the nodes, task rows from the head's
// task table (protocol/task-events.ts), jobs from the head's job table; protocol/state-rows.ts
// filters, limits and picks the columns shown without `detail`, for this API and `sunray
// list` alike.
import type { JobStateRow } from '../protocol/job.js';
import type { PlacementGroupRow } from '../protocol/placement-group.js';
import {
  type ActorStateName,
  type ActorStateRow,
  checkSelection,
  type NodeStateRow,
  type ObjectStateRow,
  type ObjectSummaryRows,
  type RowSelection,
  type StateKind,
  type StateRows,
  selectRows,
  summarizeActorRows,
  summarizeObjectRows,
  summarizeTaskRows,
  type TaskSummaryRows,
  type WorkerStateRow,
} from '../protocol/state-rows.js';
import type { TaskStateName, TaskStateRow } from '../protocol/task-events.js';
import type { StateAnswer } from '../worker/backend.js';
import { currentRuntimeOrStart } from './runtime.js';

export { DEFAULT_LIST_LIMIT, type RowSelection, type StateFilter } from '../protocol/state-rows.js';

/** Options of the list calls: filters, limit (default 100), detail (every column). */
export type ListOptions<Row> = RowSelection<Row>;

/** A list call's rows, and the nodes that did not answer in time. */
export type ListResult<Row> = Row[] & {
  /** Nodes that did not answer in time (their rows are missing). */
  unreachableNodes: string[];
  /**
   * listTasks: tasks the head's table dropped past its taskEventsLimit, and events nodes
   * dropped before shipping them; 0 for the other lists.
   */
  droppedTasks: number;
  /** listTasks: events nodes dropped before shipping them (0 for the other lists). */
  droppedEvents: number;
};

/** Every actor of the cluster, dead ones included (Ray's list_actors). */
export function listActors(
  opts: ListOptions<ActorStateRow> = {},
): Promise<ListResult<Partial<ActorStateRow>>> {
  return list('actors', opts);
}

/** Every worker process of the cluster, and the drivers embedded in its nodes (Ray's list_workers). */
export function listWorkers(
  opts: ListOptions<WorkerStateRow> = {},
): Promise<ListResult<Partial<WorkerStateRow>>> {
  return list('workers', opts);
}

/** Every node of the cluster, dead ones included (Ray's list_nodes). */
export function listNodes(opts: ListOptions<NodeStateRow> = {}): Promise<ListResult<Partial<NodeStateRow>>> {
  return list('nodes', opts);
}

/**
 * Every task the cluster recorded (Ray's list_tasks): its state, where it ran, its times and,
 * for a failed one, its error. Events reach the head within a second of happening (this
 * process's own at once); the head keeps the last taskEventsLimit tasks.
 */
export function listTasks(opts: ListOptions<TaskStateRow> = {}): Promise<ListResult<Partial<TaskStateRow>>> {
  return list('tasks', opts);
}

/** One task's whole row (every column, its state changes and error), or null if none is kept (Ray's get_task). */
export async function getTask(taskId: string): Promise<TaskStateRow | null> {
  const rows = await listTasks({ filters: [['taskId', '=', taskId]], limit: 1, detail: true });
  return (rows[0] as TaskStateRow | undefined) ?? null;
}

/** summarizeTasks(): how many tasks of each name are in each state. */
export interface TaskSummary {
  /** Tasks in all. */
  total: number;
  /** By task name: its type and the count in each state. */
  byName: Record<
    string,
    {
      /** Its type (NORMAL_TASK, ACTOR_CREATION_TASK, ACTOR_TASK). */
      type: string;
      /** How many are in each state. */
      states: Partial<Record<TaskStateName, number>>;
    }
  >;
  /** Tasks the head's table dropped past its limit (not counted above). */
  droppedTasks: number;
}

/** How many tasks of each name are in each state, over the cluster (Ray's summarize_tasks). */
export async function summarizeTasks(): Promise<TaskSummary> {
  const { rows, dropped } = await fetchRows('tasks');
  const s: TaskSummaryRows = summarizeTaskRows(rows);
  return { ...s, droppedTasks: dropped?.tasks ?? 0 };
}

/**
 * Every reference to an object in every process of the cluster (Ray's list_objects): one row
 * per process that holds one, with why it is alive there (`sunray memory`'s view, as rows).
 */
export function listObjects(
  opts: ListOptions<ObjectStateRow> = {},
): Promise<ListResult<Partial<ObjectStateRow>>> {
  return list('objects', opts);
}

/**
 * Every job of the cluster (Ray's list_jobs): each driver program that joined it, RUNNING,
 * SUCCEEDED (it shut down or exited with code 0) or FAILED (another exit code, or its node
 * died), with its entrypoint, driver and times. On a node of its own: this driver's job.
 */
export function listJobs(opts: ListOptions<JobStateRow> = {}): Promise<ListResult<Partial<JobStateRow>>> {
  return list('jobs', opts);
}

/**
 * Every placement group of the cluster, removed ones too (Ray's list_placement_groups): its
 * state, strategy, bundles and the node each is reserved on, and why it waits if it does.
 */
export function listPlacementGroups(
  opts: ListOptions<PlacementGroupRow> = {},
): Promise<ListResult<Partial<PlacementGroupRow>>> {
  return list('placementGroups', opts);
}

/** summarizeObjects(): objects by the call site that made them. */
export interface ObjectSummary extends ObjectSummaryRows {
  /** Nodes that did not answer in time. */
  unreachableNodes: string[];
}

/**
 * Objects over the cluster by the call site that made them, with their count, bytes and
 * references by type (Ray's summarize_objects; call sites with init({ recordCallSites: true })).
 */
export async function summarizeObjects(): Promise<ObjectSummary> {
  const { rows, unreachable } = await fetchRows('objects');
  return { ...summarizeObjectRows(rows), unreachableNodes: unreachable };
}

/** summarizeActors(): how many actors of each class are in each state. */
export interface ActorSummary {
  /** Actors in all. */
  total: number;
  /** By class name: the count in each state. */
  byClass: Record<string, Partial<Record<ActorStateName, number>>>;
  /** Nodes that did not answer in time. */
  unreachableNodes: string[];
}

/** How many actors of each class are in each state, over the cluster (Ray's summarize_actors). */
export async function summarizeActors(): Promise<ActorSummary> {
  const { rows, unreachable } = await fetchRows('actors');
  return { ...summarizeActorRows(rows), unreachableNodes: unreachable };
}

async function list<K extends StateKind>(
  kind: K,
  opts: ListOptions<StateRows[K]>,
): Promise<ListResult<Partial<StateRows[K]>>> {
  checkSelection(kind, opts); // before anything is asked of the nodes
  // Tasks are filtered and limited by the head (its table may hold 100,000): only what is shown travels.
  const answer = await ask(
    kind,
    kind === 'tasks' ? { filters: opts.filters ?? [], limit: opts.limit } : undefined,
  );
  const shown = selectRows(kind, answer.rows as StateRows[K][], opts) as ListResult<Partial<StateRows[K]>>;
  shown.unreachableNodes = answer.unreachable;
  shown.droppedTasks = answer.dropped?.tasks ?? 0;
  shown.droppedEvents = answer.dropped?.events ?? 0;
  return shown;
}

/** Every row of a kind (tasks: all the head keeps). */
export async function fetchRows<K extends StateKind>(
  kind: K,
): Promise<{ rows: StateRows[K][]; unreachable: string[]; dropped?: StateAnswer['dropped'] }> {
  const answer = await ask(kind, kind === 'tasks' ? { limit: Number.MAX_SAFE_INTEGER } : undefined);
  return { ...answer, rows: answer.rows as StateRows[K][] };
}

/** The nodes' answer for a kind; for tasks, this process's own events go ahead of the question. */
async function ask(
  kind: StateKind,
  where: RowSelection<Record<string, unknown>> | undefined,
): Promise<StateAnswer> {
  const rt = currentRuntimeOrStart();
  if (kind === 'tasks') rt.core.taskEvents.flush();
  return await rt.backend.request('listState', kind, where);
}
