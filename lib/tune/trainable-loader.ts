// Rebuilds a shipped trainable in a worker (the counterpart of trainable-def.ts): imports its
// module, or compiles its source with the driver's directory as home (so require() and import()
// resolve as in the driver) and the names it reads from sunray/tune and sunray bound to this
// process's modules. Loaded trainables are cached by id: an actor reused for trial after
// trial compiles its trainable once.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import vm from 'node:vm';
import { SerializationError } from '../index.js';
import type { TrainableDef } from './trainable-def.js';

// esbuild (tsx, vitest) may wrap nested functions in __name(); give workers the helper.
(globalThis as { __name?: unknown }).__name ??= (f: unknown, name: string) => {
  try {
    Object.defineProperty(f, 'name', { value: name, configurable: true });
  } catch {
    // frozen functions keep their name
  }
  return f;
};

const defaultLoader = (vm.constants as Partial<typeof vm.constants> | undefined)
  ?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
const cache = new Map<string, Promise<Function>>();

/** The trainable a def describes (cached by def.id). */
export function loadTrainable(def: TrainableDef): Promise<Function> {
  let p = cache.get(def.id);
  if (!p) {
    p = load(def);
    cache.set(def.id, p);
    p.catch(() => cache.delete(def.id));
  }
  return p;
}

async function load(def: TrainableDef): Promise<Function> {
  if (def.moduleUrl) {
    const mod = (await import(def.moduleUrl)) as Record<string, unknown>;
    const fn = mod[def.exportName] ?? (mod.default as Record<string, unknown> | undefined)?.[def.exportName];
    if (typeof fn !== 'function') {
      throw new SerializationError(
        `module ${def.moduleUrl} exports no function or class named '${def.exportName}': export the trainable under ` +
          'that name (withModule looks it up by name)',
      );
    }
    return fn;
  }
  const values: Record<string, unknown> = {};
  const names = Object.keys(def.bindings);
  if (names.length > 0) {
    const [tune, sunray] = await Promise.all([import('./index.js'), import('../index.js')]);
    const modules: Record<string, Record<string, unknown>> = { tune, sunray };
    for (const [n, b] of Object.entries(def.bindings)) {
      const dot = b.indexOf('.');
      values[n] = dot < 0 ? modules[b] : modules[b.slice(0, dot)]?.[b.slice(dot + 1)];
    }
  }
  const decl = names.map((n) => `const ${n} = __tuneBindings[${JSON.stringify(n)}];`).join(' ');
  const wrapped =
    '(function (require, __viteId, __tuneBindings) { const __vite_ssr_dynamic_import__ = (s) => import(__viteId(s)); ' +
    `${decl} return (${def.source}\n); })`;
  const script = new vm.Script(wrapped, {
    filename: join(def.baseDir, `[sunray/tune ${def.kind} ${def.name}]`),
    ...(defaultLoader ? { importModuleDynamically: defaultLoader } : {}),
  });
  const factory = script.runInThisContext() as (
    req: NodeRequire,
    viteId: (s: string) => string,
    bindings: Record<string, unknown>,
  ) => Function;
  return factory(createRequire(join(def.baseDir, 'noop.js')), viteIdToSpecifier, values);
}

/** Vite rewrites import('pkg') to ids under its root ('/dist/x.js', '/@fs/abs'): map them back to files. */
function viteIdToSpecifier(id: string): string {
  if (id.startsWith('/@fs/')) return id.slice(4);
  if (id.startsWith('/') && !existsSync(id)) {
    const underRoot = join(process.cwd(), id);
    if (existsSync(underRoot)) return underRoot;
  }
  return id;
}
