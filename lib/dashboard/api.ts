// The dashboard's JSON API (GET /api/...): what each view of the page polls, made from
// the node's state API answers (protocol/state-rows.ts rows, gathered over the cluster
// by the node that serves the dashboard), every node's usage row and the worker log files
// (api-logs.ts). Only reached with a valid session (server.ts checks first); it reads,
// never changes, anything.
import type { JobStateRow } from '../protocol/job.js';
import type { LogChunk, LogFileRow, LogRead } from '../protocol/log-lines.js';
import {
  type ActorStateRow,
  type NodeStateRow,
  type NodeUsageRow,
  type ObjectStateRow,
  type RowSelection,
  type StateKind,
  summarizeActorRows,
  summarizeObjectRows,
  type WorkerStateRow,
} from '../protocol/state-rows.js';
import { TASK_STATE_ORDER, type TaskStateName, type TaskStateRow } from '../protocol/task-events.js';
import { chromeTrace, type TraceEvent } from '../protocol/timeline.js';
import type { StateAnswer } from '../worker/backend.js';
import { logsAnswer } from './api-logs.js';

/** What the dashboard reads: the serving node's state API and every node's usage. */
export interface DashboardSource {
  /** The node that serves the dashboard (hex). */
  readonly nodeId: string;
  /** The state API's answer for a kind (every node's rows in a cluster; tasks from the head's table). */
  state(kind: StateKind, selection?: RowSelection<Record<string, unknown>>): Promise<StateAnswer>;
  /** Every alive node's usage row, and the nodes that did not answer. */
  usage(): Promise<{ rows: NodeUsageRow[]; unreachable: string[] }>;
  /** Every worker log file of every alive node, and the nodes that did not answer. */
  logFiles(): Promise<{ rows: LogFileRow[]; unreachable: string[] }>;
  /** Bytes of one worker's log file, read on its node (size -1: no such file there). */
  readLog(req: LogRead): Promise<LogChunk>;
}

/** An answer: a status and a JSON body (or a download). */
export interface ApiAnswer {
  status: number;
  body: unknown;
  /** Sent as a file of this name (Content-Disposition: attachment). */
  download?: string;
}

/** Tasks a task list shows at most (the newest first). */
export const MAX_TASK_ROWS = 1000;
/** Task runs the timeline view draws at most (the latest ones). */
export const MAX_TIMELINE_TASKS = 5000;

const ALL = Number.MAX_SAFE_INTEGER;

/** The columns of a task in the list (the rest, its events and stack, by its id). */
const TASK_COLUMNS = [
  'taskId',
  'attemptNumber',
  'name',
  'state',
  'type',
  'funcOrClassName',
  'actorId',
  'jobId',
  'nodeId',
  'workerPid',
  'errorType',
  'errorMessage',
  'creationTimeMs',
  'startTimeMs',
  'endTimeMs',
] as const;

/** A node as the views show it: its row of the cluster's table and what it uses now (null: no answer). */
export type NodeView = NodeStateRow & { usage: NodeUsageRow | null };

/** Answers GET /api/<path> (path without the prefix; query: the URL's search params). */
export async function answer(src: DashboardSource, path: string, query: URLSearchParams): Promise<ApiAnswer> {
  const ok = (body: unknown): ApiAnswer => ({ status: 200, body });
  switch (path) {
    case 'cluster':
      return ok(await cluster(src));
    case 'actors': {
      const a = await src.state('actors', {});
      const rows = a.rows as ActorStateRow[];
      return ok({ rows, byClass: summarizeActorRows(rows).byClass, unreachable: a.unreachable });
    }
    case 'workers': {
      const a = await src.state('workers', {});
      return ok({ rows: a.rows as WorkerStateRow[], unreachable: a.unreachable });
    }
    case 'jobs': {
      const a = await src.state('jobs', {});
      const rows = (a.rows as JobStateRow[]).sort((x, y) => y.startTime - x.startTime);
      return ok({ rows, unreachable: a.unreachable });
    }
    case 'objects': {
      const a = await src.state('objects', {});
      const rows = a.rows as ObjectStateRow[];
      return ok({ rows, summary: summarizeObjectRows(rows), unreachable: a.unreachable });
    }
    case 'tasks':
      return ok(await tasks(src, query));
    case 'timeline':
      return ok(trace(await allTasks(src), numberParam(query, 'limit', MAX_TIMELINE_TASKS)));
    case 'timeline.json':
      return { status: 200, body: chromeTrace(await allTasks(src)), download: 'timeline.json' };
    case 'logs':
    case 'logs/file':
      return await logsAnswer(src, path, query);
    default: {
      const id = /^tasks\/([0-9a-f]{1,64})$/.exec(path)?.[1];
      if (id !== undefined) {
        const a = await src.state('tasks', { filters: [['taskId', '=', id]], limit: 1 });
        const row = a.rows[0] as TaskStateRow | undefined;
        return row ? ok(row) : { status: 404, body: { error: `no task ${id} is kept` } };
      }
      return { status: 404, body: { error: `no API /api/${path}` } };
    }
  }
}

/** Every node of the table with its usage; actors by state; what did not answer. */
async function cluster(src: DashboardSource): Promise<{
  servedBy: string;
  timeMs: number;
  nodes: NodeView[];
  actors: Record<string, number>;
  unreachable: string[];
}> {
  const [nodes, usage, actors] = await Promise.all([
    src.state('nodes', {}),
    src.usage(),
    src.state('actors', {}),
  ]);
  const byNode = new Map(usage.rows.map((u) => [u.nodeId, u]));
  const counts: Record<string, number> = {};
  for (const a of actors.rows as ActorStateRow[]) counts[a.state] = (counts[a.state] ?? 0) + 1;
  return {
    servedBy: src.nodeId,
    timeMs: Date.now(),
    nodes: (nodes.rows as NodeStateRow[]).map((n) => ({ ...n, usage: byNode.get(n.nodeId) ?? null })),
    actors: counts,
    unreachable: [...new Set([...usage.unreachable, ...actors.unreachable])],
  };
}

/** Every task the head keeps (whole rows), in the order they were submitted. */
async function allTasks(src: DashboardSource): Promise<TaskStateRow[]> {
  return (await src.state('tasks', { limit: ALL })).rows as TaskStateRow[];
}

/**
 * The task list: counts by state over every task kept, then those of `state` (exact) whose
 * name contains `name` (any case), newest first, at most `limit`.
 */
async function tasks(
  src: DashboardSource,
  query: URLSearchParams,
): Promise<{
  rows: Partial<TaskStateRow>[];
  matched: number;
  total: number;
  /** Every state, in the order a task goes through them (the page's filter lists them). */
  states: readonly TaskStateName[];
  byState: Partial<Record<TaskStateName, number>>;
  dropped: { tasks: number; events: number };
}> {
  const a = await src.state('tasks', { limit: ALL });
  const all = a.rows as TaskStateRow[];
  const byState: Partial<Record<TaskStateName, number>> = {};
  for (const t of all) byState[t.state] = (byState[t.state] ?? 0) + 1;
  const state = query.get('state') ?? '';
  const name = (query.get('name') ?? '').toLowerCase();
  const matched = all.filter(
    (t) => (state === '' || t.state === state) && (name === '' || t.name.toLowerCase().includes(name)),
  );
  const limit = Math.min(numberParam(query, 'limit', 200), MAX_TASK_ROWS);
  const rows = matched
    .slice(-limit)
    .reverse()
    .map((t) => {
      const out: Partial<TaskStateRow> = {};
      for (const c of TASK_COLUMNS) (out as Record<string, unknown>)[c] = t[c];
      return out;
    });
  return {
    rows,
    matched: matched.length,
    total: all.length,
    states: TASK_STATE_ORDER,
    byState,
    dropped: a.dropped ?? { tasks: 0, events: 0 },
  };
}

/** The trace of the `limit` task runs that ended last. */
function trace(rows: TaskStateRow[], limit: number): TraceEvent[] {
  const ran = rows
    .filter((r) => r.startTimeMs !== null && r.endTimeMs !== null && r.workerPid !== null)
    .sort((x, y) => (x.endTimeMs ?? 0) - (y.endTimeMs ?? 0));
  return chromeTrace(ran.slice(-limit));
}

/** A whole number >= 1 from the query, else the default. */
function numberParam(query: URLSearchParams, name: string, fallback: number): number {
  const n = Number(query.get(name));
  return Number.isSafeInteger(n) && n >= 1 ? n : fallback;
}
