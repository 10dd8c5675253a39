// The module resolve hook of a runtime env's worker (package-fallback.ts registers it): an
// import of a package the env lists resolves as if imported from the env's packages
// directory, whoever imports it; everything else resolves as it would have. Runs on
// Node's hooks thread.
import { packageOf } from './package-fallback.js';

/** A file URL in the packages directory, and the packages listed there. */
let env: { parentURL: string; names: ReadonlySet<string> } | undefined;

/** node:module's hook initializer: gets the data register() was given. */
export function initialize(data: { parentURL: string; names: string[] }): void {
  env = { parentURL: data.parentURL, names: new Set(data.names) };
}

type Resolve = (specifier: string, context: { parentURL?: string }) => Promise<unknown>;

/** node:module's resolve hook. */
export function resolve(specifier: string, context: { parentURL?: string }, next: Resolve): Promise<unknown> {
  const name = packageOf(specifier);
  if (env && name !== undefined && env.names.has(name)) {
    return next(specifier, { ...context, parentURL: env.parentURL });
  }
  return next(specifier, context);
}
