// `sunray.remote(class)`: an actor class. Each `.remote(...)` starts one
// worker process that constructs the instance and then runs its method calls.
// Handles are typed from the class, so a misspelled method or a wrong
// argument fails to compile. A handle is a Uint8Array of the actor's id,
// which lets it travel inside values to tasks and other actors. A generator
// method streams what it yields (an ObjectRefGenerator, as a generator task
// does). How its concurrency is decided is actor-concurrency.ts's;
// maxPendingCalls is counted by pending-calls.ts.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { InvalidArgumentError } from '../base/errors.js';
import { OWNER_ID_SIZE } from '../base/ids.js';
import type { ObjectRef } from '../base/object-ref.js';
import { registerHostType } from '../base/serialization.js';
import {
  type ActorIsolation,
  type ActorRegistration,
  encodeActorOptions,
  type HandleHints,
} from '../protocol/actor-options.js';
import { resolveRuntimeEnv } from '../protocol/resolve-runtime-env.js';
import type { RuntimeEnv } from '../protocol/runtime-env.js';
import { NO_DEF, type SpecBase, TaskKind } from '../protocol/spec.js';
import { streamMarker } from '../protocol/streaming.js';
import type { ActorCreateReply } from '../worker/backend.js';
import type { Runtime } from '../worker/context.js';
import type { ObjectRefGenerator } from '../worker/generator-stream.js';
import {
  actorMaxConcurrency,
  checkCallGroup,
  checkConcurrencyGroups,
  checkMaxPendingCalls,
  hasAsyncMethods,
} from './actor-concurrency.js';
import { checkIsolation } from './actor-isolation.js';
import { PendingCalls } from './pending-calls.js';
import { capturedBase, groupStrategy, inGroup } from './placement-group.js';
import {
  callReturns,
  checkReturnOptions,
  demandOf,
  generatorKind,
  makeDef,
  type ObjectRefs,
  type RemoteArgs,
  type RemoteResult,
  type ResourceOptions,
  type SchedulingStrategy,
  strategyOf,
  type YieldOf,
} from './remote-function.js';
import { currentRuntimeOrStart } from './runtime.js';

/**
 * Options of an actor class (`remote(Class, opts)`, `Cls.options(opts)`). G: the names of its
 * concurrency groups (inferred from `concurrencyGroups`).
 */
export interface ActorOptions<G extends string = string> extends ResourceOptions {
  /** Register the actor under this name (see getActor). */
  name?: string;
  /** Namespace of the name (default: the one given to init). */
  namespace?: string;
  /** 'detached': the actor outlives its owner until killed or the node stops. */
  lifetime?: 'detached' | 'non_detached';
  /** Restarts after its process dies (default 0; -1: unlimited). State is rebuilt by the constructor. */
  maxRestarts?: number;
  /** Retries of a call that was running when the process died (default 0; -1: unlimited). */
  maxTaskRetries?: number;
  /**
   * Calls of the default concurrency group that may run at once (async methods interleave at
   * their awaits). Default, as in Ray: 1000 for a class with any async method, else 1 (calls
   * run one at a time in arrival order). An explicit value always wins.
   */
  maxConcurrency?: number;
  /**
   * Named concurrency groups and their limits, e.g. `{ io: 10, compute: 1 }` (Ray's
   * concurrency_groups). A call made with `.options({ concurrencyGroup: 'io' })` runs in that
   * group, under that group's limit; other calls run in the default group (maxConcurrency).
   */
  concurrencyGroups?: Record<G, number>;
  /**
   * Calls a caller may have unanswered on its handles to this actor; the next one throws
   * PendingCallsLimitError from `.remote()` at once (Ray's max_pending_calls). Default -1: no limit.
   */
  maxPendingCalls?: number;
  /** With a name: return the existing actor of that name rather than failing. */
  getIfExists?: boolean;
  /** Where in a cluster the actor is placed (see TaskOptions.schedulingStrategy). */
  schedulingStrategy?: SchedulingStrategy;
  /** Its process's runtime env, merged over the job's (TaskOptions.runtimeEnv; not for isolation: 'shared'). */
  runtimeEnv?: RuntimeEnv;
  /**
   * 'process' (the default, Ray's semantics): the actor is a worker process of its own.
   * 'shared': it lives in a host process with other shared actors, so thousands fit on a
   * node and one starts in well under a millisecond once its host runs. It keeps its own
   * state, call order, maxConcurrency, restarts, name and lifetime, and needs no CPU unless
   * it asks; but a crash of its host (or process.exit in any of its actors) restarts or ends
   * every actor there, under each one's maxRestarts, and a method that blocks the event loop
   * stalls its neighbours. Calls from other workers go through the node manager (no direct
   * channel). No GPUs (CUDA_VISIBLE_DEVICES is per process). See docs/actors.md.
   */
  isolation?: ActorIsolation;
  /** For a shared actor: the most shared actors a host process it joins may hold (default 1000). */
  actorsPerProcess?: number;
}

/** Any function (every function type is assignable to it). */
type AnyFn = (...args: never[]) => unknown;
/** Any class (its parameters and instances are read from the class itself). */
export type AnyClass = abstract new (...args: never[]) => unknown;
/** An actor found by name with no class given (getActor): any method, arguments and results unknown. */
export type UntypedActor = Record<string, (...args: unknown[]) => unknown>;

/** Names of T's methods. */
export type MethodNames<T> = { [K in keyof T]: T[K] extends AnyFn ? K : never }[keyof T] & string;

/** Options of one actor method call (`handle.method.options(...)`); G: the actor's group names. */
export interface ActorMethodOptions<G extends string = string> {
  /**
   * Results the method returns (an array of that length); default 1. 'streaming': the call
   * gives an ObjectRefGenerator of what the method's result iterates (the default for a
   * generator method; a handle that cannot know which methods are, such as a worker's
   * getIfExists handle, needs it said).
   */
  numReturns?: number | 'streaming';
  /**
   * For a streaming call: the generator pauses while this many of its values are unconsumed
   * by the caller (default: no limit), as TaskOptions.generatorBackpressure.
   */
  generatorBackpressure?: number;
  /** The call's name in errors and logs (default `Class.method`). */
  name?: string;
  /** The concurrency group the call runs in: one the actor declared (default: the default group). */
  concurrencyGroup?: G;
}

/**
 * One method of an actor handle: `.remote(...args)` calls it; G: the actor's concurrency
 * group names. A generator method's calls give an ObjectRefGenerator of what it yields.
 */
export interface ActorMethod<A extends unknown[], R, G extends string = string> {
  /** Calls the method: its result ref at once (for a generator method, an ObjectRefGenerator). */
  remote(...args: RemoteArgs<A>): RemoteResult<R>;
  /** The method streaming what its result iterates: each call gives an ObjectRefGenerator. */
  options(opts: ActorMethodOptions<G> & { numReturns: 'streaming' }): StreamingActorMethod<A, R, G>;
  /** The method with per-call options (numReturns, name, concurrencyGroup). */
  options(opts: ActorMethodOptions<G> & { numReturns?: 1 }): ActorMethod<A, R, G>;
  /** With `numReturns: n`: each call gives n refs, one per element of the returned array. */
  options(opts: ActorMethodOptions<G> & { numReturns: number }): {
    /** Calls the method: one ref per returned element, at once. */
    remote(...args: RemoteArgs<A>): ObjectRefs<Awaited<R>>;
  };
}

/** An actor method called with `numReturns: 'streaming'`: its calls give ObjectRefGenerators. */
export interface StreamingActorMethod<A extends unknown[], R, G extends string = string> {
  /** Calls the method: the refs of the values its result yields, as they are yielded. */
  remote(...args: RemoteArgs<A>): ObjectRefGenerator<YieldOf<R>>;
  /** The method with other options for its calls (still streaming). */
  options(opts: ActorMethodOptions<G>): StreamingActorMethod<A, R, G>;
}

/** A handle to an actor of class T: one `.remote()` per method. G: its concurrency group names. */
export type ActorHandle<T, G extends string = string> = {
  readonly [K in MethodNames<T>]: T[K] extends (...args: infer A) => infer R ? ActorMethod<A, R, G> : never;
} & ActorHandleBase;

/** An actor class (`remote(Class)`): `.remote(...args)` starts an actor. G: its concurrency group names. */
export interface ActorClass<C extends AnyClass, G extends string = never> {
  /** Starts an actor of the class: a typed handle at once. */
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>, G>;
  /** The class with more options (those given replace the class's own). */
  options<const G2 extends string = G>(opts: ActorOptions<G2>): ActorClass<C, G2>;
}

/** What a handle knows of its actor beyond its id, class and methods (travels with it). */
export interface HandleInfo {
  /** maxPendingCalls (-1: no limit). */
  maxPendingCalls: number;
  /** Its concurrency group names; undefined when not known (a worker's getIfExists handle). */
  groups: readonly string[] | undefined;
  /** Its generator methods (their calls stream); empty when not known (a worker's getIfExists handle). */
  generators: readonly string[];
}

/** A handle that knows nothing more: no limit, groups unknown (checked by the actor). */
const UNKNOWN_INFO: HandleInfo = Object.freeze({ maxPendingCalls: -1, groups: undefined, generators: [] });

/** What each handle knows of its actor beyond its id (read when a method is bound or the handle sent). */
const handleInfo = new WeakMap<ActorHandleBase, HandleInfo>();

function infoOf(h: ActorHandleBase): HandleInfo {
  return handleInfo.get(h) ?? UNKNOWN_INFO;
}

/** What an actor's registration tells later handles (getActor's): undefined when all are defaults. */
function hintsOf(info: HandleInfo): HandleHints | undefined {
  const hints: HandleHints = {
    ...(info.maxPendingCalls > 0 ? { maxPendingCalls: info.maxPendingCalls } : {}),
    ...(info.groups && info.groups.length > 0 ? { groups: [...info.groups] } : {}),
    ...(info.generators.length > 0 ? { generators: [...info.generators] } : {}),
  };
  return Object.keys(hints).length > 0 ? hints : undefined;
}

/** What a handle found by name knows of its actor (from its registration's hints). */
export function infoFromHints(hints: HandleHints | undefined): HandleInfo {
  return {
    maxPendingCalls: hints?.maxPendingCalls ?? -1,
    groups: hints?.groups ?? [],
    generators: hints?.generators ?? [],
  };
}

/** Defines h's methods (each computes what it needs of h's info once: calls are the hot path). */
function bindMethods(h: ActorHandleBase, methods: readonly string[]): void {
  for (const m of methods) {
    // Never shadow Uint8Array's own members (a method defined here before is redefined).
    if (m in h && !Object.hasOwn(h, m)) continue;
    Object.defineProperty(h, m, { value: actorMethod(h, m, {}), enumerable: false, configurable: true });
  }
}

/** A handle learned what its actor's registration says (a worker's getIfExists handle): its methods use it from now on. */
function learnInfo(h: ActorHandleBase, info: HandleInfo): void {
  handleInfo.set(h, info);
  bindMethods(h, h.methodNames);
}

/** This process's unanswered calls per actor, for actors with maxPendingCalls. */
const pendingCalls = new PendingCalls();

const handles = new FinalizationRegistry<{ hex: string; rt: Runtime }>(({ hex, rt }) => {
  const n = (ownedHandleCounts.get(hex) ?? 1) - 1;
  if (n > 0) {
    ownedHandleCounts.set(hex, n);
    return;
  }
  ownedHandleCounts.delete(hex);
  if (escapedActors.has(hex)) return;
  rt.backend.request('releaseActor', Buffer.from(hex, 'hex')).catch(() => {});
});
const ownedHandleCounts = new Map<string, number>();
const escapedActors = new Set<string>();

/** The runtime part of every handle. */
export class ActorHandleBase extends Uint8Array {
  /** @internal Uint8Array methods that make new arrays (subarray, map, slice) must not make handles. */
  static get [Symbol.species]() {
    return Uint8Array;
  }

  /** The actor's id (hex). */
  declare readonly actorId: string;
  /** The name of the actor's class. */
  declare readonly className: string;
  /** The names of the methods the handle can call. */
  declare readonly methodNames: readonly string[];

  /** @internal */
  constructor(
    id: Uint8Array,
    className: string,
    methods: readonly string[],
    owned: boolean,
    rt: Runtime,
    info: HandleInfo = UNKNOWN_INFO,
  ) {
    super(OWNER_ID_SIZE);
    this.set(id);
    const hex = Buffer.from(id).toString('hex');
    Object.defineProperties(this, {
      actorId: { value: hex },
      className: { value: className },
      methodNames: { value: Object.freeze([...methods]) },
    });
    // Kept beside the handle, not on it: a method may be named anything (`info` too).
    handleInfo.set(this, info);
    bindMethods(this, methods);
    if (owned) {
      ownedHandleCounts.set(hex, (ownedHandleCounts.get(hex) ?? 0) + 1);
      handles.register(this, { hex, rt });
    }
  }

  /** Calls a method by name (for methods whose names collide with Uint8Array's, such as `set`). */
  method(name: string): ActorMethod<unknown[], unknown> {
    return actorMethod(this, name, {}) as unknown as ActorMethod<unknown[], unknown>;
  }

  override toString(): string {
    return `ActorHandle(${this.className}, ${this.actorId})`;
  }

  /** What console.log and util.inspect show: 'ActorHandle(<class>, <id>)'. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** Actor calls hold no resources of their own (the actor holds them). */
const NO_DEMAND: Record<string, number> = Object.freeze({});

/** A handle's method as it is at run time (ActorMethod types it per method). */
interface UntypedActorMethod {
  remote(
    ...args: unknown[]
  ): ObjectRef<unknown> | ObjectRef<unknown>[] | ObjectRefGenerator<unknown> | undefined;
  options(next: ActorMethodOptions): UntypedActorMethod;
}

function actorMethod(h: ActorHandleBase, method: string, o: ActorMethodOptions): UntypedActorMethod {
  // Computed once per method, not per call: calls are the hot path.
  const name = o.name ?? `${h.className}.${method}`;
  const actorId = Buffer.from(h);
  const info = infoOf(h);
  checkReturnOptions(o);
  const { streaming, numReturns, backpressure } = callReturns(
    o,
    info.generators.includes(method) ? `${name} is a generator method` : undefined,
  );
  const concurrencyGroup = checkCallGroup(o.concurrencyGroup, info.groups, name);
  const limit = info.maxPendingCalls;
  // Shared by every call's spec (protocol.ts CallSpec), so never changed.
  const base: SpecBase = Object.freeze({
    kind: TaskKind.ActorCall,
    fnId: '',
    name,
    numReturns,
    demand: NO_DEMAND,
    maxRetries: 0,
    retryExceptions: false,
    actorId,
    method,
    maxConcurrency: 1,
    strategy: '',
    retryOn: '',
    concurrencyGroup,
    stream: streaming ? streamMarker(backpressure) : '',
    runtimeEnv: '',
  });
  return {
    remote(...args: unknown[]) {
      const rt = currentRuntimeOrStart();
      if (limit > 0) return limitedCall(rt, h.actorId, limit, base, args, backpressure);
      if (streaming) return rt.core.submitStreaming(NO_DEF, base, args, backpressure);
      const refs = rt.core.submit(NO_DEF, base, args);
      return numReturns === 1 ? refs[0] : refs;
    },
    options(next: ActorMethodOptions) {
      return actorMethod(h, method, { ...o, ...next });
    },
  };
}

/** A call to an actor with maxPendingCalls: refused past the limit, counted until answered. */
function limitedCall(
  rt: Runtime,
  actorHex: string,
  limit: number,
  base: SpecBase,
  args: unknown[],
  backpressure: number,
) {
  pendingCalls.admit(actorHex, limit, base.name);
  if (base.stream !== '') {
    // A streaming call is answered when its generator has ended.
    const gen = rt.core.submitStreaming(NO_DEF, base, args, backpressure);
    rt.core.whenSettled(gen.completed, () => pendingCalls.done(actorHex));
    return gen;
  }
  const refs = rt.core.submit(NO_DEF, base, args);
  const last = refs[refs.length - 1];
  // Every return settles at once (one answer per call): the last one stands for the call.
  if (last) rt.core.whenSettled(last, () => pendingCalls.done(actorHex));
  else pendingCalls.done(actorHex);
  return base.numReturns === 1 ? refs[0] : refs;
}

/**
 * A handle as it crosses processes: its actor's id, class and method names, and what its
 * creator knew (maxPendingCalls as p, the concurrency group names as g, the generator
 * methods as s), when set.
 */
export interface HandleWire {
  id: string;
  c: string;
  m: readonly string[];
  p?: number;
  g?: readonly string[];
  s?: readonly string[];
}

/**
 * A handle on its way to another process. The actor then outlives this process's last handle
 * object (others hold it now), so this is also what wrappers of a handle (Queue) must call.
 */
export function handleToWire(h: ActorHandleBase): HandleWire {
  escapedActors.add(h.actorId);
  const { maxPendingCalls: p, groups: g, generators: s } = infoOf(h);
  return {
    id: h.actorId,
    c: h.className,
    m: h.methodNames,
    ...(p > 0 ? { p } : {}),
    ...(g ? { g } : {}),
    ...(s.length > 0 ? { s } : {}),
  };
}

/** A handle again, in the process a HandleWire arrived in (not its owner's). */
export function handleFromWire(o: HandleWire): ActorHandleBase {
  const info: HandleInfo =
    o.p === undefined && o.g === undefined && o.s === undefined
      ? UNKNOWN_INFO
      : { maxPendingCalls: o.p ?? -1, groups: o.g, generators: o.s ?? [] };
  return new ActorHandleBase(Buffer.from(o.id, 'hex'), o.c, o.m, false, currentRuntimeOrStart(), info);
}

registerHostType<ActorHandleBase>({
  name: 'ActorHandle',
  test: (x): x is ActorHandleBase => x instanceof ActorHandleBase,
  write: (h) => Buffer.from(JSON.stringify(handleToWire(h))),
  read: (bytes) => handleFromWire(JSON.parse(bytes.toString()) as HandleWire),
});

/** A typed handle to the actor of that id (the API's and getActor's way to make one). */
export function makeHandle<T, G extends string = string>(
  id: Uint8Array,
  className: string,
  methods: readonly string[],
  owned: boolean,
  rt: Runtime,
  info?: HandleInfo,
) {
  return new ActorHandleBase(id, className, methods, owned, rt, info) as ActorHandle<T, G>;
}

/** Method names of a class, including inherited ones (not the constructor). */
function methodNamesOf(cls: Function): string[] {
  const names = new Set<string>();
  for (let p = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(p, k);
      if (d && typeof d.value === 'function') names.add(k);
    }
  }
  return [...names];
}

/** The method named name of cls's instances (its own or inherited). */
function methodOf(cls: Function, name: string): Function | undefined {
  for (let p = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d) return typeof d.value === 'function' ? d.value : undefined;
  }
  return undefined;
}

/** An actor class for cls (sunray.remote(Class)); G: its concurrency group names. */
export function makeActorClass<C extends AnyClass, G extends string = never>(
  cls: C,
  opts: ActorOptions<G> & { module?: string } = {},
): ActorClass<C, G> {
  const def = makeDef(cls, true, opts);
  const methods = methodNamesOf(cls);
  // Generator methods stream what they yield (their handles' calls give ObjectRefGenerators).
  const generators = methods.filter((m) => {
    const method = methodOf(cls, m);
    return method !== undefined && generatorKind(method) !== undefined;
  });
  // Ray's rule: an actor is async if any method is an async function (decided once, here).
  const isAsync = hasAsyncMethods(methods.map((m) => methodOf(cls, m)));
  const build = <G2 extends string>(o: ActorOptions<G2>): ActorClass<C, G2> => ({
    remote(...args: unknown[]) {
      const rt = currentRuntimeOrStart();
      const explicit = o.numCpus !== undefined || o.numGpus !== undefined || o.resources !== undefined;
      const group = groupStrategy(o.schedulingStrategy);
      const placed = group ? inGroup(group, demandOf(o, 0)) : undefined;
      const demand = placed?.demand ?? demandOf(o, 0);
      const maxConcurrency = actorMaxConcurrency(o.maxConcurrency, isAsync);
      const groups = checkConcurrencyGroups(o.concurrencyGroups as Record<string, number> | undefined);
      const { isolation, actorsPerProcess } = checkIsolation(o);
      const runtimeEnv = resolveRuntimeEnv(o.runtimeEnv, `${cls.name}.options()`);
      if (runtimeEnv !== '' && isolation === 'shared') throw new InvalidArgumentError(SHARED_ENV);
      const info: HandleInfo = {
        maxPendingCalls: checkMaxPendingCalls(o.maxPendingCalls),
        groups: groups ? Object.keys(groups) : [],
        generators,
      };
      if (o.getIfExists && !o.name) throw new InvalidArgumentError('getIfExists needs a name');
      const namespace = o.namespace ?? rt.namespace;
      const requested = randomBytes(OWNER_ID_SIZE);
      const hints = hintsOf(info);
      const reg: ActorRegistration = {
        ...(o.name !== undefined ? { name: o.name } : {}),
        namespace,
        getIfExists: o.getIfExists ?? false,
        detached: o.lifetime === 'detached',
        ...(hints ? { handle: hints } : {}),
      };
      let reply: ActorCreateReply | Promise<ActorCreateReply> | undefined;
      if (rt.backend.requestSync)
        reply = rt.backend.requestSync('registerActor', requested, reg, methods, cls.name);
      const create = (actorId: Buffer) => {
        if (!actorId.equals(requested)) return; // an existing named actor: nothing to create
        const base = {
          kind: TaskKind.ActorCreate,
          fnId: def.fnId,
          name: `${cls.name}.constructor`,
          numReturns: 1,
          demand,
          maxRetries: 0,
          retryExceptions: false,
          actorId,
          method: encodeActorOptions({
            ...reg,
            maxRestarts: o.maxRestarts ?? 0,
            maxTaskRetries: o.maxTaskRetries ?? 0,
            methods,
            className: cls.name,
            explicitResources: explicit,
            ...(groups ? { concurrencyGroups: groups } : {}),
            isolation,
            actorsPerProcess,
          }),
          maxConcurrency,
          strategy: placed?.strategy ?? strategyOf(o.schedulingStrategy),
          retryOn: '',
          concurrencyGroup: '',
          stream: '',
          runtimeEnv,
        };
        // No strategy of its own: inside a group that captures its children, it joins that group.
        rt.core.submit(def, o.schedulingStrategy === undefined ? capturedBase(rt, base) : base, args);
      };
      if (reply && !(reply instanceof Promise)) {
        create(Buffer.from(reply.actorId));
        // A handle to an existing actor (getIfExists) is not its owner's.
        const owned = Buffer.from(reply.actorId).equals(requested);
        // A handle to an existing actor (getIfExists) knows what that actor registered.
        return makeHandle<InstanceType<C>, G2>(
          reply.actorId,
          cls.name,
          methods,
          owned,
          rt,
          owned ? info : infoFromHints(reply.handle),
        );
      }
      // In a worker the node manager is a message away, and in a cluster a name is claimed at
      // the head: calls queue behind the registration.
      const registering =
        reply ??
        (rt.backend.request('registerActor', requested, reg, methods, cls.name) as Promise<ActorCreateReply>);
      // With getIfExists the name may turn out to be another actor's: what its handles know
      // (limit, groups, generators) is learned when the registration answers; calls made
      // before then are checked by the actor itself.
      const handle = makeHandle<InstanceType<C>, G2>(
        requested,
        cls.name,
        methods,
        true,
        rt,
        o.getIfExists ? undefined : info,
      );
      const registered = registering.then((r) => {
        create(Buffer.from(r.actorId));
        if (o.getIfExists)
          learnInfo(handle, Buffer.from(r.actorId).equals(requested) ? info : infoFromHints(r.handle));
      });
      rt.core.chainActor(requested.toString('hex'), registered);
      return handle;
    },
    options<G3 extends string>(next: ActorOptions<G3>) {
      return build<G3>({ ...o, ...next } as ActorOptions<G3>);
    },
  });
  return build<G>(opts);
}

const SHARED_ENV =
  "a shared actor runs in a host process with others, which has no runtime env of its own: use isolation: 'process' for an actor with a runtimeEnv";
