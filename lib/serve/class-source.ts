// How a deployment's class reaches its replicas, and how a replica gets it back. Three ways:
//  - by source (the default, like `sunray.remote(cls)`): the class's text, checked in the
//    driver to be self-contained, evaluated in the replica with the driver's script directory
//    as its home (so `await import('pkg')` inside it resolves as it would in the driver), and
//    with `serve` (sunray/serve) in scope for `serve.batch`;
//  - by module (`module: import.meta.url`): the replica imports the module and takes the
//    export named as the class;
//  - by application import path (`sunray serve run/deploy module.mjs:app`): the replica imports
//    the module, takes the application exported under that name and finds the deployment in it.
// The public API has no way to ship a class for another actor to instantiate (Ray pickles it),
// so the evaluation below mirrors what the runtime does for remote functions.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import * as sunray from '../index.js';

/** A class as it travels to replicas. */
export type ClassSource =
  | { kind: 'source'; name: string; source: string; baseDir: string }
  | { kind: 'module'; url: string; exportName: string }
  | { kind: 'app'; url: string; exportName: string; args: unknown; deployment: string };

const SOURCE_OF = Function.prototype.toString;

/** Where `require`/`import()` in shipped source resolve from, as for remote functions: the main script's directory. */
function driverDir(): string {
  const main = process.argv[1];
  if (main && !main.includes('node_modules')) return dirname(main);
  return process.cwd();
}

/** The class by source, after checking that it reads nothing from outside itself (but `serve`). */
export function sourceOf(cls: Function): ClassSource {
  const name = cls.name || 'Deployment';
  const source = SOURCE_OF.call(cls);
  // sunray.remote() refuses a function that reads outside variables, naming the first: give it
  // one whose body is the class, with `serve` as a parameter since replicas provide it.
  const check = new Function(
    `return function ${/^[A-Za-z_$][\w$]*$/.test(name) ? name : 'Deployment'}(serve) { return (${source}\n); }`,
  )();
  try {
    sunray.remote(check);
  } catch (err) {
    if (err instanceof sunray.SerializationError) {
      throw new sunray.SerializationError(
        `serve.deployment(): class ${name} reads '${err.path}' from outside itself, but deployments are shipped ` +
          'to replicas by source (only `serve`, the sunray/serve module, is in scope there). Pass the value to ' +
          `.bind(), import what you need inside a method (await import('pkg')), or export the class and give ` +
          '{ module: import.meta.url } so that replicas import its module.',
        err.path,
      );
    }
    throw err;
  }
  return { kind: 'source', name, source, baseDir: driverDir() };
}

/** The class by module and export name. */
export function moduleOf(cls: Function, url: string): ClassSource {
  if (!cls.name) {
    throw new sunray.InvalidArgumentError(
      'serve.deployment(cls, { module }): the class must have a name, exported under that name',
    );
  }
  return { kind: 'module', url: /^[a-z]+:/.test(url) ? url : `file://${url}`, exportName: cls.name };
}

/** A short text that identifies the code (for the version hash). */
export function identityOf(src: ClassSource): string {
  return src.kind === 'source' ? src.source : `${src.kind}:${src.url}#${src.exportName}`;
}

// esbuild (tsx, vitest) may wrap nested functions in __name(); replicas have the helper.
(globalThis as { __name?: unknown }).__name ??= (f: unknown, name: string) => {
  try {
    Object.defineProperty(f, 'name', { value: name, configurable: true });
  } catch {
    // frozen functions keep their name
  }
  return f;
};

const defaultLoader = (vm.constants as Record<string, unknown> | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;

/** A deployment class as a replica constructs it: its instance's methods are looked up by name. */
export type Ctor = new (...args: unknown[]) => Record<string, unknown>;

/** In a replica: the class a ClassSource names. `findDeployment` looks a deployment up in an application. */
export async function loadClass(
  src: ClassSource,
  serveModule: unknown,
  findDeployment: (app: unknown, name: string) => Function | undefined,
): Promise<Ctor> {
  if (src.kind === 'source') {
    const filename = join(src.baseDir, `[sunray serve class ${src.name}]`);
    const wrapped =
      '(function (require, __viteId, serve) { const __vite_ssr_dynamic_import__ = (s) => import(__viteId(s)); ' +
      `return (${src.source}\n); })`;
    const script = new vm.Script(wrapped, {
      filename,
      ...(defaultLoader
        ? { importModuleDynamically: defaultLoader as vm.ScriptOptions['importModuleDynamically'] }
        : {}),
    });
    const factory = script.runInThisContext() as (
      r: NodeRequire,
      v: (s: string) => string,
      s: unknown,
    ) => Ctor;
    return factory(createRequire(join(src.baseDir, 'noop.js')), viteIdToSpecifier, serveModule);
  }
  const mod = (await import(src.url)) as Record<string, unknown>;
  const exported = mod[src.exportName];
  if (src.kind === 'module') {
    if (typeof exported !== 'function') {
      throw new sunray.InvalidArgumentError(
        `module ${src.url} exports no class '${src.exportName}': export the deployment's class under its own name`,
      );
    }
    return exported as Ctor;
  }
  let app = exported;
  if (typeof app === 'function') app = await (app as (args: unknown) => unknown)(src.args ?? {});
  const cls = findDeployment(app, src.deployment);
  if (!cls) {
    throw new sunray.InvalidArgumentError(
      `${src.url}: export '${src.exportName}' has no deployment named '${src.deployment}' (was the module changed since it was deployed?)`,
    );
  }
  return cls as Ctor;
}

/** Vite's ids for import() ('/@fs/abs', '/dist/x.js' under its root) back to files, as the runtime does. */
function viteIdToSpecifier(id: string): string {
  if (id.startsWith('/@fs/')) return id.slice(4);
  if (id.startsWith('/') && !existsSync(id)) {
    const underRoot = join(process.cwd(), id);
    if (existsSync(underRoot)) return underRoot;
  }
  return id;
}
