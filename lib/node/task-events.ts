// The node's side of task events (protocol/task-events.ts). On the hot path a task's entry
// only gets the times of its states (submitted, sent, running); when an attempt ends, one
// record of it goes into the node's ring (task-records.ts). Tasks still here are read from
// the task table when the state API asks (live()). A node that is not the head ships the
// records it appended to the head once a second (cluster/task-events-link.ts); the head's
// ring is the cluster's table of tasks. Processes send what only they see (an owner's task
// waiting for its arguments, a direct actor call) as records of their own.
import type { Reader } from '../base/codec.js';
import { InvalidArgumentError } from '../base/errors.js';
import { TaskKind, type TaskSpec } from '../protocol/spec.js';
import { type RowSelection, selectRows } from '../protocol/state-rows.js';
import {
  describeTask,
  errorInfo,
  eventTime,
  foldTaskRecords,
  type TaskRecord,
  type TaskStateName,
  type TaskStateRow,
} from '../protocol/task-events.js';
import { readDirectCalls } from '../protocol/worker-messages.js';
import type { ResultSink } from './owner-router.js';
import { blankRecordFields, type RecordFields, TaskRecords } from './task-records.js';
import type { WorkerSlot } from './worker-slot.js';

/** The actor id of a description (each record keeps its own). */
const NO_ACTOR = new Uint8Array(0);

/** How often a node that is not the head ships its records (ms): Ray's task_events_report_interval_ms. */
export const TASK_EVENTS_INTERVAL_MS = 1000;

/** Ray's default of RAY_task_events_max_num_task_in_gcs: the records a node's ring keeps. */
export const TASK_EVENTS_LIMIT = 100_000;

/** A taskEventsLimit as given (init(), `sunray start`): a whole number >= 1, or the default. */
export function checkTaskEventsLimit(limit: number | undefined): number {
  if (limit === undefined) return TASK_EVENTS_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidArgumentError(`taskEventsLimit must be a whole number >= 1, got ${String(limit)}`);
  }
  return limit;
}

/** What the cluster's table of tasks dropped to stay within its limit. */
export interface TaskEventsDropped {
  /** Task records overwritten by newer ones in the head's ring (the oldest go first). */
  tasks: number;
  /** Records nodes could not ship (their ring overwrote them first, or the head was unreachable). */
  events: number;
}

/** Tasks as the table lists them (whole rows: the caller picks columns), and what it dropped. */
export interface TaskRowsAnswer {
  rows: TaskStateRow[];
  dropped: TaskEventsDropped;
  /** Nodes that did not say which of their tasks are running now. */
  unreachable?: string[];
}

/** What the recorder reads of a task: its spec, owner and attempt, and the times it noted on it. */
export interface TaskRef {
  spec: TaskSpec;
  owner: ResultSink;
  attempt: number;
  /** When it came to this node, was sent to a worker, ran (NaN: not yet). */
  createdAt: number;
  sentAt: number;
  runningAt: number;
  /** The worker it was sent to. */
  sentTo: WorkerSlot | undefined;
  /** Its actor, when the node has it (an actor call sent to one): its hex id saves making it. */
  actor?: { readonly hex: string } | undefined;
  /** Its task id as a latin1 key, when known (saves making it). */
  hex?: string;
}

/** A task the node has no entry for (refused, failed to place, forwarded on), seen now. */
export function taskRef(spec: TaskSpec, owner: ResultSink): TaskRef {
  return {
    spec,
    owner,
    attempt: 0,
    createdAt: eventTime(),
    sentAt: Number.NaN,
    runningAt: Number.NaN,
    sentTo: undefined,
  };
}

/** Where a node's records go when it is not the head: each batch, and how many were overwritten before. */
export type ShipRecords = (records: TaskRecord[], dropped: number) => void;

/** Task events of one node: times on the entries, a record per ended attempt. */
export class TaskEventRecorder {
  readonly records: TaskRecords;
  private readonly self: number;
  private ship: ShipRecords | undefined;
  private shipped = 0;
  /** Attempts that ended on this node, finished and failed (metrics read them). */
  readonly totals = { finished: 0, failed: 0 };
  /** Told how long each ended attempt waited to be sent and ran, in ms (NaN: not known). */
  onEnded: ((waitedMs: number, ranMs: number) => void) | undefined;
  private lastWorker: WorkerSlot | undefined;
  private lastWorkerId = -1;
  private readonly scratch = blankRecordFields();
  private lastDesc: { kind: TaskKind; name: string; job: string; demand: object; id: number } | undefined;
  /** Records other nodes could not ship (on the head). */
  private lostElsewhere = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nodeId: string,
    /** Records nothing when false (init({ taskEvents: false })). */
    readonly enabled: boolean,
    /** Records the ring keeps (taskEventsLimit). */
    capacity: number,
    /** The process id of a task's owner on this node (undefined: on another node). */
    private readonly ownerPid: (owner: ResultSink) => number | undefined,
  ) {
    this.records = new TaskRecords(enabled ? capacity : 1);
    this.self = this.records.stringId(nodeId);
  }

  /** From now on this node's records are shipped to the head (it is not the head). */
  shipTo(ship: ShipRecords): void {
    this.ship = ship;
  }

  /** It was sent to worker w; runsNow: w had nothing to run before it (an idle lease, an idle actor). */
  sent(t: TaskRef, w: WorkerSlot, runsNow: boolean): void {
    if (!this.enabled) return;
    const now = eventTime();
    t.sentAt = now;
    t.sentTo = w;
    t.runningAt = runsNow ? now : Number.NaN;
  }

  /** Its worker says it ran from startedAt to endedAt (0: never started); error: an encoded error record. */
  ended(t: TaskRef, startedAt: number, endedAt: number, error: Buffer | undefined): void {
    if (!this.enabled) return;
    const state = error ? 'FAILED' : 'FINISHED';
    const start = startedAt > 0 ? startedAt : t.runningAt;
    this.append(t, state, start, endedAt > 0 ? endedAt : eventTime(), error ? errorInfo(error) : undefined);
  }

  /** It failed without running to its end (its worker died, it was cancelled or refused). */
  failed(t: TaskRef, err: Error): void {
    if (this.enabled) this.append(t, 'FAILED', t.runningAt, eventTime(), errorInfo(err));
  }

  /** It went on to another node (which records the rest): what this node saw of it. */
  forwarded(t: TaskRef): void {
    if (this.enabled) this.append(t, 'PENDING_NODE_ASSIGNMENT', Number.NaN, Number.NaN, undefined);
  }

  /**
   * A batch of direct actor calls worker w ran (Msg.DirectCallsRan, after its index): the
   * node never saw them. actorOf: what the node knows of the actor (its job).
   */
  directCalls(
    r: Reader,
    w: WorkerSlot,
    callerPid: (index: number) => number | undefined,
    actorJob: (hex: string) => string,
  ): void {
    if (!this.enabled) return;
    const records = this.records;
    const b = readDirectCalls(r);
    const worker = records.stringId(w.ownerId);
    const actorHex = b.actors.map((a) => a.toString('hex'));
    const jobs = actorHex.map((hex) => actorJob(hex));
    // Per (name, actor) pair of the batch's tables, made once.
    const descs = new Map<number, number>();
    const descOf = (nameIdx: number, actorIdx: number) => {
      let d = descs.get(nameIdx * 0x10000 + actorIdx);
      if (d === undefined) {
        const name = b.names[nameIdx] ?? '';
        const job = jobs[actorIdx] ?? '';
        d = records.descId(
          describeTask({ kind: TaskKind.ActorCall, name, actorId: NO_ACTOR, job, demand: {} }),
        );
        descs.set(nameIdx * 0x10000 + actorIdx, d);
      }
      return d;
    };
    const pids = new Map<number, number | undefined>();
    const fields: RecordFields = {
      ...blankRecordFields(),
      keyBytes: b.keys,
      node: this.self,
      worker,
      pid: w.pid,
    };
    for (let i = 0; i < b.count; i++) {
      const a = b.actorIdx[i] ?? 0;
      const started = b.times[i * 2] ?? 0;
      const ended = b.times[i * 2 + 1] ?? 0;
      const caller = b.callers[i] ?? -1;
      if (!pids.has(caller)) pids.set(caller, callerPid(caller));
      const ownerPid = pids.get(caller);
      const error = b.errors.get(i);
      fields.keyAt = i * 24;
      fields.state = error ? 'FAILED' : 'FINISHED';
      fields.desc = descOf(b.nameIdx[i] ?? 0, a);
      fields.actorHex = actorHex[a] ?? '';
      fields.sentAt = started > 0 ? started : ended;
      fields.startedAt = started > 0 ? started : Number.NaN;
      fields.endedAt = ended;
      fields.ownerPid = ownerPid ?? -1;
      fields.ownerNode = ownerPid === undefined ? -1 : this.self;
      fields.error = error ? errorInfo(error) : undefined;
      records.append(fields);
      if (error) this.totals.failed++;
      else this.totals.finished++;
      if (started > 0) this.onEnded?.(Number.NaN, ended - started);
    }
    this.arm();
  }

  /** A batch another node shipped (on the head); lost: records it could not ship. */
  fromNode(records: TaskRecord[], lost: number): void {
    if (!this.enabled) return;
    this.lostElsewhere += lost;
    for (const r of records) this.records.appendRecord(r);
  }

  /**
   * The table of tasks (this node's ring: the cluster's on the head) with the tasks still on
   * the nodes (`live`), folded into rows; those that match sel, up to its limit.
   */
  table(live: readonly TaskRecord[], sel: RowSelection<TaskStateRow>): TaskRowsAnswer {
    const dropped = { tasks: this.records.dropped, events: this.lostElsewhere };
    if (!this.enabled) return { rows: [], dropped };
    const rows = foldTaskRecords([...this.records.since(0), ...live]);
    return { rows: selectRows('tasks', rows, { ...sel, detail: true }) as TaskStateRow[], dropped };
  }

  /** Records a process of this node made itself (worker/task-event-buffer.ts). */
  fromProcess(records: TaskRecord[]): void {
    if (!this.enabled) return;
    for (const r of records) {
      // A process knows its own pid, not its node's id: this node says where.
      if (r.workerId !== undefined) r.nodeId = this.nodeId;
      if (r.ownerPid !== undefined) r.ownerNodeId = this.nodeId;
      this.records.appendRecord(r);
    }
    this.arm();
  }

  private append(
    t: TaskRef,
    state: TaskStateName,
    startedAt: number,
    endedAt: number,
    error: RecordFields['error'],
  ): void {
    const spec = t.spec;
    const ownerPid = this.ownerPid(t.owner);
    const w = t.sentTo;
    if (w !== this.lastWorker) {
      this.lastWorker = w;
      this.lastWorkerId = w ? this.records.stringId(w.ownerId) : -1;
    }
    // One object for every append (the ring copies the fields): nothing is allocated per task.
    const f = this.scratch;
    f.taskKey = t.hex ?? spec.taskId.toString('latin1');
    f.attempt = t.attempt;
    f.state = state;
    f.desc = this.descOf(spec);
    f.actorHex = spec.kind === TaskKind.Task ? '' : (t.actor?.hex ?? spec.actorId.toString('hex'));
    f.createdAt = t.createdAt;
    f.sentAt = t.sentAt;
    f.startedAt = startedAt;
    f.endedAt = endedAt;
    f.node = w ? this.self : -1;
    f.worker = this.lastWorkerId;
    f.pid = w ? w.pid : -1;
    f.ownerPid = ownerPid ?? -1;
    f.ownerNode = ownerPid === undefined ? -1 : this.self;
    f.error = error;
    this.records.append(f);
    if (state === 'FINISHED') this.totals.finished++;
    else if (state === 'FAILED') this.totals.failed++;
    if (state !== 'PENDING_NODE_ASSIGNMENT') this.onEnded?.(t.sentAt - t.createdAt, endedAt - startedAt);
    this.arm();
  }

  /** The interned description of a spec; the last one is kept, as calls come in runs of one kind. */
  private descOf(spec: TaskSpec): number {
    const last = this.lastDesc;
    const { kind, name, job, demand } = spec;
    if (last && last.kind === kind && last.name === name && last.job === job && last.demand === demand)
      return last.id;
    const id = this.records.descId(describeTask(spec));
    this.lastDesc = { kind, name, job, demand, id };
    return id;
  }

  /** The tasks still on this node (queued, sent, running), as records. */
  live(tasks: Iterable<TaskRef>): TaskRecord[] {
    if (!this.enabled) return [];
    const out: TaskRecord[] = [];
    for (const t of tasks) {
      const r: TaskRecord = {
        taskId: t.spec.taskId.toString('hex'),
        attempt: t.attempt,
        state: 'PENDING_NODE_ASSIGNMENT',
        desc: describeTask(t.spec),
        createdAt: t.createdAt,
      };
      const pid = this.ownerPid(t.owner);
      if (pid !== undefined) {
        r.ownerPid = pid;
        r.ownerNodeId = this.nodeId;
      }
      const w = t.sentTo;
      if (w && !Number.isNaN(t.sentAt)) {
        r.state = Number.isNaN(t.runningAt) ? 'SUBMITTED_TO_WORKER' : 'RUNNING';
        r.sentAt = t.sentAt;
        if (!Number.isNaN(t.runningAt)) r.startedAt = t.runningAt;
        r.nodeId = this.nodeId;
        r.workerId = w.ownerId;
        r.pid = w.pid;
      }
      out.push(r);
    }
    return out;
  }

  /** Ships what was appended since the last batch (now: before a query reads the head's table). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.ship || this.records.mark === this.shipped) return;
    // Records overwritten before they were shipped are lost to the head: counted there.
    const lost = Math.max(0, this.records.mark - this.records.capacity - this.shipped);
    const batch = this.records.since(this.shipped);
    this.shipped = this.records.mark;
    this.ship(batch, lost);
  }

  private arm(): void {
    if (!this.ship || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, TASK_EVENTS_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer (the node shuts down); what is appended is shipped first. */
  close(): void {
    this.flush();
  }
}
