// Runs clang-format over the C++ sources: --check fails on any difference,
// --fix rewrites the files in place.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return walk(full);
    return /\.(cc|h)$/.test(name) ? [full] : [];
  });
}
const files = walk(join(root, 'native'));
const fix = process.argv.includes('--fix');
try {
  execFileSync('clang-format', fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files], {
    stdio: 'inherit',
  });
} catch (err) {
  if (err.code === 'ENOENT') {
    console.error('clang-format not found: install it (apt-get install clang-format)');
  } else if (!fix) {
    console.error('C++ sources are not formatted: run `npm run format`');
  }
  process.exit(1);
}
