// Builds the C++ cores and their tests with CMake and runs them under ctest.
//   node scripts/ctest.mjs            plain build (build/ctest)
//   node scripts/ctest.mjs asan       AddressSanitizer + UBSan (build/ctest-asan)
//   node scripts/ctest.mjs tsan       ThreadSanitizer (build/ctest-tsan)
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const flavour = process.argv[2] ?? 'plain';
const flags = { plain: [], asan: ['-DSUNRAY_ASAN=ON'], tsan: ['-DSUNRAY_TSAN=ON'] }[flavour];
if (!flags) {
  console.error(`unknown flavour '${flavour}': use plain, asan or tsan`);
  process.exit(2);
}
// Not under build/: node-gyp rebuild (and so prebuildify) deletes build/ whole.
const dir = join(root, 'build-native', flavour === 'plain' ? 'ctest' : `ctest-${flavour}`);
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root });
const jobs = String(Math.max(1, cpus().length));
run('cmake', ['-S', root, '-B', dir, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', ...flags]);
run('cmake', ['--build', dir, '-j', jobs]);
run('ctest', ['--test-dir', dir, '--output-on-failure', '-j', jobs]);
