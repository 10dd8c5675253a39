// The config file of `sunray serve deploy`: applications by import path, with route prefixes
// and per-deployment overrides (Ray Serve's config file, in this API's camelCase names):
//
//   http: { host: 127.0.0.1, port: 8000 }
//   applications:
//     - name: app1
//       importPath: ./app.mjs:app        # module (relative to this file) and export
//       routePrefix: /app1               # null: no HTTP
//       args: { version: v2 }            # for an export that is a function building the app
//       deployments:
//         - name: Model
//           numReplicas: 2
//           userConfig: { threshold: 0.5 }
//
// Every key is checked: a misspelled one fails with ServeConfigError naming where it is.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { checkOptions, type DeploymentOptions } from './config.js';
import { type Application, isApplication } from './deployment.js';
import { ServeConfigError } from './errors.js';

/** One application of a config file. */
export interface AppConfig {
  name: string;
  importPath: string;
  routePrefix: string | null;
  args: Record<string, unknown>;
  deployments: Array<DeploymentOptions & { name: string }>;
}

/** A config file, checked. */
export interface ServeConfig {
  http: { host?: string; port?: number };
  applications: AppConfig[];
  /** The directory import paths are relative to. */
  baseDir: string;
}

const TOP = ['http', 'applications'];
const APP = ['name', 'importPath', 'routePrefix', 'args', 'deployments'];
const HTTP = ['host', 'port'];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function keys(o: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new ServeConfigError(
        `${path ? `${path}.` : ''}${k} is not a key here (keys: ${allowed.join(', ')})`,
        `${path}.${k}`,
      );
    }
  }
}

/** Reads and checks a config file. */
export function readConfig(file: string): ServeConfig {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ServeConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return checkConfig(doc, dirname(resolve(file)));
}

/** Checks a parsed config. */
export function checkConfig(doc: unknown, baseDir: string): ServeConfig {
  if (!isObject(doc)) throw new ServeConfigError('the config must be a mapping with an applications list');
  keys(doc, TOP, '');
  const http = doc.http ?? {};
  if (!isObject(http)) throw new ServeConfigError('http must be a mapping of host and port', 'http');
  keys(http, HTTP, 'http');
  if (http.host !== undefined && typeof http.host !== 'string')
    throw new ServeConfigError('http.host must be a string', 'http.host');
  if (
    http.port !== undefined &&
    (!Number.isInteger(http.port) || (http.port as number) < 0 || (http.port as number) > 65535)
  )
    throw new ServeConfigError('http.port must be a port number', 'http.port');
  if (!Array.isArray(doc.applications) || doc.applications.length === 0)
    throw new ServeConfigError('applications must be a list of at least one application', 'applications');
  const names = new Set<string>();
  const prefixes = new Set<string>();
  const applications = doc.applications.map((a: unknown, i: number): AppConfig => {
    const at = `applications[${i}]`;
    if (!isObject(a)) throw new ServeConfigError(`${at} must be a mapping`, at);
    keys(a, APP, at);
    const name = a.name ?? 'default';
    if (typeof name !== 'string' || !/^[\w.-]{1,100}$/.test(name))
      throw new ServeConfigError(`${at}.name must be 1-100 letters, digits, '_', '-' or '.'`, `${at}.name`);
    if (names.has(name)) throw new ServeConfigError(`${at}.name '${name}' is used twice`, `${at}.name`);
    names.add(name);
    if (typeof a.importPath !== 'string' || !/^.+:[A-Za-z_$][\w$]*$/.test(a.importPath))
      throw new ServeConfigError(
        `${at}.importPath must be 'module:export', e.g. ./app.mjs:app`,
        `${at}.importPath`,
      );
    const routePrefix = a.routePrefix === undefined ? '/' : a.routePrefix;
    if (routePrefix !== null && (typeof routePrefix !== 'string' || !routePrefix.startsWith('/')))
      throw new ServeConfigError(`${at}.routePrefix must start with '/' (or be null)`, `${at}.routePrefix`);
    if (routePrefix !== null) {
      if (prefixes.has(routePrefix))
        throw new ServeConfigError(`${at}.routePrefix '${routePrefix}' is used twice`, `${at}.routePrefix`);
      prefixes.add(routePrefix);
    }
    const args = a.args ?? {};
    if (!isObject(args)) throw new ServeConfigError(`${at}.args must be a mapping`, `${at}.args`);
    const deps = a.deployments ?? [];
    if (!Array.isArray(deps))
      throw new ServeConfigError(`${at}.deployments must be a list`, `${at}.deployments`);
    const deployments = deps.map((d: unknown, j: number) => {
      const dat = `${at}.deployments[${j}]`;
      if (!isObject(d) || typeof d.name !== 'string')
        throw new ServeConfigError(`${dat} must be a mapping with the deployment's name`, dat);
      if ('module' in d || 'version' in d)
        throw new ServeConfigError(`${dat}: module and version are not set from a config file`, dat);
      try {
        checkOptions(d as DeploymentOptions);
      } catch (err) {
        throw new ServeConfigError(
          `${dat}: ${(err as Error).message.replace(/^serve\.deployment\(\): /, '')}`,
          dat,
        );
      }
      return d as unknown as DeploymentOptions & { name: string };
    });
    return { name, importPath: a.importPath, routePrefix: routePrefix as string | null, args, deployments };
  });
  return { http: http as ServeConfig['http'], applications, baseDir };
}

/** 'module:export' split, the module as a URL (a relative path is relative to baseDir). */
export function splitImportPath(importPath: string, baseDir: string): { url: string; exportName: string } {
  const i = importPath.lastIndexOf(':');
  const mod = importPath.slice(0, i);
  const exportName = importPath.slice(i + 1);
  const file = resolve(baseDir, mod);
  let url: string;
  if (/^[a-z]+:\/\//.test(mod)) url = mod;
  // A path; `apps/greet.mjs:app` too, as a shell user types a file, when the file is there.
  else if (mod.startsWith('.') || isAbsolute(mod) || existsSync(file)) url = pathToFileURL(file).href;
  else {
    try {
      url = import.meta.resolve(mod); // a package
    } catch {
      throw new ServeConfigError(
        `cannot find '${mod}': it is neither a file under ${baseDir} nor a package sunray can import`,
        'importPath',
      );
    }
  }
  return { url, exportName };
}

/** Imports an application: the export itself, or what the export builds from args. */
export async function importApp(
  url: string,
  exportName: string,
  args: Record<string, unknown>,
): Promise<Application> {
  const mod = (await import(url)) as Record<string, unknown>;
  let app = mod[exportName];
  if (app === undefined) throw new ServeConfigError(`${url} has no export '${exportName}'`);
  if (typeof app === 'function' && !isApplication(app)) app = await (app as (a: unknown) => unknown)(args);
  if (!isApplication(app)) {
    throw new ServeConfigError(
      `${url}: export '${exportName}' is not an application: export a bound deployment (MyDeployment.bind(...)) or a function that returns one`,
    );
  }
  return app;
}

/** The application with the config's per-deployment options laid over the code's. */
export function withOverrides(
  app: Application,
  overrides: Array<DeploymentOptions & { name: string }>,
): Application {
  const byName = new Map(overrides.map((o) => [o.name, o]));
  const found = new Set<string>();
  const done = new Map<Application, Application>();
  const map = (x: unknown): unknown => {
    if (isApplication(x)) return visit(x);
    if (Array.isArray(x)) return x.map(map);
    if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
      return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, map(v)]));
    }
    return x;
  };
  const visit = (a: Application): Application => {
    const have = done.get(a);
    if (have) return have;
    const o = byName.get(a.deployment.name);
    if (o) found.add(o.name);
    const { name: _name, ...opts } = o ?? { name: '' };
    const d = o ? a.deployment.options(opts) : a.deployment;
    const out = d.bind(...(a.args.map(map) as never[]));
    done.set(a, out);
    return out;
  };
  const out = visit(app);
  for (const o of overrides) {
    if (!found.has(o.name)) {
      throw new ServeConfigError(
        `the config overrides deployment '${o.name}', which the application does not have`,
      );
    }
  }
  return out;
}
