// What this node reports to the state API (protocol/state-rows.ts): a row per actor it
// hosts (dead ones too, with why: as Ray's GCS keeps them) and per worker process, plus
// the driver embedded in it. Read from the actor records and worker slots as they are now.
import { jobIdOf } from '../protocol/job.js';
import { type LogChunk, type LogFileRow, readLogRead } from '../protocol/log-lines.js';
import type {
  ActorStateName,
  ActorStateRow,
  LocalStateKind,
  ObjectStateRow,
  WorkerStateRow,
} from '../protocol/state-rows.js';
import type { TaskRecord } from '../protocol/task-events.js';
import type { MemoryRow } from '../worker/ownership/summary.js';
import type { ActorRec } from './actor-record.js';
import type { WorkerSlot } from './worker-slot.js';

const ACTOR_STATES: Record<ActorRec['state'], ActorStateName> = {
  pending: 'PENDING_CREATION',
  alive: 'ALIVE',
  restarting: 'RESTARTING',
  dead: 'DEAD',
};

const WORKER_STATES: Record<WorkerSlot['state'], WorkerStateRow['state']> = {
  starting: 'STARTING',
  idle: 'IDLE',
  leased: 'LEASED',
  actor: 'ACTOR',
  dead: 'DEAD',
};

/** The row of actor a, hosted by node `nodeId`. */
export function actorRow(a: ActorRec, nodeId: string): ActorStateRow {
  const budget = a.restarts + a.restartsLeft;
  return {
    actorId: a.hex,
    className: a.className,
    state: ACTOR_STATES[a.state],
    name: a.name ?? '',
    namespace: a.namespace,
    nodeId,
    pid: a.worker && a.worker.pid > 0 ? a.worker.pid : null,
    numRestarts: a.restarts,
    jobId: jobIdOf(a.createSpec.job) ?? '',
    isolation: a.shared ? 'shared' : 'process',
    detached: a.detached,
    maxRestarts: Number.isFinite(budget) ? budget : -1,
    requiredResources: { ...a.placeDemand },
    deathCause: a.state === 'dead' ? a.deathMessage : '',
  };
}

/** The row of worker w of node `nodeId`. */
export function workerRow(w: WorkerSlot, nodeId: string): WorkerStateRow {
  return {
    workerId: w.ownerId,
    workerType: 'WORKER',
    nodeId,
    pid: w.pid,
    isAlive: !w.exited && !w.stopRequested,
    state: WORKER_STATES[w.state],
    actorId: w.actorHex ?? '',
    sharedActors: w.guests,
  };
}

/** The row of the driver embedded in node `nodeId` (this process). */
export function driverRow(ownerHex: string, nodeId: string): WorkerStateRow {
  return {
    workerId: ownerHex,
    workerType: 'DRIVER',
    nodeId,
    pid: process.pid,
    isAlive: true,
    state: 'RUNNING',
    actorId: '',
    sharedActors: 0,
  };
}

const REFERENCE_TYPES: Record<MemoryRow['kind'], ObjectStateRow['referenceType']> = {
  local: 'LOCAL_REFERENCE',
  submitted: 'USED_BY_PENDING_TASK',
  borrowed: 'BORROWED',
  pinned: 'PINNED_IN_MEMORY',
  spilled: 'SPILLED',
  pending: 'PENDING',
};

/** The object row of a `sunray memory` row of node `nodeId` (driverPid: the embedded driver's). */
export function objectRow(m: MemoryRow, nodeId: string, driverPid: number | undefined): ObjectStateRow {
  return {
    objectId: m.id,
    objectSize: m.size,
    referenceType: REFERENCE_TYPES[m.kind] ?? 'LOCAL_REFERENCE',
    taskStatus: m.state.toUpperCase(),
    nodeId,
    pid: m.pid,
    type: m.pid === driverPid ? 'DRIVER' : 'WORKER',
    ownerId: m.owner,
    localRefs: m.localRefs,
    inStore: m.inStore,
    callSite: m.callSite,
  };
}

/** This node's rows of the state API, read when asked (NodeManager.localState). */
export class LocalState {
  constructor(
    private readonly nodeId: string,
    private readonly actors: { stateRows(nodeId: string): ActorStateRow[] },
    private readonly workers: { values(): Iterable<WorkerSlot> },
    /** The owner id of the driver embedded in this node, if any. */
    private readonly driver: () => string | undefined,
    /** Its tasks now (queued, sent, running), as task records. */
    private readonly liveTasks: () => TaskRecord[],
    /** Its processes' references to objects (`sunray memory`'s rows: each process asked). */
    private readonly memoryRows: () => Promise<MemoryRow[]>,
    /** Its workers' log files, and a read of one (log-router.ts's WorkerLogFiles). */
    private readonly logs: {
      list(): LogFileRow[];
      read(pid: number, stream: 'out' | 'err', offset: number, maxBytes: number): LogChunk;
    },
  ) {}

  /** Its actors, or its workers (the driver first, when one is embedded). */
  rows(
    kind: LocalStateKind,
    selectionJson?: string,
  ):
    | ActorStateRow[]
    | WorkerStateRow[]
    | TaskRecord[]
    | LogFileRow[]
    | LogChunk[]
    | Promise<ObjectStateRow[]> {
    if (kind === 'actors') return this.actors.stateRows(this.nodeId);
    if (kind === 'logFiles') return this.logs.list();
    if (kind === 'logRead') {
      const r = readLogRead(selectionJson);
      return r ? [this.logs.read(r.pid, r.stream, r.offset, r.maxBytes)] : [{ text: '', size: -1 }];
    }
    if (kind === 'liveTasks') return this.liveTasks();
    if (kind === 'objects') {
      const driverPid = this.driver() === undefined ? undefined : process.pid;
      return this.memoryRows().then((rows) => rows.map((m) => objectRow(m, this.nodeId, driverPid)));
    }
    const rows = [...this.workers.values()].map((w) => workerRow(w, this.nodeId));
    const driver = this.driver();
    return driver === undefined ? rows : [driverRow(driver, this.nodeId), ...rows];
  }
}
