// Loads the compiled addon: a prebuilt binary from prebuilds/<platform>-<arch>/
// (shipped in the npm package, so installs with scripts blocked work) or a
// local build in build/Release. node-gyp-build picks the one that fits.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The package root: dist/base/addon.js and lib/base/addon.ts both sit two levels below it. */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function load(): any {
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(packageRoot);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `sunray: no native addon fits ${process.platform}-${process.arch} (Node ${process.versions.node}, ` +
        `Node-API ${process.versions.napi}). ${why}\n` +
        'Build it from source: install python3, make and a C++20 compiler (g++ >= 10), then run ' +
        `\`npm rebuild sunray\` in your project (or \`npx node-gyp rebuild\` in ${packageRoot}).`,
      { cause: err },
    );
  }
}

/** The loaded addon. Typed loosely here; each module that uses it narrows what it needs. */
export const native: any = load();
