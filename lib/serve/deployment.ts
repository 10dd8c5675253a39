// A deployment definition (`serve.deployment(cls, opts)`), its `.bind(...args)` into an
// Application, and the walk of an application's bind graph into the specs the controller
// deploys: one per distinct bound deployment, with bound deployments among the arguments
// replaced by markers that replicas turn into DeploymentHandles (model composition).
import { createHash } from 'node:crypto';
import { serialize } from 'node:v8';
import { InvalidArgumentError } from '../index.js';
import { type ClassSource, identityOf, moduleOf, sourceOf } from './class-source.js';
import { checkOptions, type DeploymentOptions, type ResolvedConfig, resolveConfig } from './config.js';
import type { DeploymentHandle } from './handle.js';

type Ctor = abstract new (...args: never[]) => unknown;

/**
 * A constructor argument as `.bind()` takes it: the value, where a DeploymentHandle is expected
 * (at any depth of arrays and plain objects) a bound deployment of that class.
 */
export type Bindable<T> = T extends DeploymentHandle<infer U>
  ? T | Application<U>
  : T extends (...args: never[]) => unknown
    ? T
    : T extends object
      ? { [K in keyof T]: Bindable<T[K]> }
      : T;

/** The arguments of `.bind()`: the constructor's, each Bindable. */
export type BindArgs<A extends readonly unknown[]> = { [K in keyof A]: Bindable<A[K]> };

const APPLICATION = Symbol.for('sunray.serve.Application');
const DEPLOYMENT = Symbol.for('sunray.serve.Deployment');

/** A deployment bound to its constructor arguments: what `serve.run` deploys (Ray's Application). */
export class Application<T = unknown> {
  /** @internal Phantom: carries the deployment's instance type to handles. */
  declare readonly __instance?: T;
  /** @internal */
  readonly [APPLICATION] = true;
  /** @internal */
  constructor(
    /** @internal */
    readonly deployment: Deployment<Ctor>,
    /** @internal */
    readonly args: readonly unknown[],
  ) {}
}

/** A class made into a deployment: `.bind(...args)` makes an Application, `.options()` a changed copy. */
export class Deployment<C extends Ctor> {
  /** @internal */
  readonly [DEPLOYMENT] = true;
  /** The deployment's name (default: the class's name). */
  readonly name: string;
  /** @internal */
  readonly cls: C;
  /** @internal */
  readonly opts: DeploymentOptions;
  /** @internal */
  readonly methods: readonly string[];

  /** @internal */
  constructor(cls: C, opts: DeploymentOptions) {
    if (typeof cls !== 'function' || !/^class[\s{]/.test(Function.prototype.toString.call(cls))) {
      throw new InvalidArgumentError(
        `serve.deployment() takes a class, got ${cls === null ? 'null' : typeof cls}`,
      );
    }
    checkOptions(opts);
    this.cls = cls;
    this.opts = opts;
    this.name = opts.name ?? cls.name ?? 'Deployment';
    this.methods = methodNamesOf(cls);
  }

  /** Binds the constructor's arguments; bound deployments among them reach the class as DeploymentHandles. */
  bind(...args: BindArgs<ConstructorParameters<C>>): Application<InstanceType<C>> {
    return new Application(this, args);
  }

  /** A copy with some options changed. */
  options(opts: DeploymentOptions): Deployment<C> {
    return new Deployment(this.cls, { ...this.opts, ...opts });
  }
}

/** True for an Application (across copies of this module). */
export function isApplication(x: unknown): x is Application {
  return typeof x === 'object' && x !== null && (x as { [APPLICATION]?: unknown })[APPLICATION] === true;
}

/** Method names of a class's instances, inherited ones too (not the constructor). */
export function methodNamesOf(cls: Function): string[] {
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

/** The key of the marker a bound deployment becomes inside arguments. */
export const HANDLE_MARKER = '__sunray_serve_handle__';

/** What replicas turn into a DeploymentHandle. */
export interface HandleMarker {
  [HANDLE_MARKER]: { deployment: string; methods: string[] };
}

/** One deployment as the controller deploys it. */
export interface DeploymentSpec {
  name: string;
  className: string;
  methods: string[];
  source: ClassSource;
  /** Constructor arguments, bound deployments replaced by HandleMarkers. */
  initArgs: unknown[];
  config: ResolvedConfig;
  /** Changes when the code, the arguments or the actor options change: replicas are then replaced. */
  version: string;
}

/** An application as the controller deploys it. */
export interface AppSpec {
  name: string;
  /** Where HTTP requests reach the ingress deployment; null: not over HTTP (handles only). */
  routePrefix: string | null;
  ingress: string;
  deployments: DeploymentSpec[];
}

/** How classes are shipped: by their source/module (scripts), or through the application's import path (the CLI). */
export interface ImportPath {
  url: string;
  exportName: string;
  args?: unknown;
}

/** The specs of every deployment in an application's bind graph, the ingress last. */
export function buildApp(
  app: Application,
  name: string,
  routePrefix: string | null,
  importPath?: ImportPath,
): AppSpec {
  if (!isApplication(app)) {
    throw new InvalidArgumentError(
      'serve.run() takes an application: a deployment bound to its arguments, e.g. MyDeployment.bind(args)',
    );
  }
  const specs = new Map<Application, DeploymentSpec>();
  const names = new Map<string, Application>();
  const visit = (a: Application): DeploymentSpec => {
    const done = specs.get(a);
    if (done) return done;
    const d = a.deployment;
    const clash = names.get(d.name);
    if (clash && clash !== a) {
      throw new InvalidArgumentError(
        `application '${name}' binds deployment '${d.name}' twice with different arguments: give one another name with .options({ name })`,
      );
    }
    names.set(d.name, a);
    const initArgs = a.args.map((x) => replaceBound(x, visit));
    const source: ClassSource = importPath
      ? {
          kind: 'app',
          url: importPath.url,
          exportName: importPath.exportName,
          args: importPath.args,
          deployment: d.name,
        }
      : d.opts.module !== undefined
        ? moduleOf(d.cls, d.opts.module)
        : sourceOf(d.cls);
    const config = resolveConfig(d.opts);
    const spec: DeploymentSpec = {
      name: d.name,
      className: d.cls.name || d.name,
      methods: [...d.methods],
      source,
      initArgs,
      config,
      version: d.opts.version ?? versionOf(identityOf(source), initArgs, config),
    };
    specs.set(a, spec);
    return spec;
  };
  const ingress = visit(app);
  return { name, routePrefix, ingress: ingress.name, deployments: [...specs.values()] };
}

/** Arguments with bound deployments (at any depth of arrays and plain objects) replaced by markers. */
function replaceBound(x: unknown, visit: (a: Application) => DeploymentSpec): unknown {
  if (isApplication(x)) {
    const spec = visit(x);
    return { [HANDLE_MARKER]: { deployment: spec.name, methods: spec.methods } } satisfies HandleMarker;
  }
  if (Array.isArray(x)) return x.map((v) => replaceBound(v, visit));
  if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = replaceBound(v, visit);
    return out;
  }
  return x;
}

/** A hash of what a replica is built from; lightweight options (replicas, userConfig, limits) are left out. */
function versionOf(code: string, initArgs: unknown[], config: ResolvedConfig): string {
  const h = createHash('sha1').update(code).update('\0');
  try {
    h.update(serialize(initArgs));
  } catch {
    h.update(String(Math.random())); // arguments that do not serialize cannot be deployed anyway
  }
  h.update(JSON.stringify(config.actorOptions));
  return h.digest('hex').slice(0, 16);
}

/** In a replica: the class of the deployment named `name` in an application's bind graph. */
export function findDeploymentClass(app: unknown, name: string): Function | undefined {
  const seen = new Set<unknown>();
  const walk = (x: unknown): Function | undefined => {
    if (x === null || typeof x !== 'object' || seen.has(x)) return undefined;
    seen.add(x);
    if (isApplication(x)) {
      if (x.deployment.name === name) return x.deployment.cls;
      for (const a of x.args) {
        const f = walk(a);
        if (f) return f;
      }
      return undefined;
    }
    for (const v of Array.isArray(x) ? x : Object.values(x)) {
      const f = walk(v);
      if (f) return f;
    }
    return undefined;
  };
  return walk(app);
}
