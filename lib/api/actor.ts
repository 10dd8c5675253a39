// `sunray.remote(class)`: an actor class. Each `.remote(...)` starts one
// worker process that constructs the instance and then runs its method calls.
// Handles are typed from the class, so a misspelled method or a wrong
// argument fails to compile. A handle is a Uint8Array of the actor's id,
// which lets it travel inside values to tasks and other actors.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { InvalidArgumentError } from '../base/errors.js';
import { OWNER_ID_SIZE } from '../base/ids.js';
import type { ObjectRef } from '../base/object-ref.js';
import { registerHostType } from '../base/serialization.js';
import { type ActorRegistration, encodeActorOptions } from '../protocol/actor-options.js';
import { NO_DEF, TaskKind } from '../protocol/spec.js';
import type { ActorCreateReply } from '../worker/backend.js';
import type { Runtime } from '../worker/context.js';
import {
  demandOf,
  generatorKind,
  generatorsNotSupported,
  makeDef,
  type ObjectRefs,
  type RemoteArgs,
  type ResourceOptions,
  type SchedulingStrategy,
  strategyOf,
} from './remote-function.js';
import { currentRuntimeOrStart } from './runtime.js';

export interface ActorOptions extends ResourceOptions {
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
  /** Calls that may run at once (async methods interleave); default 1, calls run in order. */
  maxConcurrency?: number;
  /** With a name: return the existing actor of that name rather than failing. */
  getIfExists?: boolean;
  /** Where in a cluster the actor is placed (see TaskOptions.schedulingStrategy). */
  schedulingStrategy?: SchedulingStrategy;
}

/** Any function (every function type is assignable to it). */
type AnyFn = (...args: never[]) => unknown;
/** Any class (its parameters and instances are read from the class itself). */
export type AnyClass = abstract new (...args: never[]) => unknown;
/** An actor found by name with no class given (getActor): any method, arguments and results unknown. */
export type UntypedActor = Record<string, (...args: unknown[]) => unknown>;

/** Names of T's methods. */
export type MethodNames<T> = { [K in keyof T]: T[K] extends AnyFn ? K : never }[keyof T] & string;

export interface ActorMethod<A extends unknown[], R> {
  remote(...args: RemoteArgs<A>): ObjectRef<Awaited<R>>;
  options(opts: { numReturns?: 1; name?: string }): ActorMethod<A, R>;
  options(opts: { numReturns: number; name?: string }): {
    remote(...args: RemoteArgs<A>): ObjectRefs<Awaited<R>>;
  };
}

/** A handle to an actor of class T: one `.remote()` per method. */
export type ActorHandle<T> = {
  readonly [K in MethodNames<T>]: T[K] extends (...args: infer A) => infer R ? ActorMethod<A, R> : never;
} & ActorHandleBase;

export interface ActorClass<C extends AnyClass> {
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>>;
  options(opts: ActorOptions): ActorClass<C>;
}

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
  static get [Symbol.species]() {
    return Uint8Array;
  }

  declare readonly actorId: string;
  declare readonly className: string;
  declare readonly methodNames: readonly string[];

  /** @internal */
  constructor(id: Uint8Array, className: string, methods: readonly string[], owned: boolean, rt: Runtime) {
    super(OWNER_ID_SIZE);
    this.set(id);
    const hex = Buffer.from(id).toString('hex');
    Object.defineProperties(this, {
      actorId: { value: hex },
      className: { value: className },
      methodNames: { value: Object.freeze([...methods]) },
    });
    for (const m of methods) {
      if (m in this) continue; // never shadow Uint8Array's own members
      Object.defineProperty(this, m, { value: actorMethod(this, m, {}), enumerable: false });
    }
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

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Actor calls hold no resources of their own (the actor holds them). */
const NO_DEMAND: Record<string, number> = Object.freeze({});

/** A handle's method as it is at run time (ActorMethod types it per method). */
interface UntypedActorMethod {
  remote(...args: unknown[]): ObjectRef<unknown> | ObjectRef<unknown>[] | undefined;
  options(next: { numReturns?: number; name?: string }): UntypedActorMethod;
}

function actorMethod(
  h: ActorHandleBase,
  method: string,
  o: { numReturns?: number; name?: string },
): UntypedActorMethod {
  // Computed once per method, not per call: calls are the hot path.
  const name = o.name ?? `${h.className}.${method}`;
  const actorId = Buffer.from(h);
  const numReturns = o.numReturns ?? 1;
  // Shared by every call's spec (protocol.ts CallSpec), so never changed.
  const base = Object.freeze({
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
  });
  return {
    remote(...args: unknown[]) {
      const rt = currentRuntimeOrStart();
      const refs = rt.core.submit(NO_DEF, base, args);
      return numReturns === 1 ? refs[0] : refs;
    },
    options(next: { numReturns?: number; name?: string }) {
      return actorMethod(h, method, { ...o, ...next });
    },
  };
}

/** A handle as it crosses processes: its actor's id, class and method names. */
export interface HandleWire {
  id: string;
  c: string;
  m: readonly string[];
}

/**
 * A handle on its way to another process. The actor then outlives this process's last handle
 * object (others hold it now), so this is also what wrappers of a handle (Queue) must call.
 */
export function handleToWire(h: ActorHandleBase): HandleWire {
  escapedActors.add(h.actorId);
  return { id: h.actorId, c: h.className, m: h.methodNames };
}

/** A handle again, in the process a HandleWire arrived in (not its owner's). */
export function handleFromWire(o: HandleWire): ActorHandleBase {
  return new ActorHandleBase(Buffer.from(o.id, 'hex'), o.c, o.m, false, currentRuntimeOrStart());
}

registerHostType<ActorHandleBase>({
  name: 'ActorHandle',
  test: (x): x is ActorHandleBase => x instanceof ActorHandleBase,
  write: (h) => Buffer.from(JSON.stringify(handleToWire(h))),
  read: (bytes) => handleFromWire(JSON.parse(bytes.toString()) as HandleWire),
});

export function makeHandle<T>(
  id: Uint8Array,
  className: string,
  methods: readonly string[],
  owned: boolean,
  rt: Runtime,
) {
  return new ActorHandleBase(id, className, methods, owned, rt) as ActorHandle<T>;
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

export function makeActorClass<C extends AnyClass>(
  cls: C,
  opts: ActorOptions & { module?: string } = {},
): ActorClass<C> {
  const def = makeDef(cls, true, opts);
  const methods = methodNamesOf(cls);
  for (const m of methods) {
    const method = methodOf(cls, m);
    const generator = method ? generatorKind(method) : undefined;
    if (generator) throw generatorsNotSupported(`${cls.name}.${m}`, generator);
  }
  const build = (o: ActorOptions): ActorClass<C> => ({
    remote(...args: unknown[]) {
      const rt = currentRuntimeOrStart();
      const explicit = o.numCpus !== undefined || o.numGpus !== undefined || o.resources !== undefined;
      const demand = demandOf(o, 0);
      if (o.maxConcurrency !== undefined && (!Number.isInteger(o.maxConcurrency) || o.maxConcurrency < 1)) {
        throw new InvalidArgumentError(`maxConcurrency must be a whole number >= 1, got ${o.maxConcurrency}`);
      }
      if (o.getIfExists && !o.name) throw new InvalidArgumentError('getIfExists needs a name');
      const namespace = o.namespace ?? rt.namespace;
      const requested = randomBytes(OWNER_ID_SIZE);
      const reg: ActorRegistration = {
        ...(o.name !== undefined ? { name: o.name } : {}),
        namespace,
        getIfExists: o.getIfExists ?? false,
        detached: o.lifetime === 'detached',
      };
      let reply: ActorCreateReply | Promise<ActorCreateReply> | undefined;
      if (rt.backend.requestSync)
        reply = rt.backend.requestSync('registerActor', requested, reg, methods, cls.name);
      const create = (actorId: Buffer) => {
        if (!actorId.equals(requested)) return; // an existing named actor: nothing to create
        rt.core.submit(
          def,
          {
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
            }),
            maxConcurrency: o.maxConcurrency ?? 1,
            strategy: strategyOf(o.schedulingStrategy),
            retryOn: '',
          },
          args,
        );
      };
      if (reply && !(reply instanceof Promise)) {
        create(Buffer.from(reply.actorId));
        // A handle to an existing actor (getIfExists) is not its owner's.
        return makeHandle(reply.actorId, cls.name, methods, Buffer.from(reply.actorId).equals(requested), rt);
      }
      // In a worker the node manager is a message away, and in a cluster a name is claimed at
      // the head: calls queue behind the registration.
      const registering =
        reply ??
        (rt.backend.request('registerActor', requested, reg, methods, cls.name) as Promise<ActorCreateReply>);
      const registered = registering.then((r) => {
        create(Buffer.from(r.actorId));
      });
      rt.core.chainActor(requested.toString('hex'), registered);
      return makeHandle(requested, cls.name, methods, true, rt);
    },
    options(next: ActorOptions) {
      return build({ ...o, ...next });
    },
  });
  return build(opts);
}
