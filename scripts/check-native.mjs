// Fails when the C++ under native/ breaks the rules of its layout (README.md,
// "Layout"):
//   - no file over 500 lines;
//   - each file opens with a comment that says what it owns;
//   - the cores include only their own layer or below:
//       common < ipc, sched, store < addon (tests may include anything);
//   - no Node header (napi.h, node_api.h, uv.h, node.h, ...) below native/addon/.
// Usage: node scripts/check-native.mjs [dir]   (dir defaults to native/)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = process.argv[2] ?? join(root, 'native');
const MAX_LINES = 500;

/** What each folder of native/ may include from (its own folder always). */
const MAY_INCLUDE = {
  common: [],
  ipc: ['common'],
  sched: ['common'],
  store: ['common'],
  addon: ['common', 'ipc', 'sched', 'store'],
  tests: ['common', 'ipc', 'sched', 'store'],
};
const NODE_HEADERS = /^(napi\.h|napi-inl\.h|node_api\.h|js_native_api\.h|node\.h|uv\.h|v8\.h|uv\/.*)$/;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return walk(full);
    return /\.(cc|h)$/.test(name) ? [full] : [];
  });
}

const problems = [];
for (const file of walk(nativeDir)) {
  const rel = relative(nativeDir, file);
  const folder = rel.split('/')[0];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
  if (count > MAX_LINES) problems.push(`${rel}: ${count} lines (at most ${MAX_LINES}: split it)`);
  if (!lines[0]?.startsWith('//')) problems.push(`${rel}: does not open with a comment saying what it owns`);
  const allowed = MAY_INCLUDE[folder];
  if (!allowed) {
    problems.push(`${rel}: ${folder}/ is not a known folder of native/ (add it to scripts/check-native.mjs)`);
    continue;
  }
  lines.forEach((line, i) => {
    const m = /^\s*#\s*include\s*([<"])([^>"]+)[>"]/.exec(line);
    if (!m) return;
    const [, kind, path] = m;
    if (folder !== 'addon' && NODE_HEADERS.test(path)) {
      problems.push(`${rel}:${i + 1}: includes Node header <${path}>: Node belongs in native/addon/ only`);
    }
    if (kind === '"') {
      const to = path.split('/')[0];
      if (to !== folder && !allowed.includes(to)) {
        problems.push(
          `${rel}:${i + 1}: includes "${path}": ${folder}/ may include ${[folder, ...allowed].join(', ')}`,
        );
      }
    }
  });
}
if (problems.length > 0) {
  console.error(`native/ layout rules broken:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
