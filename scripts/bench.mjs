#!/usr/bin/env node
// `npm run bench`: runs bench/main.ts under tsx (no build step for the benchmarks; the
// sunray package itself is loaded from dist/, so `npm run compile:ts` first) in its own
// process group, with a watchdog so a wedged run can never hang: everything it started
// is killed when the time is up.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const scale = args.includes('--scale');
const vsRay = args.includes('--vs-ray');
// --vs-ray: Ray's side takes about as long again (Ray's timeit is ~20 s a row), and the first
// run installs Ray (minutes).
const limitMin =
  Number(process.env.SUNRAY_BENCH_TIMEOUT_MIN) ||
  (scale ? 40 : quick ? 5 : 30) + (vsRay ? (quick ? 25 : 40) : 0);

if (!existsSync(join(root, 'dist', 'index.js'))) {
  console.error('bench: dist/index.js is missing: sunray rows will be skipped (run `npm run compile:ts`).');
}

const child = spawn(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', join(root, 'bench', 'main.ts'), ...args],
  {
    cwd: root,
    stdio: 'inherit',
    detached: true, // own process group: the watchdog can kill workers too
  },
);

const killGroup = (sig) => {
  try {
    process.kill(-child.pid, sig);
  } catch {
    // already gone
  }
};

const watchdog = setTimeout(() => {
  console.error(
    `bench: still running after ${limitMin} min: killing it (SUNRAY_BENCH_TIMEOUT_MIN to change)`,
  );
  killGroup('SIGTERM');
  setTimeout(() => killGroup('SIGKILL'), 5000).unref();
}, limitMin * 60_000);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killGroup(sig);
    setTimeout(() => killGroup('SIGKILL'), 5000).unref();
  });
}

child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  // Leftovers of the run (workers that outlived it) go with their group.
  killGroup('SIGKILL');
  process.exit(code ?? (signal ? 1 : 0));
});
