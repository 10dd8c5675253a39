// Fails when a file of lib/ imports from a layer above its own (docs/architecture.md):
//   base < session < store < protocol < worker < node < cluster < autoscaler < api, dashboard < entries
//   < libraries < cli
// A worker process loads worker/ and below only; the node manager never reaches
// the API; the libraries sit above everything (tune/, data/, serve/ use the
// public API). Static imports, `import type` and `import()` all count.
// Libraries (tune/, data/, serve/...) import only lib/index.ts, the public API.
// It also fails when a worker process would load the node manager's or the
// cluster's code (the static import closure of entry/worker.ts and index.ts).
// And it fails on a file of lib/ over 600 lines, or one that does not open with a
// comment saying what it owns (after a #! line), generated code excepted.
// Usage: node scripts/check-layers.mjs [--list]   (--list prints each file's layer)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');

/** Each top-level folder (or file) of lib/ and its rank: a file may import its rank or below. */
const LAYERS = {
  base: 0,
  session: 1,
  store: 2,
  protocol: 3,
  worker: 4,
  node: 5,
  cluster: 6,
  // The autoscaler: runs on the head (started by entry/daemon.ts) over the cluster's directory,
  // launches and removes nodes through its providers; `sunray up`/`down` drive it.
  autoscaler: 6.5,
  api: 7,
  // The dashboard's server: the node's state API over HTTP, started by the entries (index.ts,
  // entry/daemon.ts); beside api/, neither imports the other.
  dashboard: 7,
  // Entries: the processes' mains, the public surface, the test helpers.
  entry: 8,
  'index.ts': 8,
  testing: 8,
  // ray.util's counterparts (ActorPool, Queue): on the public API, exported by index.ts.
  util: 8,
  // The libraries, written on the public API.
  tune: 9,
  data: 9,
  serve: 9,
  metrics: 9,
  job: 9,
  // The `sunray` command: its verbs reach every part (`sunray serve ...` included).
  cli: 10,
};

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function layerOf(file) {
  const top = relative(lib, file).split('/')[0];
  return top in LAYERS ? { top, rank: LAYERS[top] } : undefined;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The most lines a TypeScript file of lib/ may have: past that it owns more than one thing. */
const MAX_LINES = 600;
const problems = [];
const list = process.argv.includes('--list');
for (const file of files(lib)) {
  const own = layerOf(file);
  const rel = relative(root, file);
  if (!own) {
    problems.push(`${rel}: not in any layer (top-level folders of lib/: ${Object.keys(LAYERS).join(', ')})`);
    continue;
  }
  if (list) console.log(`${own.rank} ${own.top.padEnd(9)} ${rel}`);
  const text = readFileSync(file, 'utf8');
  if (!rel.includes('/generated/')) {
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES) problems.push(`${rel}: ${lines} lines; split it (at most ${MAX_LINES} a file)`);
    if (!/^(#![^\n]*\n)?\/\/ /.test(text))
      problems.push(`${rel}: open with a comment saying what the file owns`);
  }
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    const theirs = layerOf(target);
    if (!theirs) continue;
    if (own.rank === LAYERS.serve && theirs.top !== own.top && relative(lib, target) !== 'index.ts') {
      // A library is written as a user would write it: on the public API alone.
      problems.push(
        `${rel} (${own.top}) imports ${relative(root, target)}: a library uses only lib/index.ts`,
      );
    } else if (theirs.rank > own.rank) {
      problems.push(
        `${rel} (${own.top}) imports ${relative(root, target)} (${theirs.top}), a layer above it`,
      );
    } else if (theirs.rank === own.rank && theirs.top !== own.top && own.rank < 8) {
      problems.push(`${rel} (${own.top}) imports ${relative(root, target)} (${theirs.top}), a sibling layer`);
    }
  }
}
// What a worker process loads: the static (not type-only) imports reachable from its entry and
// from the API module user code imports inside tasks. The node manager and the cluster layer
// are the driver's and the daemon's, loaded there by import() or require() only.
const STATIC =
  /(?:^|\n)\s*(import|export)\s+(?!type\b)[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
function closure(entries) {
  const seen = new Set();
  const stack = entries.map((e) => join(lib, e));
  while (stack.length > 0) {
    const f = stack.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    for (const m of readFileSync(f, 'utf8').matchAll(STATIC)) {
      const spec = m[2] ?? m[3];
      if (!spec.startsWith('.')) continue;
      stack.push(resolve(dirname(f), spec).replace(/\.js$/, '.ts'));
    }
  }
  return seen;
}
for (const f of closure(['entry/worker.ts', 'index.ts'])) {
  const top = relative(lib, f).split('/')[0];
  if (top === 'node' || (top === 'cluster' && !f.endsWith('/auth.ts'))) {
    problems.push(
      `a worker process would load ${relative(root, f)}: reach it by import() where a driver needs it`,
    );
  }
}
if (problems.length > 0) {
  console.error(`layers: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
if (!list)
  console.log(
    `layers: every import of lib/ points down; every file opens with a comment and has at most ${MAX_LINES} lines`,
  );
