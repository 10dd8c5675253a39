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
}

export function writeDone(
  w: Writer,
  worker: number,
  taskId: Uint8Array,
  status: DoneStatus,
  returns: TaskReturn[],
): void {
  w.u8(Msg.Done).u32(worker).raw(taskId).u8(status).u32(returns.length);
  for (const r of returns) w.u8(r.kind).bytes(r.payload);
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
