// The state API (Ray's `ray.util.state`): listActors, listWorkers, listNodes and
// summarizeActors, over every node of the cluster (a node on its own: itself). Rows come
// from the nodes (protocol/state-rows.ts, which also filters, limits and picks the columns
// shown without `detail`, for this API and `sunray list` alike).
import {
  type ActorStateName,
  type ActorStateRow,
  checkSelection,
  type NodeStateRow,
  type RowSelection,
  type StateKind,
  type StateRows,
  selectRows,
  summarizeActorRows,
  type WorkerStateRow,
} from '../protocol/state-rows.js';
import { currentRuntimeOrStart } from './runtime.js';

export { DEFAULT_LIST_LIMIT, type RowSelection, type StateFilter } from '../protocol/state-rows.js';

/** Options of the list calls: filters, limit (default 100), detail (every column). */
export type ListOptions<Row> = RowSelection<Row>;

/** A list call's rows, and the nodes that did not answer in time. */
export type ListResult<Row> = Row[] & {
  /** Nodes that did not answer in time (their rows are missing). */
  unreachableNodes: string[];
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
  const { rows, unreachable } = await fetchRows(kind);
  const shown = selectRows(kind, rows, opts) as ListResult<Partial<StateRows[K]>>;
  shown.unreachableNodes = unreachable;
  return shown;
}

async function fetchRows<K extends StateKind>(
  kind: K,
): Promise<{ rows: StateRows[K][]; unreachable: string[] }> {
  const answer = await currentRuntimeOrStart().backend.request('listState', kind);
  return { rows: answer.rows as StateRows[K][], unreachable: answer.unreachable };
}
