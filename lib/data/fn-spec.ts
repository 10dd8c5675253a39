// How a user's function or class (given to map, filter, mapBatches...) travels to the workers
// that run it, and how a worker gets it back. By source (the default, as `sunray.remote(fn)`:
// checked in the driver to read nothing from outside itself) or by module and export name
// (`{ module: import.meta.url }`: the worker imports the module). Workers compile each source
// once and keep it. sunray's public API has no way to ship a function as an argument, so the
// evaluation below mirrors what the runtime does for remote functions.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import * as sunray from '../index.js';

/** A function or class as it travels to workers. */
export type FnSpec =
  | { kind: 'source'; name: string; source: string; baseDir: string; isClass: boolean }
  | { kind: 'module'; url: string; exportName: string; isClass: boolean };

const SOURCE_OF = Function.prototype.toString;

/** Where `require`/`import()` in shipped source resolve from, as for remote functions. */
function driverDir(): string {
  const main = process.argv[1];
  if (main && !main.includes('node_modules')) return dirname(main);
  return process.cwd();
}

/** Whether fn is a class (its source starts with `class`). */
export function isClassFn(fn: Function): boolean {
  return /^class[\s{]/.test(SOURCE_OF.call(fn));
}

/** The spec of fn, for the operation named `op` (in errors). */
export function specOf(fn: unknown, op: string, module?: string): FnSpec {
  if (typeof fn !== 'function') {
    throw new sunray.InvalidArgumentError(
      `${op}() takes a function${op === 'mapBatches' ? ' or a class' : ''}, got ${fn === null ? 'null' : typeof fn}`,
    );
  }
  const isClass = isClassFn(fn);
  if (module !== undefined) {
    if (!fn.name) {
      throw new sunray.InvalidArgumentError(
        `${op}(fn, { module }): the function must have a name, exported under that name`,
      );
    }
    return {
      kind: 'module',
      url: /^[a-z]+:/.test(module) ? module : `file://${module}`,
      exportName: fn.name,
      isClass,
    };
  }
  let source = SOURCE_OF.call(fn);
  if (source.includes('[native code]')) {
    throw new sunray.InvalidArgumentError(
      `${op}(): ${fn.name || 'the function'} is native or bound and has no source to ship to workers: wrap it in a plain function`,
    );
  }
  // sunray.remote() parses the source and refuses one that reads outside variables, naming the first.
  try {
    sunray.remote(fn as (...a: unknown[]) => unknown);
  } catch (err) {
    if (err instanceof sunray.SerializationError) {
      throw new sunray.SerializationError(
        `${op}(): ${fn.name || 'the function'} reads '${err.path}' from outside itself, but functions given to ` +
          `sunray/data are shipped to workers by source. Pass the value in (fnConstructorArgs for a class), ` +
          `import what you need inside the function (await import('pkg')), or export the function and give ` +
          '{ module: import.meta.url } so that workers import its module.',
        err.path,
      );
    }
    if (!(err instanceof sunray.InvalidArgumentError)) throw err; // generators: shipped as they are
  }
  if (!isExpression(source)) source = `({${source}})[${JSON.stringify(fn.name)}]`;
  return { kind: 'source', name: fn.name || 'anonymous', source, baseDir: driverDir(), isClass };
}

function isExpression(source: string): boolean {
  try {
    new vm.Script(`(${source}\n)`);
    return true;
  } catch {
    return false;
  }
}

// esbuild (tsx, vitest) may wrap nested functions in __name(); workers need the helper.
(globalThis as { __name?: unknown }).__name ??= (f: unknown, name: string) => {
  try {
    Object.defineProperty(f, 'name', { value: name, configurable: true });
  } catch {
    // frozen functions keep their name
  }
  return f;
};

const defaultLoader = (vm.constants as Record<string, unknown> | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
const loaded = new Map<string, Promise<Function>>();

/** In a worker: the function or class a spec names (compiled or imported once per process). */
export function loadFn(spec: FnSpec): Promise<Function> {
  const key =
    spec.kind === 'source' ? `s:${spec.baseDir}\0${spec.source}` : `m:${spec.url}#${spec.exportName}`;
  let p = loaded.get(key);
  if (!p) {
    p = load(spec);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

async function load(spec: FnSpec): Promise<Function> {
  if (spec.kind === 'module') {
    const mod = (await import(spec.url)) as Record<string, unknown>;
    const fn = mod[spec.exportName];
    if (typeof fn !== 'function') {
      throw new sunray.InvalidArgumentError(
        `module ${spec.url} exports no function or class '${spec.exportName}': export it under its own name`,
      );
    }
    return fn;
  }
  const wrapped =
    '(function (require, __viteId) { const __vite_ssr_dynamic_import__ = (s) => import(__viteId(s)); ' +
    `return (${spec.source}\n); })`;
  const script = new vm.Script(wrapped, {
    filename: join(spec.baseDir, `[sunray data ${spec.name}]`),
    ...(defaultLoader
      ? { importModuleDynamically: defaultLoader as vm.ScriptOptions['importModuleDynamically'] }
      : {}),
  });
  const factory = script.runInThisContext() as (r: NodeRequire, v: (s: string) => string) => Function;
  return factory(createRequire(join(spec.baseDir, 'noop.js')), viteIdToSpecifier);
}

/** Vite's ids for import() ('/@fs/abs', '/dist/x.js' under its root) back to files. */
function viteIdToSpecifier(id: string): string {
  if (id.startsWith('/@fs/')) return id.slice(4);
  if (id.startsWith('/') && !existsSync(id)) {
    const underRoot = join(process.cwd(), id);
    if (existsSync(underRoot)) return underRoot;
  }
  return id;
}
