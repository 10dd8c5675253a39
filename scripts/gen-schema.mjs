// Regenerates the TypeScript for schema/*.fbs with flatc into
// lib/cluster/generated/ (committed, so users and CI need no flatc).
//   node scripts/gen-schema.mjs          write the generated files
//   node scripts/gen-schema.mjs --check  exit 1 if the committed files differ
// Debian's flatc 2.0.8 with --ts-flat-files emits one self-contained file per
// schema that compiles under NodeNext.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaDir = join(root, 'schema');
const outDir = join(root, 'lib', 'cluster', 'generated');
const check = process.argv.includes('--check');

export function generate() {
  const tmp = mkdtempSync(join(tmpdir(), 'sunray-flatc-'));
  try {
    const schemas = readdirSync(schemaDir).filter((f) => f.endsWith('.fbs'));
    execFileSync('flatc', ['--ts', '--ts-flat-files', '-o', tmp, ...schemas.map((s) => join(schemaDir, s))]);
    const out = new Map();
    for (const f of readdirSync(tmp)) out.set(f, readFileSync(join(tmp, f), 'utf8'));
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = generate();
  let stale = 0;
  for (const [name, text] of files) {
    const target = join(outDir, name);
    let current = null;
    try {
      current = readFileSync(target, 'utf8');
    } catch {}
    if (current === text) continue;
    if (check) {
      console.error(`${target} differs from what flatc generates: run \`npm run gen\` and commit the result`);
      stale++;
    } else {
      writeFileSync(target, text);
      console.log(`wrote ${target}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
