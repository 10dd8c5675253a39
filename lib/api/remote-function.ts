// `sunray.remote(fn)`: a function that runs as a task on a worker. Its
// source (or its module and export name) is shipped once to each worker that
// runs it; calls send only the function's id and the arguments.
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../base/errors.js';
import type { ObjectRef } from '../base/object-ref.js';
import { resolveRuntimeEnv } from '../protocol/resolve-runtime-env.js';
import { validateDemand } from '../protocol/resources.js';
import type { RuntimeEnv } from '../protocol/runtime-env.js';
import type { FunctionDef } from '../protocol/spec.js';
import { TaskKind, ZERO_ACTOR } from '../protocol/spec.js';
import { streamMarker } from '../protocol/streaming.js';
import type { ObjectRefGenerator } from '../worker/generator-stream.js';
import { shippableSource } from './function-source.js';
import {
  capturedBase,
  groupStrategy,
  inGroup,
  type PlacementGroupSchedulingStrategy,
} from './placement-group.js';
import { currentRuntimeOrStart } from './runtime.js';

/** An argument may be the value itself or a ref to it (resolved before the task runs). */
export type RemoteArgs<A extends readonly unknown[]> = { [K in keyof A]: A[K] | ObjectRef<A[K]> };

/** The refs a multi-return call gives: one per element of the returned tuple. */
export type ObjectRefs<R> = R extends readonly unknown[]
  ? { -readonly [K in keyof R]: ObjectRef<R[K]> }
  : ObjectRef<unknown>[];

/** What a task or actor needs from its node to run there. */
export interface ResourceOptions {
  /** CPUs the task holds while it runs (default 1; may be fractional, e.g. 0.5). */
  numCpus?: number;
  /** GPUs the task holds; it gets device ids (getRuntimeContext().gpuIds, CUDA_VISIBLE_DEVICES). */
  numGpus?: number;
  /** Custom resources, e.g. { disk: 1 }. */
  resources?: Record<string, number>;
}

/** Options of a task: given to remote(fn, opts) or per call with fn.options(opts). */
export interface TaskOptions extends ResourceOptions {
  /** Times a task is re-run after its worker dies (default 3). */
  maxRetries?: number;
  /**
   * Also retry (up to maxRetries) when the task throws (default false): true for any error,
   * or a list of error classes or names, as Ray's list form: an error is retried when its
   * class or one it extends is listed (matched by class name, since classes do not cross
   * processes), or its `name` is; a rethrown TaskError of a nested task matches by its
   * cause's name too. Other errors fail at once.
   */
  retryExceptions?: RetryExceptions;
  /** Name used in logs and errors (default: the function's name). */
  name?: string;
  /**
   * Number of results: with n > 1 the function returns an array of n values and the call gives
   * n refs. 'streaming' (Ray's num_returns="streaming", the default for a generator or async
   * generator function): the call gives an ObjectRefGenerator, one ref per value yielded.
   */
  numReturns?: number | 'streaming';
  /**
   * For a streaming (generator) task: the generator pauses while this many of its values are
   * unconsumed by the caller's ObjectRefGenerator, and goes on as they are taken (default: no
   * limit). Ray's `_generator_backpressure_num_objects`.
   */
  generatorBackpressure?: number;
  /**
   * Where in a cluster it runs: 'DEFAULT' (local until half busy, then the least loaded node),
   * 'SPREAD' (round-robin over nodes), or { nodeId, soft } (that node; soft: elsewhere if it can't).
   */
  schedulingStrategy?: SchedulingStrategy;
  /**
   * The runtime env it runs in (Ray's runtime_env): environment variables, a working directory
   * shipped to the nodes that run it, npm packages installed there. Merged over the job's
   * (init's): its fields replace the job's, envVars are merged name by name. See docs/cluster.md.
   */
  runtimeEnv?: RuntimeEnv;
}

/** An error class, for retryExceptions: any constructor of errors, abstract ones too. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** What retryExceptions takes: all errors (true), none (false), or these classes or names. */
export type RetryExceptions = boolean | ReadonlyArray<ErrorClass | string>;

/**
 * retryExceptions as a spec carries it: whether any thrown error may be retried, and the
 * names that qualify ('' = every error; else a JSON array of class and error names).
 */
export function retryOf(r: RetryExceptions | undefined): { retryExceptions: boolean; retryOn: string } {
  if (r === undefined || r === false) return { retryExceptions: false, retryOn: '' };
  if (r === true) return { retryExceptions: true, retryOn: '' };
  if (!Array.isArray(r)) {
    throw new InvalidArgumentError(
      `retryExceptions must be true, false or an array of error classes or names, got ${typeof r}`,
    );
  }
  const names = r.map((x: unknown, i) => {
    const name = typeof x === 'function' ? (x as { name?: unknown }).name : x;
    if (typeof name !== 'string' || name === '') {
      throw new InvalidArgumentError(
        `retryExceptions[${i}] must be an error class with a name or a non-empty error name, got ${typeof x === 'function' ? 'an anonymous class' : JSON.stringify(x)}`,
      );
    }
    return name;
  });
  if (names.length === 0) return { retryExceptions: false, retryOn: '' };
  return { retryExceptions: true, retryOn: JSON.stringify([...new Set(names)]) };
}

/**
 * Where a task or actor runs, as Ray's: 'DEFAULT' (the submitting node while it is below half
 * its capacity, else the least loaded node with room), 'SPREAD' (round-robin over the nodes),
 * a given node, or a bundle of a placement group (docs/cluster.md).
 */
export type SchedulingStrategy =
  | 'DEFAULT'
  | 'SPREAD'
  | {
      /** The node to run on (hex id: getRuntimeContext().nodeId, nodes(), sunray status). */
      nodeId: string;
      /** If that node is gone or cannot run it: fall back to the default policy (default false: TaskUnschedulableError). */
      soft?: boolean;
    }
  | PlacementGroupSchedulingStrategy;

export function strategyOf(s: SchedulingStrategy | undefined): string {
  if (s === undefined || s === 'DEFAULT') return '';
  if (s === 'SPREAD') return 'SPREAD';
  if (
    typeof s === 'object' &&
    s !== null &&
    'nodeId' in s &&
    typeof s.nodeId === 'string' &&
    s.nodeId !== ''
  ) {
    return JSON.stringify({ nodeId: s.nodeId, soft: s.soft ?? false });
  }
  throw new InvalidArgumentError(
    `schedulingStrategy must be 'DEFAULT', 'SPREAD', { nodeId, soft } or { placementGroup, bundleIndex }, got ${JSON.stringify(s)}`,
  );
}

/** Options of remote(fn, opts): the task options, and where the function's code comes from. */
export interface RemoteOptions extends TaskOptions {
  /**
   * The URL of the module that exports this function (usually `import.meta.url`). The worker imports
   * the module and takes the export with the function's name, so the function may use the module's
   * imports and variables. Without it, the function is shipped by source and must be self-contained.
   */
  module?: string;
}

/**
 * What `.remote()` of a function returning R gives: an ObjectRefGenerator of the yielded
 * type for a generator or async generator function, else a ref to the (awaited) result.
 */
export type RemoteResult<R> = 0 extends 1 & R
  ? ObjectRef<Awaited<R>> // R is any: a plain ref, as before
  : R extends AsyncGenerator<infer T, unknown, never>
    ? ObjectRefGenerator<Awaited<T>>
    : R extends Generator<infer T, unknown, never>
      ? ObjectRefGenerator<Awaited<T>>
      : ObjectRef<Awaited<R>>;

/** A function made remote: `.remote(...)` runs it as a task (see remote()). */
export interface RemoteFunction<A extends unknown[], R> {
  /** Submits a call; gives its result's ref at once (an ObjectRefGenerator for a generator). */
  remote(...args: RemoteArgs<A>): RemoteResult<R>;
  /** The same function, its calls streaming what its result iterates (ObjectRefGenerator). */
  options(opts: TaskOptions & { numReturns: 'streaming' }): StreamingRemoteFunction<A, R>;
  /** The same function with other options for its calls. */
  options(opts: TaskOptions & { numReturns?: 1 }): RemoteFunction<A, R>;
  /** With `numReturns: n`: each call gives n refs, one per element of the returned array. */
  options(opts: TaskOptions & { numReturns: number }): MultiReturnRemoteFunction<A, R>;
  /** The function itself, to call locally. */
  readonly fn: (...args: A) => R;
}

/** What a streaming task's result iterates: a generator's (or any iterable's) values. */
export type YieldOf<R> = Awaited<R> extends AsyncIterable<infer T>
  ? Awaited<T>
  : Awaited<R> extends Iterable<infer T>
    ? Awaited<T>
    : unknown;

/** A remote function with numReturns: 'streaming': its calls give ObjectRefGenerators. */
export interface StreamingRemoteFunction<A extends unknown[], R> {
  /** Submits a call; gives the refs of the values it yields, as they are yielded. */
  remote(...args: RemoteArgs<A>): ObjectRefGenerator<YieldOf<R>>;
  /** The same function with other options for its calls (still streaming). */
  options(opts: TaskOptions): StreamingRemoteFunction<A, R>;
}

/** A remote function with `numReturns: n`: a call gives n refs, one per element of the returned array. */
export interface MultiReturnRemoteFunction<A extends unknown[], R> {
  /** Submits a task: one ref per returned element, at once. */
  remote(...args: RemoteArgs<A>): ObjectRefs<Awaited<R>>;
  /** The function with other options (those given replace its own). */
  options(opts: TaskOptions): MultiReturnRemoteFunction<A, R>;
}

/** A remote function as it is at run time: RemoteFunction and MultiReturnRemoteFunction type it. */
interface UntypedRemoteFunction {
  readonly fn: Function;
  remote(
    ...args: unknown[]
  ): ObjectRef<unknown> | ObjectRef<unknown>[] | ObjectRefGenerator<unknown> | undefined;
  options(next: TaskOptions): UntypedRemoteFunction;
}

const SOURCE_OF = Function.prototype.toString;

export function isClass(fn: Function): boolean {
  return /^class[\s{]/.test(SOURCE_OF.call(fn));
}

/** Where `require`/`import()` in shipped source resolve from: the driver's main script directory. */
export function driverDir(): string {
  const main = process.argv[1];
  if (main && !main.includes('node_modules')) return dirname(main);
  return process.cwd();
}

export function makeDef(fn: Function, isCls: boolean, opts: { module?: string; name?: string }): FunctionDef {
  const name = fn.name || 'anonymous';
  if (opts.module !== undefined) {
    if (!fn.name) {
      throw new InvalidArgumentError(
        'remote(fn, { module }): the function must have a name, exported under that name',
      );
    }
    let url = opts.module;
    if (!/^[a-z]+:/.test(url)) url = `file://${url}`;
    const fnId = createHash('sha1').update(`${url}#${fn.name}`).digest('hex').slice(0, 24);
    const baseDir = url.startsWith('file:') ? dirname(fileURLToPath(url)) : driverDir();
    return { fnId, name, isClass: isCls, source: '', moduleUrl: url, exportName: fn.name, baseDir };
  }
  const source = SOURCE_OF.call(fn);
  if (source.includes('[native code]')) {
    throw new InvalidArgumentError(
      `remote(): ${name} is a native or bound function and has no source to ship; wrap it in a plain function`,
    );
  }
  const shipped = shippableSource(source, `remote ${isCls ? 'class' : 'function'} ${name}`, fn.name);
  const fnId = createHash('sha1').update(shipped).digest('hex').slice(0, 24);
  return { fnId, name, isClass: isCls, source: shipped, moduleUrl: '', exportName: '', baseDir: driverDir() };
}

/** 'generator' or 'async generator' when fn is one (their calls give iterators, not values). */
export function generatorKind(fn: Function): string | undefined {
  const tag = Object.prototype.toString.call(fn);
  if (tag === '[object GeneratorFunction]') return 'generator';
  if (tag === '[object AsyncGeneratorFunction]') return 'async generator';
  return undefined;
}

export function demandOf(o: ResourceOptions, defaultCpus: number): Record<string, number> {
  const demand: Record<string, number> = { ...(o.resources ?? {}) };
  const cpus = o.numCpus ?? defaultCpus;
  validateDemand({ ...demand, CPU: cpus, GPU: o.numGpus ?? 0 }, 'remote options');
  if (cpus > 0) demand.CPU = cpus;
  if (o.numGpus) demand.GPU = o.numGpus;
  return demand;
}

function checkTaskOptions(o: TaskOptions): void {
  if (o.maxRetries !== undefined && (!Number.isInteger(o.maxRetries) || o.maxRetries < -1)) {
    throw new InvalidArgumentError(
      `maxRetries must be a whole number >= 0 (or -1 for unlimited), got ${o.maxRetries}`,
    );
  }
  checkReturnOptions(o);
}

/** The options that say how a call returns (a remote function's or an actor method's). */
export interface ReturnOptions {
  numReturns?: number | 'streaming';
  generatorBackpressure?: number;
}

/** numReturns and generatorBackpressure, checked. */
export function checkReturnOptions(o: ReturnOptions): void {
  if (
    o.numReturns !== undefined &&
    o.numReturns !== 'streaming' &&
    (!Number.isInteger(o.numReturns) || o.numReturns < 1)
  ) {
    throw new InvalidArgumentError(
      `numReturns must be a whole number >= 1 or 'streaming', got ${JSON.stringify(o.numReturns)}`,
    );
  }
  const bp = o.generatorBackpressure;
  if (bp !== undefined && (!Number.isInteger(bp) || bp < 1 || bp > 0xfffffffe)) {
    throw new InvalidArgumentError(
      `generatorBackpressure must be a whole number >= 1 (values unconsumed before the generator pauses), got ${bp}`,
    );
  }
}

/**
 * How calls with these (checked) options return: a generator always streams (`generator`
 * names it, "f is a generator function", for the error when numReturns is a number);
 * anything else streams with numReturns 'streaming', else returns numReturns values.
 */
export function callReturns(
  o: ReturnOptions,
  generator: string | undefined,
): { streaming: boolean; numReturns: number; backpressure: number } {
  if (generator !== undefined && typeof o.numReturns === 'number') {
    throw new InvalidArgumentError(
      `${generator}: its calls stream what it yields (numReturns 'streaming'), ` +
        `so numReturns: ${o.numReturns} cannot apply; leave numReturns unset`,
    );
  }
  const streaming = generator !== undefined || o.numReturns === 'streaming';
  return {
    streaming,
    numReturns: streaming ? 1 : ((o.numReturns as number | undefined) ?? 1),
    backpressure: o.generatorBackpressure ?? 0,
  };
}

export function makeRemoteFunction<A extends unknown[], R>(
  fn: (...args: A) => R,
  opts: RemoteOptions = {},
): RemoteFunction<A, R> {
  checkTaskOptions(opts);
  const generator = generatorKind(fn) !== undefined;
  const def = makeDef(fn, false, opts);
  const build = (o: TaskOptions): UntypedRemoteFunction => {
    checkTaskOptions(o);
    const group = groupStrategy(o.schedulingStrategy);
    const placed = group ? inGroup(group, demandOf(o, 1)) : undefined;
    const demand = placed?.demand ?? demandOf(o, 1);
    const { streaming, numReturns, backpressure } = callReturns(
      o,
      generator ? `${def.name} is a generator function` : undefined,
    );
    const maxRetries = o.maxRetries === -1 ? 2 ** 31 - 1 : (o.maxRetries ?? 3);
    const name = o.name ?? def.name;
    const strategy = placed?.strategy ?? strategyOf(o.schedulingStrategy);
    const { retryExceptions, retryOn } = retryOf(o.retryExceptions);
    const runtimeEnv = resolveRuntimeEnv(o.runtimeEnv, `remote function ${def.name}`);
    // Shared by every call's spec (protocol.ts CallSpec), so never changed.
    const base = Object.freeze({
      kind: TaskKind.Task,
      fnId: def.fnId,
      name,
      numReturns,
      demand,
      maxRetries,
      retryExceptions,
      actorId: ZERO_ACTOR,
      method: '',
      maxConcurrency: 1,
      strategy,
      retryOn,
      concurrencyGroup: '',
      // A plain task's is empty; a streaming one's marks it (protocol/streaming.ts).
      stream: streaming ? streamMarker(backpressure) : '',
      runtimeEnv,
    });
    return {
      fn,
      remote(...args: unknown[]) {
        const rt = currentRuntimeOrStart();
        // No strategy of its own: inside a group that captures its children, it joins that group.
        const b = o.schedulingStrategy === undefined ? capturedBase(rt, base) : base;
        if (streaming) return rt.core.submitStreaming(def, b, args, backpressure);
        const refs = rt.core.submit(def, b, args);
        return numReturns === 1 ? refs[0] : refs;
      },
      options(next: TaskOptions) {
        return build({ ...o, ...next });
      },
    };
  };
  // One object serves both typed views (RemoteFunction and, with numReturns > 1, MultiReturnRemoteFunction).
  return build(opts) as unknown as RemoteFunction<A, R>;
}
