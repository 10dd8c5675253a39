// The one list of native sources. binding.gyp (node-gyp, prebuildify) and
// CMakeLists.txt (cmake-js, ctest, sanitizers) both ask this script, so the
// two builds compile exactly the same files and cannot drift.
//
//   node native/sources.mjs core    -> the Node-free cores (common, ipc, sched, store)
//   node native/sources.mjs addon   -> the Node-API bindings
//   node native/sources.mjs tests   -> the C++ test programs (one executable each)
// Add --cmake to print ';'-separated absolute paths instead of relative ones.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

const groups = {
  core: ['common', 'ipc', 'sched', 'store'],
  addon: ['addon'],
  tests: ['tests'],
};

function listCc(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of entries) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listCc(full));
    else if (name.endsWith('.cc')) out.push(full);
  }
  return out;
}

const [group = 'core', flag] = process.argv.slice(2);
const dirs = groups[group];
if (!dirs) {
  console.error(`unknown source group '${group}': use one of ${Object.keys(groups).join(', ')}`);
  process.exit(2);
}
const files = dirs.flatMap((d) => listCc(join(here, d)));
if (flag === '--cmake') process.stdout.write(files.join(';'));
else process.stdout.write(files.map((f) => relative(root, f)).join(' '));
