// The task spec: what a task or actor call is (TaskSpec, and its two compact
// forms CallSpec and SpecView), how its function reaches a worker
// (FunctionDef), and how both and its arguments are packed on the wire. The
// messages that carry them are worker-messages.ts's. Packed by hand
// (codec.ts): this is the hot path of every task.

import { Reader, type Writer } from '../base/codec.js';
import { OBJECT_ID_SIZE, OWNER_ID_SIZE, TASK_ID_SIZE, taskKeyOf } from '../base/ids.js';
import { OUT_OF_BAND_THRESHOLD } from '../base/serialization.js';

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
  /**
   * With retryExceptions: the error class and error names that are retried, a JSON array
   * ('' = every error). Read by the node only when a task threw (node-manager.ts).
   */
  retryOn: string;
  /** An actor call's concurrency group ('' = the default group, limited by maxConcurrency). */
  concurrencyGroup: string;
  /**
   * '' for a call that returns values; for a streaming generator task or actor call, its
   * marker (protocol/streaming.ts: 'streaming', or 'streaming:n' with backpressure n).
   */
  stream: string;
  /**
   * The job the call belongs to (job.ts: its id and namespace): its submitter's, or for a
   * call submitted inside an actor or task, that one's. '' when unknown.
   */
  job: string;
  /**
   * The runtime env the call runs in (protocol/runtime-env.ts: canonical JSON, '' for none):
   * a node runs it on a worker started for that env. Actor calls carry none (their actor's
   * process has its env).
   */
  runtimeEnv: string;
}

/**
 * The fields of a spec that every call of one function (with one set of options) shares.
 * Its job is the submitting call's (CallSpec's own); a base read off the wire has it.
 */
export interface SpecBase extends Omit<TaskSpec, 'taskId' | 'args' | 'job'> {
  job?: string;
}

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
    /** The job it belongs to (one string shared by every call of a job). */
    readonly job = '',
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
  get retryOn(): string {
    return this.base.retryOn;
  }
  get concurrencyGroup(): string {
    return this.base.concurrencyGroup;
  }
  get stream(): string {
    return this.base.stream;
  }
  get runtimeEnv(): string {
    return this.base.runtimeEnv;
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
    retryOn: s.retryOn,
    concurrencyGroup: s.concurrencyGroup,
    stream: s.stream,
    job: s.job,
    runtimeEnv: s.runtimeEnv,
    ...change,
  };
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
    .str(methodField(s))
    .u32(s.maxConcurrency)
    .str(s.strategy)
    .str(s.retryOn)
    .str(s.job)
    .str(s.runtimeEnv)
    .bytes(s.args);
}

// A task's method field is its stream marker ('' for a plain task: protocol/streaming.ts).
// An actor call's concurrency group and stream marker travel inside its method field, each
// after a NUL (which no method name has): a plain call in the default group costs no byte
// more, and the worker splits the field once per distinct base (readSpecBase caches it),
// not once per call.
const FIELD_SEP = '\0';

function methodField(s: TaskSpec): string {
  if (s.kind !== TaskKind.ActorCall) return s.kind === TaskKind.Task ? s.stream : s.method;
  if (s.stream !== '') return `${s.method}${FIELD_SEP}${s.concurrencyGroup}${FIELD_SEP}${s.stream}`;
  return s.concurrencyGroup === '' ? s.method : `${s.method}${FIELD_SEP}${s.concurrencyGroup}`;
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
  const kind = d.u8() as TaskKind;
  const base: SpecBase = {
    kind,
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
    retryOn: d.str(),
    job: d.str(),
    runtimeEnv: d.str(),
    concurrencyGroup: '',
    stream: '',
  };
  if (kind === TaskKind.Task) {
    base.stream = base.method;
    base.method = '';
  }
  // (An ActorCreate's method field is its options' JSON, which never holds a raw NUL.)
  const sep = kind === TaskKind.ActorCall ? base.method.indexOf(FIELD_SEP) : -1;
  if (sep >= 0) {
    const parts = base.method.split(FIELD_SEP);
    base.method = parts[0] as string;
    base.concurrencyGroup = parts[1] ?? '';
    base.stream = parts[2] ?? '';
  }
  if (baseCache.length < BASE_CACHE_MAX) baseCache.push({ bytes, base });
  else baseCache[baseCacheNext++ % BASE_CACHE_MAX] = { bytes, base };
  return base;
}

/** Steps r (at a spec's base) over the base, to its arguments. */
function skipSpecBase(r: Reader): void {
  r.skip(SPEC_FIXED_BYTES - SPEC_BASE_AT);
  r.skipBytes().skipBytes().skipBytes().skipBytes().skip(4).skipBytes().skipBytes().skipBytes().skipBytes();
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
  return new CallSpec(base, key, args, base.job);
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
  get retryOn(): string {
    return this.rest.retryOn;
  }
  get concurrencyGroup(): string {
    return this.rest.concurrencyGroup;
  }
  get stream(): string {
    return this.rest.stream;
  }
  get job(): string {
    return this.rest.job ?? '';
  }
  get runtimeEnv(): string {
    return this.rest.runtimeEnv;
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
