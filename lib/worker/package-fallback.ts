// A worker of a runtime env with npmDependencies but no working directory: its shipped
// functions resolve as they do without an env (relative imports from the driver's
// directory), except that the packages the env lists (and what they import) come from the
// env's packages directory, whatever the driver's directory holds: a module resolve hook
// (package-resolve-hook.ts, registered with node:module) for import(), and a wrapper of
// the `require` functions are given. (With a working directory the copy lies under the
// packages and Node's own lookup finds them first.)
import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

let packages: { require: NodeRequire; names: ReadonlySet<string> } | undefined;

/** The package a bare specifier names ('@scope/name/sub' -> '@scope/name'); undefined for a path or URL. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.includes(':')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The packages listed in `dir`'s package.json (npm-install.ts wrote it) resolve from `dir` from now on. */
export function usePackages(dir: string): void {
  const manifest = join(dir, 'package.json');
  const listed = JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> };
  const names = Object.keys(listed.dependencies ?? {});
  register(new URL('./package-resolve-hook.js', import.meta.url), {
    data: { parentURL: pathToFileURL(manifest).href, names },
  });
  packages = { require: createRequire(manifest), names: new Set(names) };
}

/** req, with the env's packages (usePackages) taken from the env. */
export function withPackages(req: NodeRequire): NodeRequire {
  const env = packages;
  if (!env) return req;
  const pick = (id: string) => (env.names.has(packageOf(id) ?? '') ? env.require : req);
  const wrapped = ((id: string) => pick(id)(id)) as NodeRequire;
  const resolve = ((id: string, options?: { paths?: string[] }) =>
    pick(id).resolve(id, options)) as NodeRequire['resolve'];
  resolve.paths = req.resolve.paths;
  return Object.assign(wrapped, { resolve, cache: req.cache, main: req.main, extensions: req.extensions });
}
