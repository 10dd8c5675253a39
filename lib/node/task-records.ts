// The task records a node keeps (protocol/task-events.ts TaskRecord): one per attempt of a
// task that ended here, or that passed through on its way elsewhere, or that a process
// told of. A ring of fixed capacity in typed arrays, so that recording 100,000 tasks a
// second allocates nothing that lives (records as objects, one per task, made the garbage
// collector the hot path's largest cost). Strings (node and worker ids, what a task is) are
// interned; a record becomes an object only when the state API asks, or when a node ships
// its records to the head. Past its capacity the oldest records are overwritten, counted.
import {
  TASK_STATE_ORDER,
  type TaskDescription,
  type TaskErrorInfo,
  type TaskRecord,
  type TaskStateName,
} from '../protocol/task-events.js';

const STATES = TASK_STATE_ORDER;
const STATE_CODE = new Map(STATES.map((s, i) => [s, i]));
const ID_BYTES = 24;
const NO_TIME = Number.NaN;

/** A record's fields, as the node hands them over (times NaN, ids -1 when not known). */
export interface RecordFields {
  /** The task id as a latin1 key ('' when keyBytes has it). */
  taskKey: string;
  /** Or its 24 bytes, at keyAt of keyBytes. */
  keyBytes?: Uint8Array;
  keyAt?: number;
  attempt: number;
  state: TaskStateName;
  /** An interned description (TaskRecords.descId), or -1. */
  desc: number;
  /** The actor (hex) of an actor task, '' otherwise. */
  actorHex: string;
  waitingAt: number;
  createdAt: number;
  sentAt: number;
  startedAt: number;
  endedAt: number;
  /** Interned (TaskRecords.stringId), or -1. */
  node: number;
  worker: number;
  pid: number;
  ownerPid: number;
  ownerNode: number;
  error: TaskErrorInfo | undefined;
}

/** A record's fields with nothing known yet (the caller fills in what it knows and reuses it). */
export function blankRecordFields(): RecordFields {
  return {
    taskKey: '',
    attempt: 0,
    state: 'FINISHED',
    desc: -1,
    actorHex: '',
    waitingAt: NO_TIME,
    createdAt: NO_TIME,
    sentAt: NO_TIME,
    startedAt: NO_TIME,
    endedAt: NO_TIME,
    node: -1,
    worker: -1,
    pid: -1,
    ownerPid: -1,
    ownerNode: -1,
    error: undefined,
  };
}

/** Strings kept once each, by number. */
class Interned<T> {
  private readonly ids = new Map<string, number>();
  readonly values: T[] = [];
  id(key: string, make: () => T): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(make());
      this.ids.set(key, id);
    }
    return id;
  }
}

/** A ring of task records in typed arrays. */
export class TaskRecords {
  private readonly ids: Buffer;
  private readonly attempt: Int32Array;
  private readonly state: Uint8Array;
  private readonly desc: Int32Array;
  private readonly times: Float64Array; // 5 a record: waiting, created, sent, started, ended
  private readonly refs: Int32Array; // 6 a record: node, worker, pid, ownerPid, ownerNode, actor
  private readonly errors = new Map<number, TaskErrorInfo>();
  private readonly strings = new Interned<string>();
  private readonly descs = new Interned<TaskDescription>();
  /** The last actor interned, and its number (calls come in runs to one actor). */
  private lastActor = '';
  private lastActorId = -1;
  /** Records appended in all (the next one's sequence number). */
  private appended = 0;

  constructor(readonly capacity: number) {
    this.ids = Buffer.alloc(capacity * ID_BYTES);
    this.attempt = new Int32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.desc = new Int32Array(capacity);
    this.times = new Float64Array(capacity * 5);
    this.refs = new Int32Array(capacity * 6);
  }

  /** Records appended so far: a mark to read the later ones from (since()). */
  get mark(): number {
    return this.appended;
  }

  /** Records overwritten by newer ones. */
  get dropped(): number {
    return Math.max(0, this.appended - this.capacity);
  }

  /** A string's number (node and worker ids, actor ids). */
  stringId(s: string): number {
    return this.strings.id(s, () => s);
  }

  private actorId(hex: string): number {
    if (hex !== this.lastActor) {
      this.lastActor = hex;
      this.lastActorId = this.stringId(hex);
    }
    return this.lastActorId;
  }

  /** A description's number (kept once; the actor id is kept per record, not in it). */
  descId(d: TaskDescription): number {
    return this.descs.id(descKey(d), () => ({ ...d, actorId: '' }));
  }

  /** Appends a record (the hot path: no allocation that outlives the call). */
  append(f: RecordFields): void {
    const slot = this.appended % this.capacity;
    this.appended++;
    // A latin1 key is one byte a character: copied in a loop (Buffer.write's dispatch costs more).
    const at = slot * ID_BYTES;
    if (f.keyBytes) this.ids.set(f.keyBytes.subarray(f.keyAt ?? 0, (f.keyAt ?? 0) + ID_BYTES), at);
    else {
      const key = f.taskKey;
      for (let i = 0; i < ID_BYTES; i++) this.ids[at + i] = key.charCodeAt(i);
    }
    this.attempt[slot] = f.attempt;
    this.state[slot] = STATE_CODE.get(f.state) ?? 0;
    this.desc[slot] = f.desc;
    const t = slot * 5;
    this.times[t] = f.waitingAt;
    this.times[t + 1] = f.createdAt;
    this.times[t + 2] = f.sentAt;
    this.times[t + 3] = f.startedAt;
    this.times[t + 4] = f.endedAt;
    const r = slot * 6;
    this.refs[r] = f.node;
    this.refs[r + 1] = f.worker;
    this.refs[r + 2] = f.pid;
    this.refs[r + 3] = f.ownerPid;
    this.refs[r + 4] = f.ownerNode;
    this.refs[r + 5] = f.actorHex === '' ? -1 : this.actorId(f.actorHex);
    if (f.error) this.errors.set(slot, f.error);
    else if (this.errors.size > 0) this.errors.delete(slot);
  }

  /** Appends a record that came as an object (from a process, or another node). */
  appendRecord(r: TaskRecord): void {
    const d = r.desc;
    this.append({
      taskKey: Buffer.from(r.taskId, 'hex').toString('latin1'),
      attempt: r.attempt,
      state: r.state,
      desc: d ? this.descId(d) : -1,
      actorHex: d?.actorId ?? '',
      waitingAt: r.waitingAt ?? NO_TIME,
      createdAt: r.createdAt ?? NO_TIME,
      sentAt: r.sentAt ?? NO_TIME,
      startedAt: r.startedAt ?? NO_TIME,
      endedAt: r.endedAt ?? NO_TIME,
      node: r.nodeId === undefined ? -1 : this.stringId(r.nodeId),
      worker: r.workerId === undefined ? -1 : this.stringId(r.workerId),
      pid: r.pid ?? -1,
      ownerPid: r.ownerPid ?? -1,
      ownerNode: r.ownerNodeId === undefined ? -1 : this.stringId(r.ownerNodeId),
      error: r.error,
    });
  }

  /** The records appended since `mark` that are still kept, oldest first, as objects. */
  since(mark = 0): TaskRecord[] {
    const from = Math.max(mark, this.appended - this.capacity);
    const out: TaskRecord[] = [];
    for (let seq = from; seq < this.appended; seq++) out.push(this.record(seq % this.capacity));
    return out;
  }

  private record(slot: number): TaskRecord {
    const rec: TaskRecord = {
      taskId: this.ids.toString('hex', slot * ID_BYTES, (slot + 1) * ID_BYTES),
      attempt: this.attempt[slot] ?? 0,
      state: STATES[this.state[slot] ?? 0] ?? 'PENDING_NODE_ASSIGNMENT',
    };
    const r = slot * 6;
    const str = (i: number) => (i < 0 ? undefined : this.strings.values[i]);
    const d = this.desc[slot] ?? -1;
    if (d >= 0) {
      const desc = this.descs.values[d];
      if (desc) rec.desc = { ...desc, actorId: str(this.refs[r + 5] ?? -1) ?? '' };
    }
    const t = slot * 5;
    const time = (i: number) => {
      const v = this.times[t + i] ?? NO_TIME;
      return Number.isNaN(v) ? undefined : v;
    };
    const set = <K extends keyof TaskRecord>(k: K, v: TaskRecord[K] | undefined) => {
      if (v !== undefined) rec[k] = v;
    };
    set('waitingAt', time(0));
    set('createdAt', time(1));
    set('sentAt', time(2));
    set('startedAt', time(3));
    set('endedAt', time(4));
    set('nodeId', str(this.refs[r] ?? -1));
    set('workerId', str(this.refs[r + 1] ?? -1));
    const pid = this.refs[r + 2] ?? -1;
    if (pid >= 0) rec.pid = pid;
    const ownerPid = this.refs[r + 3] ?? -1;
    if (ownerPid >= 0) rec.ownerPid = ownerPid;
    set('ownerNodeId', str(this.refs[r + 4] ?? -1));
    set('error', this.errors.get(slot));
    return rec;
  }
}

/** What makes two descriptions the same (the actor id is kept per record, not in them). */
function descKey(d: Omit<TaskDescription, 'actorId'>): string {
  const resources = Object.entries(d.requiredResources)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${d.type}\u0000${d.name}\u0000${d.funcOrClassName}\u0000${d.jobId}\u0000${resources}`;
}
