// Task events (Ray's task event pipeline): each state change of a task, stamped with the
// time it happened, recorded where it happened (the owner, the node, the worker that ran
// it) and merged into one row per task when the state API asks. Where a task passed, one
// TaskRecord says what happened there (its states' times); the records of a task, from
// several places and attempts, fold into its row. This file is the record's shape on the
// wire, the fold, and how a failure is told in one.
import { TaskError } from '../base/errors.js';
import { deserialize } from '../base/serialization.js';
import { failureToError, type ReceivedErrorRecord } from './error-record.js';
import { jobIdOf } from './job.js';
import { TaskKind } from './spec.js';

/** A task's state, as Ray names it. */
export type TaskStateName =
  | 'PENDING_ARGS_AVAIL'
  | 'PENDING_NODE_ASSIGNMENT'
  | 'SUBMITTED_TO_WORKER'
  | 'RUNNING'
  | 'FINISHED'
  | 'FAILED';

/** What kind of call a task is, as Ray names it. */
export type TaskTypeName = 'NORMAL_TASK' | 'ACTOR_CREATION_TASK' | 'ACTOR_TASK';

/** A task's states in the order an attempt goes through them (a later one wins). */
export const TASK_STATE_ORDER: readonly TaskStateName[] = [
  'PENDING_ARGS_AVAIL',
  'PENDING_NODE_ASSIGNMENT',
  'SUBMITTED_TO_WORKER',
  'RUNNING',
  'FINISHED',
  'FAILED',
];

const RANK: Record<TaskStateName, number> = {
  PENDING_ARGS_AVAIL: 0,
  PENDING_NODE_ASSIGNMENT: 1,
  SUBMITTED_TO_WORKER: 2,
  RUNNING: 3,
  FINISHED: 4,
  FAILED: 4,
};

/** The type of a spec's kind. */
export const TASK_TYPE_OF: Readonly<Record<TaskKind, TaskTypeName>> = {
  [TaskKind.Task]: 'NORMAL_TASK',
  [TaskKind.ActorCreate]: 'ACTOR_CREATION_TASK',
  [TaskKind.ActorCall]: 'ACTOR_TASK',
};

/** What a call is, from its spec's fields (an actor's class is its name's part before the dot). */
export function describeTask(t: {
  kind: TaskKind;
  name: string;
  actorId: Uint8Array;
  job: string;
  demand: Record<string, number>;
}): TaskDescription {
  const type = TASK_TYPE_OF[t.kind];
  const { name } = t;
  return {
    name,
    type,
    funcOrClassName: type === 'NORMAL_TASK' ? name : (name.split('.')[0] ?? name),
    actorId: type === 'NORMAL_TASK' ? '' : Buffer.from(t.actorId).toString('hex'),
    jobId: jobIdOf(t.job) ?? '',
    requiredResources: { ...t.demand },
  };
}

/** The error a failed task ended with. */
export interface TaskErrorInfo {
  /** The error's class name (TaskError's cause: what the task threw; WorkerCrashedError, ...). */
  type: string;
  /** Its message. */
  message: string;
  /** Its stack, as the worker that ran the task saw it ('' when it has none). */
  stack: string;
}

/** What a task is: sent with the first event of a task from each place that records it. */
export interface TaskDescription {
  name: string;
  type: TaskTypeName;
  /** The function's name, or the actor's class name. */
  funcOrClassName: string;
  /** The actor it creates or calls (hex; '' for a task). */
  actorId: string;
  /** Its job (hex; '' when not known). */
  jobId: string;
  requiredResources: Record<string, number>;
}

/**
 * What one place saw of one attempt of a task: the furthest state it saw, and the time of
 * each state it saw (ms since the epoch). Nodes keep them in a ring (node/task-records.ts)
 * and ship them to the head; processes send theirs to their node.
 */
export interface TaskRecord {
  taskId: string;
  attempt: number;
  state: TaskStateName;
  desc?: TaskDescription;
  /** PENDING_ARGS_AVAIL: when its owner began to wait for its arguments. */
  waitingAt?: number;
  /** PENDING_NODE_ASSIGNMENT: when it came to a node. */
  createdAt?: number;
  sentAt?: number;
  startedAt?: number;
  endedAt?: number;
  /** Where it ran. */
  nodeId?: string;
  workerId?: string;
  pid?: number;
  /** Who submitted it. */
  ownerPid?: number;
  ownerNodeId?: string;
  error?: TaskErrorInfo;
}

/** A record's state changes, as events (the fold's unit). */
export function recordEvents(r: TaskRecord): TaskEvent[] {
  const out: TaskEvent[] = [];
  const base = { taskId: r.taskId, attempt: r.attempt };
  const where = {
    ...(r.nodeId !== undefined ? { nodeId: r.nodeId } : {}),
    ...(r.workerId !== undefined ? { workerId: r.workerId } : {}),
    ...(r.pid !== undefined ? { pid: r.pid } : {}),
  };
  const owner = {
    ...(r.ownerPid !== undefined ? { ownerPid: r.ownerPid } : {}),
    ...(r.ownerNodeId !== undefined ? { ownerNodeId: r.ownerNodeId } : {}),
  };
  const desc = r.desc ? { desc: r.desc } : {};
  if (r.waitingAt !== undefined) out.push({ ...base, state: 'PENDING_ARGS_AVAIL', at: r.waitingAt });
  if (r.createdAt !== undefined) out.push({ ...base, state: 'PENDING_NODE_ASSIGNMENT', at: r.createdAt });
  if (r.sentAt !== undefined) out.push({ ...base, state: 'SUBMITTED_TO_WORKER', at: r.sentAt, ...where });
  if (r.startedAt !== undefined) out.push({ ...base, state: 'RUNNING', at: r.startedAt, ...where });
  if (r.endedAt !== undefined && (r.state === 'FINISHED' || r.state === 'FAILED')) {
    out.push({ ...base, state: r.state, at: r.endedAt, ...where, ...(r.error ? { error: r.error } : {}) });
  }
  // What the task is and who submitted it go with its first event.
  if (out[0]) Object.assign(out[0], desc, owner);
  return out;
}

/** The rows the records make, one per task, in the order the tasks were submitted. */
export function foldTaskRecords(records: Iterable<TaskRecord>): TaskStateRow[] {
  const rows = new Map<string, TaskStateRow>();
  for (const r of records) {
    let row = rows.get(r.taskId);
    if (!row) {
      row = newTaskRow(r.taskId);
      rows.set(r.taskId, row);
    }
    for (const ev of recordEvents(r)) applyTaskEvent(row, ev);
  }
  return [...rows.values()].sort((a, b) => a.creationTimeMs - b.creationTimeMs);
}

/** One state change of one task. */
export interface TaskEvent {
  /** The task's id (hex). */
  taskId: string;
  /** 0 for its first run, 1 for its first retry, ... */
  attempt: number;
  state: TaskStateName;
  /** When, in ms since the epoch (fractional: microseconds count in a timeline). */
  at: number;
  /** With a task's first event from a place. */
  desc?: TaskDescription;
  /** Where it runs (SUBMITTED_TO_WORKER, RUNNING and after). */
  nodeId?: string;
  workerId?: string;
  pid?: number;
  /** The process that submitted it, and its node, when the recording node knows it. */
  ownerPid?: number;
  ownerNodeId?: string;
  /** FAILED: why. */
  error?: TaskErrorInfo;
}

/** One state change as a task's row keeps it. */
export interface TaskStateChange {
  /** The state it went into. */
  state: TaskStateName;
  /** ms since the epoch. */
  timeMs: number;
  /** The attempt it happened in (0: the first run). */
  attempt: number;
}

/** One task, as the state API lists it (listTasks, `sunray list tasks`). */
export interface TaskStateRow {
  /** Its id (hex). Its first 32 characters are the id of the worker (or driver) that submitted it. */
  taskId: string;
  /** 0 for its first run, n for its n-th retry. */
  attemptNumber: number;
  /** Its name (a function's name, `Class.method`, or the name given in options). */
  name: string;
  /** Where it is (its latest attempt's furthest state). */
  state: TaskStateName;
  /** Its job (hex; '' when not known). */
  jobId: string;
  /** The actor it creates or calls (hex; '' for a task). */
  actorId: string;
  /** A task, an actor's creation, or an actor call. */
  type: TaskTypeName;
  /** The function's name, or the actor's class name. */
  funcOrClassName: string;
  /** The node it ran (or runs) on ('' before it was sent to one). */
  nodeId: string;
  /** The worker that ran it (hex; '' before it was sent to one). */
  workerId: string;
  /** That worker's process id. */
  workerPid: number | null;
  /** The process that submitted it, when known. */
  ownerPid: number | null;
  /** The node of the process that submitted it ('' when not known). */
  ownerNodeId: string;
  /** What it needs to be scheduled. */
  requiredResources: Record<string, number>;
  /** A failed task's error class ('' otherwise). */
  errorType: string;
  /** A failed task's error message ('' otherwise). */
  errorMessage: string;
  /** A failed task's stack ('' otherwise). */
  errorStack: string;
  /** When it was submitted (ms since the epoch). */
  creationTimeMs: number;
  /** When its last attempt started running (null: not yet). */
  startTimeMs: number | null;
  /** When it ended (null: not yet). */
  endTimeMs: number | null;
  /** Every state change, in time order. */
  events: TaskStateChange[];
}

/** A row of a task not seen before, from its first event. */
export function newTaskRow(taskId: string): TaskStateRow {
  return {
    taskId,
    attemptNumber: 0,
    name: '',
    state: 'PENDING_NODE_ASSIGNMENT',
    jobId: '',
    actorId: '',
    type: 'NORMAL_TASK',
    funcOrClassName: '',
    nodeId: '',
    workerId: '',
    workerPid: null,
    ownerPid: null,
    ownerNodeId: '',
    requiredResources: {},
    errorType: '',
    errorMessage: '',
    errorStack: '',
    creationTimeMs: Number.POSITIVE_INFINITY,
    startTimeMs: null,
    endTimeMs: null,
    events: [],
  };
}

/**
 * Folds one event into its task's row. Events come from several places and in any order
 * (a node ships its batch when it likes): the row's state is that of its latest attempt's
 * furthest state, and its times are the earliest submission and that attempt's run.
 */
export function applyTaskEvent(row: TaskStateRow, ev: TaskEvent): void {
  const d = ev.desc;
  if (d && row.name === '') {
    row.name = d.name;
    row.type = d.type;
    row.funcOrClassName = d.funcOrClassName;
    row.actorId = d.actorId;
    row.jobId = d.jobId;
    row.requiredResources = d.requiredResources;
  }
  if (ev.ownerPid !== undefined) row.ownerPid = ev.ownerPid;
  if (ev.ownerNodeId !== undefined) row.ownerNodeId = ev.ownerNodeId;
  insertChange(row.events, { state: ev.state, timeMs: ev.at, attempt: ev.attempt });
  if (ev.at < row.creationTimeMs) row.creationTimeMs = ev.at;
  const newer =
    row.events.length === 1 ||
    ev.attempt > row.attemptNumber ||
    (ev.attempt === row.attemptNumber && RANK[ev.state] >= RANK[row.state]);
  if (ev.attempt > row.attemptNumber) {
    row.attemptNumber = ev.attempt;
    row.startTimeMs = null;
    row.endTimeMs = null;
  }
  if (ev.attempt === row.attemptNumber) {
    if (ev.nodeId !== undefined) row.nodeId = ev.nodeId;
    if (ev.workerId !== undefined) row.workerId = ev.workerId;
    if (ev.pid !== undefined) row.workerPid = ev.pid;
    if (ev.state === 'RUNNING') row.startTimeMs = ev.at;
    if (ev.state === 'FINISHED' || ev.state === 'FAILED') row.endTimeMs = ev.at;
    if (ev.error) {
      row.errorType = ev.error.type;
      row.errorMessage = ev.error.message;
      row.errorStack = ev.error.stack;
    }
  }
  if (newer) row.state = ev.state;
}

/**
 * Keeps a row's changes in the order the task went through them (they mostly come in order:
 * the loop rarely runs): by attempt, then within an attempt by the state machine's order, then
 * by time. Not by time alone: the times come from different processes' clocks (the node's
 * send, the worker's start), which can disagree by more than the microseconds between two
 * states. A state told twice for one attempt (RUNNING when sent to an idle worker, then when
 * its worker said it started) keeps the later word.
 */
function insertChange(changes: TaskStateChange[], c: TaskStateChange): void {
  const told = changes.findIndex((x) => x.state === c.state && x.attempt === c.attempt);
  if (told >= 0) changes.splice(told, 1);
  let i = changes.length;
  while (i > 0 && comesBefore(c, changes[i - 1] as TaskStateChange)) i--;
  changes.splice(i, 0, c);
}

function comesBefore(a: TaskStateChange, b: TaskStateChange): boolean {
  if (a.attempt !== b.attempt) return a.attempt < b.attempt;
  if (RANK[a.state] !== RANK[b.state]) return RANK[a.state] < RANK[b.state];
  return a.timeMs < b.timeMs;
}

/** Now, in ms since the epoch with microseconds (one clock for every process of a machine). */
export function eventTime(): number {
  return TIME_ORIGIN + performance.now();
}

/** This process's start, read once (the getter costs a little on every call). */
const TIME_ORIGIN = performance.timeOrigin;

/** A failure as an event carries it: an Error, or a worker's encoded error record. */
export function errorInfo(error: Error | Buffer): TaskErrorInfo {
  let err: Error;
  if (error instanceof Error) err = error;
  else {
    try {
      err = failureToError(deserialize(error) as ReceivedErrorRecord);
    } catch {
      return { type: 'Error', message: 'the error could not be read', stack: '' };
    }
  }
  // A TaskError wraps what the task threw: its cause is what a user looks for.
  const shown = err instanceof TaskError && err.cause instanceof Error ? err.cause : err;
  return { type: shown.name, message: shown.message, stack: shown.stack ?? '' };
}
