// Turns a shipped FunctionDef back into a function or class in a worker.
// Source functions are compiled with the driver's directory as their home,
// so `require` and `import()` in their bodies resolve as they would have in
// the driver; module functions are imported by URL and picked by export name. A worker of
// a runtime env with a working directory (setEnvHome) reads both from its copy of that
// directory instead: files under the directory the driver packed are found in the copy, and
// other source functions resolve from the copy's top.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { SerializationError } from '../base/errors.js';
import type { FunctionDef } from '../protocol/spec.js';
import { withPackages } from './package-fallback.js';

// esbuild (tsx, vitest) may wrap nested functions in __name(); give workers the helper.
(globalThis as { __name?: unknown }).__name ??= (f: unknown, name: string) => {
  try {
    Object.defineProperty(f, 'name', { value: name, configurable: true });
  } catch {
    // frozen functions keep their name
  }
  return f;
};

// Older Nodes lack the constant (and vm.constants).
const defaultLoader = (vm.constants as Partial<typeof vm.constants> | undefined)
  ?.USE_MAIN_CONTEXT_DEFAULT_LOADER;

/** This worker's runtime env directory, and where its working directory was packed from. */
let envHome: { home: string; source: string | undefined } | undefined;

/** Sets where this worker's shipped functions resolve from (its runtime env's directory). */
export function setEnvHome(home: string | undefined, source: string | undefined): void {
  envHome = home === undefined ? undefined : { home, source };
}

/** dir as it is in this worker's env: under the packed directory, the same place in the copy. */
function inEnvHome(dir: string): string {
  if (!envHome) return dir;
  const { home, source } = envHome;
  if (source === undefined) return home;
  const rel = relative(source, dir);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep))
    ? join(home, rel)
    : home;
}

/** A module URL as it is in this worker's env (a file under the packed directory: its copy). */
function envModuleUrl(url: string): string {
  if (!envHome?.source || !url.startsWith('file:')) return url;
  const path = fileURLToPath(url);
  const mapped = inEnvHome(path);
  return mapped === envHome.home && path !== envHome.source ? url : pathToFileURL(mapped).href;
}

export async function loadFunction(def: FunctionDef): Promise<unknown> {
  if (def.moduleUrl) {
    const mod = (await import(envModuleUrl(def.moduleUrl))) as Record<string, unknown>;
    const fn =
      mod[def.exportName] ??
      (def.exportName === 'default'
        ? undefined
        : (mod.default as Record<string, unknown> | undefined)?.[def.exportName]);
    if (typeof fn !== 'function') {
      throw new SerializationError(
        `module ${def.moduleUrl} has no exported function or class '${def.exportName}': export it under that name ` +
          '(remote(fn, { module }) looks the function up by its name)',
      );
    }
    return fn;
  }
  const baseDir = inEnvHome(def.baseDir);
  const filename = join(baseDir, `[sunray ${def.isClass ? 'class' : 'function'} ${def.name || 'anonymous'}]`);
  // Code transformed by Vite/Vitest calls __vite_ssr_dynamic_import__ for import(): give it one that
  // resolves from the same place a plain import() in this script does.
  const wrapped =
    '(function (require, __viteId) { const __vite_ssr_dynamic_import__ = (s) => import(__viteId(s)); ' +
    `return (${def.source}\n); })`;
  const script = new vm.Script(wrapped, {
    filename,
    ...(defaultLoader ? { importModuleDynamically: defaultLoader } : {}),
  });
  const factory = script.runInThisContext() as (req: NodeRequire, viteId: (s: string) => string) => unknown;
  return factory(withPackages(createRequire(join(baseDir, 'noop.js'))), viteIdToSpecifier);
}

/**
 * Vite rewrites `import('pkg')` to an id relative to its root ('/dist/x.js')
 * or to '/@fs/abs/path'; map those back to files (the root is the working
 * directory the driver ran Vite in, which workers share).
 */
function viteIdToSpecifier(id: string): string {
  if (id.startsWith('/@fs/')) return id.slice(4);
  if (id.startsWith('/') && !existsSync(id)) {
    const underRoot = join(process.cwd(), id);
    if (existsSync(underRoot)) return underRoot;
  }
  return id;
}
