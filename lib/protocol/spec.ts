// Messages between the node manager and its workers. They travel as frames on
// shared-memory rings (channel.ts); each starts with a one-byte type. Packed
// by hand (codec.ts): this is the hot path of every task.

import { Reader, type Writer } from '../base/codec.js';
import { OBJECT_ID_SIZE, OWNER_ID_SIZE, TASK_ID_SIZE, taskKeyOf } from '../base/ids.js';
import { OUT_OF_BAND_THRESHOLD } from '../base/serialization.js';
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

  // either way: a message too large for a ring slot, parked in the store
  Blob = 30,
}

export enum TaskKind {
  Task = 0,
  ActorCreate = 1,
  ActorCall = 2,
}

/** How a function or class reaches a worker: its source text, or a module and export name. */
export interface FunctionDef {
  fnId: string;
  name: string;
  isClass: boolean;
  source: string; // empty for module functions
  moduleUrl: string; // empty for source functions
  exportName: string;
  /** Directory that `require` and `import()` inside the source resolve from. */
  baseDir: string;
}

/** Actor calls carry no function: the actor's process already has its class. */
export const NO_DEF: FunctionDef = {
  fnId: '',
  name: '',
  isClass: false,
  source: '',
  moduleUrl: '',
  exportName: '',
  baseDir: '',
};

export enum ArgKind {
  Value = 0, // serialized payload inline
  StoreRef = 1, // a top-level ObjectRef resolved to an object in the node's store
}

export interface TaskSpec {
  kind: TaskKind;
  taskId: Buffer; // 24 bytes
  fnId: string;
  name: string;
  numReturns: number;
  args: Buffer; // encoded by encodeArgs
  /** Refs the args depend on (kept alive by the owner until the task ends). */
  demand: Record<string, number>;
  maxRetries: number;
  retryExceptions: boolean;
  actorId: Buffer; // 16 bytes; zeros for tasks
  method: string;
  maxConcurrency: number;
  /** Scheduling strategy across nodes, JSON ('' = DEFAULT). */
  strategy: string;
}

/** The fields of a spec that every call of one function (with one set of options) shares. */
export type SpecBase = Omit<TaskSpec, 'taskId' | 'args'>;

/**
 * A spec as its submitter makes it: its own task id and arguments, the rest read
 * from a base shared by every call of the function. A million queued tasks keep a
 * million specs: this one is 48 bytes where a plain object of all fields is 128.
 * Spreading one ({ ...spec }) copies only its own fields: use withSpec.
 */
export class CallSpec implements TaskSpec {
  constructor(
    private readonly base: SpecBase,
    /** The task id as a latin1 string (IdGenerator.nextTaskKey): smaller than a Buffer. */
    readonly key: string,
    readonly args: Buffer,
  ) {}
  /** A new Buffer each time: hot paths use `key` (writeSpec, the node manager). */
  get taskId(): Buffer {
    return Buffer.from(this.key, 'latin1');
  }
  get kind(): TaskKind {
    return this.base.kind;
  }
  get fnId(): string {
    return this.base.fnId;
  }
  get name(): string {
    return this.base.name;
  }
  get numReturns(): number {
    return this.base.numReturns;
  }
  get demand(): Record<string, number> {
    return this.base.demand;
  }
  get maxRetries(): number {
    return this.base.maxRetries;
  }
  get retryExceptions(): boolean {
    return this.base.retryExceptions;
  }
  get actorId(): Buffer {
    return this.base.actorId;
  }
  get method(): string {
    return this.base.method;
  }
  get maxConcurrency(): number {
    return this.base.maxConcurrency;
  }
  get strategy(): string {
    return this.base.strategy;
  }
}

/** A spec's task id as a latin1 key (ids.ts taskKeyOf): a CallSpec or SpecView keeps it so already. */
export function specKey(s: TaskSpec): string {
  // A property read, not instanceof checks: this runs for every task the node manager takes.
  return (s as { key?: string }).key ?? taskKeyOf(s.taskId);
}

/** A copy of a spec with some fields changed (a plain object: works for CallSpec too, unlike a spread). */
export function withSpec(s: TaskSpec, change: Partial<TaskSpec>): TaskSpec {
  return {
    kind: s.kind,
    taskId: s.taskId,
    fnId: s.fnId,
    name: s.name,
    numReturns: s.numReturns,
    args: s.args,
    demand: s.demand,
    maxRetries: s.maxRetries,
    retryExceptions: s.retryExceptions,
    actorId: s.actorId,
    method: s.method,
    maxConcurrency: s.maxConcurrency,
    strategy: s.strategy,
    ...change,
  };
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

const ZERO_ACTOR = Buffer.alloc(OWNER_ID_SIZE);
export { ZERO_ACTOR };

// Demands repeat (one object per remote function and options): their JSON is
// made once per object when written, and parsed once per distinct text when read.
const demandJson = new WeakMap<Record<string, number>, string>();
const demandParsed = new Map<string, Record<string, number>>();
const DEMAND_CACHE_MAX = 1024;

function demandText(d: Record<string, number>): string {
  let s = demandJson.get(d);
  if (s === undefined) {
    s = JSON.stringify(d);
    demandJson.set(d, s);
  }
  return s;
}

function parseDemand(text: string): Record<string, number> {
  let d = demandParsed.get(text);
  if (d === undefined) {
    // Shared between specs: frozen so no reader can change another's demand.
    d = Object.freeze(JSON.parse(text) as Record<string, number>);
    if (demandParsed.size >= DEMAND_CACHE_MAX) demandParsed.clear();
    demandParsed.set(text, d);
  }
  return d;
}

// A spec on the wire: its task id first, then the fields the node manager reads for every
// task at fixed offsets (SpecView reads them without decoding the rest), then the rest of
// what every call of one function or method shares, the arguments last. Everything
// between the task id and the arguments is the spec's base (SpecBase): workers decode it
// once per distinct bytes (readSpecBase).
const SPEC_KEY_AT = 0;
const SPEC_BASE_AT = SPEC_KEY_AT + TASK_ID_SIZE;
const SPEC_ACTOR_AT = SPEC_BASE_AT + 1;
const SPEC_FIXED_BYTES = SPEC_ACTOR_AT + OWNER_ID_SIZE + 4 + 4 + 1;

export function writeSpec(w: Writer, s: TaskSpec): void {
  if (s instanceof SpecView) {
    // Forwarded as it came: an actor call routed by the node manager is never re-encoded.
    w.raw(s.bytes);
    return;
  }
  if (s instanceof CallSpec) w.latin1(s.key);
  else w.raw(s.taskId);
  w.u8(s.kind)
    .raw(s.actorId)
    .u32(s.numReturns)
    .u32(s.maxRetries)
    .bool(s.retryExceptions)
    .str(s.fnId)
    .str(s.name)
    .str(demandText(s.demand))
    .str(s.method)
    .u32(s.maxConcurrency)
    .str(s.strategy)
    .bytes(s.args);
}

const BASE_CACHE_MAX = 16;
const baseCache: Array<{ bytes: Buffer; base: SpecBase }> = [];
let baseCacheNext = 0;

/**
 * Reads a spec's base (everything but its task id and arguments). A worker reads one for
 * every call it runs, and decoding its five strings and two ids each time was a third of
 * an actor's time per call: the bytes are compared with the few bases seen last (one
 * native compare each) and a match is shared. Shared bases are never written to.
 */
function readSpecBase(r: Reader): SpecBase {
  const from = r.pos;
  skipSpecBase(r);
  for (const c of baseCache) if (r.spanEquals(c.bytes, from)) return c.base;
  const bytes = r.copySpan(from);
  const d = new Reader(bytes);
  const base: SpecBase = {
    kind: d.u8() as TaskKind,
    actorId: actorIdOf(d.raw(OWNER_ID_SIZE)),
    numReturns: d.u32(),
    maxRetries: d.u32(),
    retryExceptions: d.bool(),
    fnId: d.str(),
    name: d.str(),
    demand: parseDemand(d.str()),
    method: d.str(),
    maxConcurrency: d.u32(),
    strategy: d.str(),
  };
  if (baseCache.length < BASE_CACHE_MAX) baseCache.push({ bytes, base });
  else baseCache[baseCacheNext++ % BASE_CACHE_MAX] = { bytes, base };
  return base;
}

/** Steps r (at a spec's base) over the base, to its arguments. */
function skipSpecBase(r: Reader): void {
  r.skip(SPEC_FIXED_BYTES - SPEC_BASE_AT);
  r.skipBytes().skipBytes().skipBytes().skipBytes().skip(4).skipBytes();
}

/** A copy of the id, or for plain tasks (all zeros) the one shared ZERO_ACTOR: never written to. */
function actorIdOf(view: Buffer): Buffer {
  for (let i = 0; i < view.length; i++) if (view[i] !== 0) return Buffer.from(view);
  return ZERO_ACTOR;
}

/** A spec as a worker receives it: its own task id (a latin1 key) and arguments over a shared base. */
export function readSpec(r: Reader): TaskSpec {
  const key = r.latin1(TASK_ID_SIZE);
  const base = readSpecBase(r);
  // The frame's buffer is reused: a queued call keeps its own copy, which starts aligned so
  // that the payloads encodeArgs aligned within it are aligned in memory too.
  const args = copyArgs(r.bytes());
  return new CallSpec(base, key, args);
}

/**
 * A copy of a spec's arguments. Large ones (which may hold out-of-band typed arrays) go
 * into a buffer of their own, at offset 0 of an ArrayBuffer, rather than Node's shared pool.
 */
function copyArgs(view: Buffer): Buffer {
  if (view.length < OUT_OF_BAND_THRESHOLD) return Buffer.from(view);
  const out = Buffer.allocUnsafeSlow(view.length);
  out.set(view);
  return out;
}

/**
 * A spec kept as the bytes it arrived in (the rest of a Submit frame, copied once). The
 * fields every task needs are read at once; the others are decoded on first use, which
 * for an actor call the node manager only routes is never: writeSpec forwards the bytes.
 */
export class SpecView implements TaskSpec {
  readonly kind: TaskKind;
  /** The task id as a latin1 string (ids.ts taskKeyOf). */
  readonly key: string;
  readonly numReturns: number;
  readonly maxRetries: number;
  readonly retryExceptions: boolean;
  private base: SpecBase | undefined;
  private argsView: Buffer | undefined;
  private actorView: Buffer | undefined;

  /**
   * bytes: one whole spec, owned by this view (never a view into a ring), at least
   * SPEC_FIXED_BYTES long (read() checks). Read at fixed offsets: a queued task is one
   * object fewer without a Reader or an actor id view made for it.
   */
  constructor(readonly bytes: Buffer) {
    this.key = taskKeyOf(bytes); // the task id is first (SPEC_KEY_AT)
    this.kind = bytes[SPEC_BASE_AT] as TaskKind;
    const at = SPEC_ACTOR_AT + OWNER_ID_SIZE;
    this.numReturns = bytes.readUInt32LE(at);
    this.maxRetries = bytes.readUInt32LE(at + 4);
    this.retryExceptions = bytes[at + 8] !== 0;
  }

  /** A view of the owned bytes, made on first use (plain tasks never ask): nothing writes to it. */
  get actorId(): Buffer {
    this.actorView ??= this.bytes.subarray(SPEC_ACTOR_AT, SPEC_ACTOR_AT + OWNER_ID_SIZE);
    return this.actorView;
  }

  /** Reads the spec filling the rest of r's frame (a Submit). */
  static read(r: Reader): SpecView {
    if (r.remaining < SPEC_FIXED_BYTES) throw new RangeError(`truncated task spec: ${r.remaining} bytes`);
    return new SpecView(r.copy(r.remaining));
  }

  get taskId(): Buffer {
    return this.bytes.subarray(SPEC_KEY_AT, SPEC_BASE_AT);
  }
  private get rest(): SpecBase {
    this.base ??= readSpecBase(new Reader(this.bytes, SPEC_BASE_AT));
    return this.base;
  }
  /** A view of the owned bytes, made on first use (the node manager forwards specs whole). */
  get args(): Buffer {
    if (this.argsView === undefined) {
      const r = new Reader(this.bytes, SPEC_BASE_AT);
      skipSpecBase(r);
      this.argsView = r.bytes();
    }
    return this.argsView;
  }
  get fnId(): string {
    return this.rest.fnId;
  }
  get name(): string {
    return this.rest.name;
  }

  get demand(): Record<string, number> {
    return this.rest.demand;
  }
  get method(): string {
    return this.rest.method;
  }
  get maxConcurrency(): number {
    return this.rest.maxConcurrency;
  }
  get strategy(): string {
    return this.rest.strategy;
  }
}

export function writeDef(w: Writer, d: FunctionDef): void {
  w.str(d.fnId).str(d.name).bool(d.isClass).str(d.source).str(d.moduleUrl).str(d.exportName).str(d.baseDir);
}

export function readDef(r: Reader): FunctionDef {
  return {
    fnId: r.str(),
    name: r.str(),
    isClass: r.bool(),
    source: r.str(),
    moduleUrl: r.str(),
    exportName: r.str(),
    baseDir: r.str(),
  };
}

/** One argument as the worker receives it. */
export type WireArg = { kind: ArgKind.Value; payload: Buffer } | { kind: ArgKind.StoreRef; id: Buffer };

/** The encoding of no arguments, shared (never written to): queued tasks each keep theirs. */
const NO_ARGS = Buffer.alloc(4);

/**
 * Where in the arguments a payload of len bytes starts, its length prefix ending at pos.
 * Payloads large enough to hold out-of-band typed arrays (serialization.ts) start at a
 * multiple of 8 (the widest element), so that a Float64Array in one is aligned in memory
 * when the arguments are (readSpec): the worker reads it in place. Smaller payloads have
 * no such views and are packed with no padding (most arguments: nothing added to them).
 */
function argStart(pos: number, len: number): number {
  return len < OUT_OF_BAND_THRESHOLD ? pos : (pos + 7) & ~7;
}

export function encodeArgs(args: WireArg[]): Buffer {
  if (args.length === 0) return NO_ARGS;
  // Sized exactly and allocated once: the buffer lives as long as the task is queued.
  let size = 4;
  let aligned = false;
  for (const a of args) {
    if (a.kind === ArgKind.Value) {
      const len = a.payload.length;
      if (len >= OUT_OF_BAND_THRESHOLD) aligned = true;
      size = argStart(size + 5, len) + len;
    } else size += 1 + OBJECT_ID_SIZE;
  }
  // With aligned payloads the buffer itself must start aligned: its own ArrayBuffer, not a
  // slice of Node's pool.
  const out = aligned ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
  let pos = out.writeUInt32LE(args.length, 0);
  for (const a of args) {
    out[pos++] = a.kind;
    if (a.kind === ArgKind.Value) {
      const len = a.payload.length;
      pos = out.writeUInt32LE(len, pos);
      const start = argStart(pos, len);
      if (start > pos) out.fill(0, pos, start); // no stale memory in the padding
      pos = start;
      out.set(a.payload, pos);
      pos += len;
    } else {
      out.set(a.id, pos);
      pos += OBJECT_ID_SIZE;
    }
  }
  return out;
}

export function decodeArgs(buf: Buffer): WireArg[] {
  const r = new Reader(buf);
  const n = r.u32();
  const out: WireArg[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.u8() as ArgKind;
    if (kind === ArgKind.Value) {
      const len = r.u32();
      r.skip(argStart(r.pos, len) - r.pos);
      out.push({ kind, payload: r.raw(len) });
    } else out.push({ kind: ArgKind.StoreRef, id: r.raw(OBJECT_ID_SIZE) });
  }
  return out;
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
