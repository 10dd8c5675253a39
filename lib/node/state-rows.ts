// What this node reports to the state API (protocol/state-rows.ts): a row per actor it
// hosts (dead ones too, with why: as Ray's GCS keeps them) and per worker process, plus
// the driver embedded in it, and what it uses now (the dashboard's usage row). Read from
// the actor records, worker slots and metrics' sources as they are now.
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { jobIdOf } from '../protocol/job.js';
import { type LogChunk, type LogFileRow, NO_LOG_FILE, readLogRead } from '../protocol/log-lines.js';
import type {
  ActorStateName,
  ActorStateRow,
  LocalStateKind,
  NodeUsageRow,
  ObjectStateRow,
  WorkerStateRow,
} from '../protocol/state-rows.js';
import type { TaskRecord } from '../protocol/task-events.js';
import type { MemoryRow } from '../worker/ownership/summary.js';
import type { ActorRec } from './actor-record.js';
import type { MetricsSources } from './metrics.js';
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

/** What a node uses now (its usage row), from its metrics' sources and its resources. */
export function usageRow(
  src: Pick<MetricsSources, 'nodeId' | 'store' | 'taskTotals' | 'liveTasks' | 'workers'>,
  total: Record<string, number>,
  load: { available: Record<string, number> },
): NodeUsageRow {
  const s = src.store();
  const { finished, failed } = src.taskTotals();
  return {
    nodeId: src.nodeId,
    timeMs: Date.now(),
    resourcesTotal: total,
    resourcesAvailable: load.available,
    store: s
      ? {
          capacity: s.capacity,
          used: s.used,
          objects: s.objects,
          pinned: s.pinned,
          spilledObjects: s.spilledObjects,
          spilledBytes: s.spilledBytes,
        }
      : null,
    tasksEnded: finished + failed,
    tasksFailed: failed,
    tasksNow: src.liveTasks(),
    workers: src.workers(),
    cpus: cpus().length,
    load1: loadavg()[0] ?? 0,
    memTotal: totalmem(),
    memAvailable: freemem(),
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
    /** What it uses now (usageRow). */
    private readonly usage: () => NodeUsageRow,
    /** Its workers' log files, and a read of one (log-router.ts's WorkerLogFiles). */
    private readonly logs: {
      list(): LogFileRow[];
      read(pid: number, stream: 'out' | 'err', offset: number, maxBytes: number): LogChunk;
    },
  ) {}

  /** Its actors, its workers (the driver first, when one is embedded), tasks, objects, usage or log files. */
  rows(
    kind: LocalStateKind,
    selectionJson?: string,
  ):
    | ActorStateRow[]
    | WorkerStateRow[]
    | TaskRecord[]
    | NodeUsageRow[]
    | LogFileRow[]
    | LogChunk[]
    | Promise<ObjectStateRow[]> {
    if (kind === 'actors') return this.actors.stateRows(this.nodeId);
    if (kind === 'usage') return [this.usage()];
    if (kind === 'logFiles') return this.logs.list();
    if (kind === 'logRead') {
      const r = readLogRead(selectionJson);
      return [r ? this.logs.read(r.pid, r.stream, r.offset, r.maxBytes) : NO_LOG_FILE];
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
