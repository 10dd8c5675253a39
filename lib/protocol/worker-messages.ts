// Messages between the node manager and its workers (and, for direct actor
// calls, between two workers). They travel as frames on shared-memory rings
// (channel.ts); each starts with a one-byte type (Msg). Task specs inside them
// are spec.ts's. Packed by hand (codec.ts): this is the hot path of every task.
import type { Reader, Writer } from '../base/codec.js';
import { OBJECT_ID_SIZE, TASK_ID_SIZE } from '../base/ids.js';
import { keepPayload } from './interned-payloads.js';

export enum Msg {
  // manager -> worker
  Define = 1,
  Execute = 2,
  Result = 4,
  Cancel = 5,
  Exit = 6,
  // worker -> manager
  Ready = 10, // u32 worker index, f64 its V8 heap limit in bytes
  Done = 11,
  Submit = 12,
  Blocked = 13,
  Unblocked = 14,
  DefineUp = 15,
  ActorReady = 16,
  KillActor = 17,
  Request = 18,
  Reply = 7,
  // ownership (ownership/ref-ops.ts): ops up to the node manager, routed down to owners
  RefOps = 20,
  OwnerDied = 21, // manager -> worker: u8[16] owner id of a process that exited
  MemoryQuery = 22, // manager -> worker: u32 query id; asks for its memorySummary()
  MemoryReport = 23, // worker -> manager: u32 query id, JSON rows
  HeldByOthers = 24, // worker -> manager: u32 index, u8 whether others hold objects it owns

  // direct actor calls (direct/): a caller writes calls straight into its actor's inbox and
  // the actor answers into the caller's; the node manager only sets the channel up and tears it down
  ChannelOpen = 25, // worker -> manager: u32 index, u8[16] actor id as the handle names it
  ChannelAnswer = 26, // manager -> caller: u8[16] asked id, u8 granted; then grantFields or refusal
  PeerOpen = 27, // manager -> actor: u32 caller index (its inbox ring + eventfd on the control socket)
  PeerGone = 28, // manager -> actor: u32 caller index that exited
  ChannelClosed = 29, // manager -> caller: u32 actor worker index, u8 restarting, u32 pid, str how, str death
  CallDirect = 32, // caller -> actor: spec, i32 caller index
  DirectResult = 33, // actor -> caller: u32 actor worker index, then a Result's fields
  RelayResult = 34, // actor -> manager: u32 owner index, then a whole DirectResult frame (kept in order with RefOps)
  SubmitRetry = 35, // worker -> manager: u32 index, u32 retries left, spec (a direct call whose actor died)
  ExitWhenIdle = 36, // manager -> actor: exit once the calls it has are done
  CancelChildren = 37, // manager -> worker: u8[24] task id, u8 force; cancel what that call submitted
  // streaming generators (streaming.ts)
  GeneratorItem = 38, // worker -> manager: u32 index, object id, u8 kind, bytes payload: one yielded item
  StreamControl = 39, // manager -> worker: u8[24] task id, u32 items its owner consumed (or STREAM_STOP)
  // shared actors (isolation: 'shared'): many in one host process
  DropActor = 40, // manager -> host: u8[16] actor id; the host forgets that actor, its neighbours run on
  // task events (task-events.ts) only a worker sees: tasks waiting for arguments, direct calls
  TaskEvents = 41, // worker -> manager: u32 index, str JSON array of TaskRecord
  UserMetrics = 43, // worker -> manager: u32 index, str JSON array of UserMetricUpdate (user-metrics.ts)
  DirectCallsRan = 42, // worker -> manager: u32 index, then DirectCallsBatch.write's columns

  // either way: a message too large for a ring slot, parked in the store
  Blob = 30,
}

export enum ReturnKind {
  Inline = 0,
  InStore = 1,
}

export enum DoneStatus {
  Ok = 0,
  Error = 1, // the function threw: payload is a serialized RemoteErrorInfo
  Cancelled = 2,
  ActorDead = 3, // the actor's constructor threw or it was killed: payload is RemoteErrorInfo
}

/** A finished task's returns, as a worker reports them. */
export interface TaskReturn {
  kind: ReturnKind;
  payload: Buffer; // empty when InStore
}

export interface DoneMessage {
  worker: number;
  /** The task id as a latin1 key (ids.ts taskKeyOf). */
  taskKey: string;
  status: DoneStatus;
  returns: TaskReturn[]; // on error: one Inline entry holding the serialized error
  /** When the worker started and ended it (ms since the epoch; 0: it never ran, e.g. refused). */
  startedAt: number;
  endedAt: number;
}

export function writeDone(
  w: Writer,
  worker: number,
  taskId: Uint8Array,
  status: DoneStatus,
  returns: TaskReturn[],
  startedAt: number,
  endedAt: number,
): void {
  w.u8(Msg.Done).u32(worker).raw(taskId).u8(status).u32(returns.length);
  for (const r of returns) w.u8(r.kind).bytes(r.payload);
  w.f64(startedAt).f64(endedAt);
}

/**
 * Reads a Done into `into`, whose objects are reused message after message (the node
 * manager reads one per task, and uses it before reading the next). Payloads are views
 * into the frame, not copies: whoever keeps one past the frame copies it.
 */
export function readDone(r: Reader, into: DoneMessage): DoneMessage {
  into.worker = r.u32();
  into.taskKey = r.latin1(TASK_ID_SIZE);
  into.status = r.u8() as DoneStatus;
  const n = r.u32();
  const returns = into.returns;
  for (let i = 0; i < n; i++) {
    const kind = r.u8() as ReturnKind;
    const payload = r.bytes();
    const ret = returns[i];
    if (ret) {
      ret.kind = kind;
      ret.payload = payload;
    } else returns.push({ kind, payload });
  }
  returns.length = n;
  into.startedAt = r.f64();
  into.endedAt = r.f64();
  return into;
}

/** The result of one object, sent to the worker that owns it. */
export interface ResultMessage {
  objectId: Buffer;
  status: DoneStatus;
  kind: ReturnKind;
  payload: Buffer;
}

export function writeResult(
  w: Writer,
  objectId: Uint8Array,
  status: DoneStatus,
  kind: ReturnKind,
  payload: Uint8Array,
): void {
  w.u8(Msg.Result).raw(objectId).u8(status).u8(kind).bytes(payload);
}

/** The i-th return of a finished task, as its owner gets it: a failure fails every return alike. */
export function returnOf(status: DoneStatus, returns: TaskReturn[], i: number): TaskReturn | undefined {
  return status === DoneStatus.Ok ? returns[i] : returns[0];
}

/** A result an actor sends its caller directly (Msg.DirectResult), written in place. */
export function writeDirectResult(
  w: Writer,
  actorIndex: number,
  objectId: Uint8Array,
  status: DoneStatus,
  kind: ReturnKind,
  payload: Uint8Array,
): void {
  w.u8(Msg.DirectResult).u32(actorIndex).raw(objectId).u8(status).u8(kind).bytes(payload);
}

export function readResult(r: Reader): ResultMessage {
  return {
    objectId: r.copy(OBJECT_ID_SIZE),
    status: r.u8() as DoneStatus,
    kind: r.u8() as ReturnKind,
    payload: keepPayload(r.bytes()),
  };
}

/**
 * The direct actor calls a worker ran (Msg.DirectCallsRan), kept in columns as they end and
 * sent as one frame: 100,000 calls a second must cost their worker almost nothing. Names and
 * actors repeat, so each call keeps their numbers in the batch's tables.
 */
export class DirectCallsBatch {
  /** Calls in the batch. */
  count = 0;
  private readonly keys: Uint8Array;
  private readonly times: Float64Array; // started, ended
  private readonly callers: Int32Array;
  private readonly nameIdx: Uint16Array;
  private readonly actorIdx: Uint16Array;
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly actors: Buffer[] = [];
  /** The last actor id given, as given (a hosted actor gives the same Buffer for every call). */
  private lastActorRef: Uint8Array | undefined;
  private lastActorIdx = 0;
  private readonly errors = new Map<number, Uint8Array>();

  constructor(readonly capacity: number) {
    this.keys = new Uint8Array(capacity * TASK_ID_SIZE);
    this.times = new Float64Array(capacity * 2);
    this.callers = new Int32Array(capacity);
    this.nameIdx = new Uint16Array(capacity);
    this.actorIdx = new Uint16Array(capacity);
  }

  /** Whether it can take no more (then send it). */
  get full(): boolean {
    return this.count >= this.capacity || this.names.length >= 0xffff || this.actors.length >= 0xffff;
  }

  /** One call: its task key (latin1), actor, name, times (started 0: refused), its error's record, its caller's index. */
  add(
    taskKey: string,
    actorId: Uint8Array,
    name: string,
    startedAt: number,
    endedAt: number,
    error: Uint8Array | undefined,
    caller: number,
  ): void {
    const i = this.count++;
    const at = i * TASK_ID_SIZE;
    for (let k = 0; k < TASK_ID_SIZE; k++) this.keys[at + k] = taskKey.charCodeAt(k);
    this.times[i * 2] = startedAt;
    this.times[i * 2 + 1] = endedAt;
    this.callers[i] = caller;
    let n = this.nameIds.get(name);
    if (n === undefined) {
      n = this.names.length;
      this.names.push(name);
      this.nameIds.set(name, n);
    }
    this.nameIdx[i] = n;
    if (actorId !== this.lastActorRef) {
      let a = this.actors.findIndex((x) => x.equals(actorId));
      if (a < 0) {
        a = this.actors.length;
        this.actors.push(Buffer.from(actorId));
      }
      this.lastActorRef = actorId;
      this.lastActorIdx = a;
    }
    this.actorIdx[i] = this.lastActorIdx;
    if (error) this.errors.set(i, Buffer.from(error));
  }

  /** The batch as Msg.DirectCallsRan's body (after the worker index). */
  write(w: Writer): void {
    const n = this.count;
    w.u32(n).u32(this.names.length);
    for (const s of this.names) w.str(s);
    w.u32(this.actors.length);
    for (const a of this.actors) w.raw(a);
    w.raw(this.keys.subarray(0, n * TASK_ID_SIZE));
    w.raw(new Uint8Array(this.times.buffer, 0, n * 16));
    w.raw(new Uint8Array(this.callers.buffer, 0, n * 4));
    w.raw(new Uint8Array(this.nameIdx.buffer, 0, n * 2));
    w.raw(new Uint8Array(this.actorIdx.buffer, 0, n * 2));
    w.u32(this.errors.size);
    for (const [i, e] of this.errors) w.u32(i).bytes(e);
  }
}

/** A Msg.DirectCallsRan body, read back: the same columns. */
export interface DirectCallsRead {
  count: number;
  names: string[];
  actors: Buffer[];
  /** 24 bytes a call. */
  keys: Buffer;
  /** started, ended a call. */
  times: Float64Array;
  callers: Int32Array;
  nameIdx: Uint16Array;
  actorIdx: Uint16Array;
  errors: Map<number, Buffer>;
}

/** Reads a Msg.DirectCallsRan body (copies: the frame's buffer is reused). */
export function readDirectCalls(r: Reader): DirectCallsRead {
  const count = r.u32();
  const names: string[] = [];
  for (let n = r.u32(); n > 0; n--) names.push(r.str());
  const actors: Buffer[] = [];
  for (let n = r.u32(); n > 0; n--) actors.push(r.copy(16));
  const keys = r.copy(count * TASK_ID_SIZE);
  // One copy each, into a buffer of its own (typed arrays need their element alignment).
  const column = (bytes: number) => {
    const out = new ArrayBuffer(bytes);
    new Uint8Array(out).set(r.raw(bytes));
    return out;
  };
  const times = new Float64Array(column(count * 16));
  const callers = new Int32Array(column(count * 4));
  const nameIdx = new Uint16Array(column(count * 2));
  const actorIdx = new Uint16Array(column(count * 2));
  const errors = new Map<number, Buffer>();
  for (let n = r.u32(); n > 0; n--) {
    const i = r.u32();
    errors.set(i, r.copy(r.u32()));
  }
  return { count, names, actors, keys, times, callers, nameIdx, actorIdx, errors };
}
