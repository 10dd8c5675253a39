// One run of "autoscaler: demand to a task on a new node" (bench/suites/autoscaler.ts), in a
// session directory of its own: a head alone (1 CPU), a driver, then the clock runs from
// the submission of a task only a { special: 1 } node can run to its result.
//   autoscaler: the head was started by `sunray up` (local provider, 1 s rounds): the
//               autoscaler sees the demand, launches the node, the task runs there.
//   start:      the head was started by `sunray start --head`; at the submission a plain
//               `sunray start --address auto --resources '{"special": 1}'` starts the node.
// Prints {"ms": milliseconds}.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as sunray from 'sunray';

const mode = process.argv[2];
if (mode !== 'autoscaler' && mode !== 'start') throw new Error('usage: autoscaler-arm.mjs autoscaler|start');
const root = join(import.meta.dirname, '..', '..');
const CLI = join(root, 'dist', 'cli', 'main.js');
const STORE = String(64 << 20);
const dir = mkdtempSync(join(tmpdir(), 'sunray-bench-autoscaler-'));
process.env.SUNRAY_SESSION_DIR = join(dir, 'session');
const cli = (...args) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const config = join(dir, 'cluster.yaml');
writeFileSync(
  config,
  [
    'clusterName: bench',
    'updateIntervalSeconds: 1',
    'head: { port: 0, resources: { CPU: 1 }, objectStoreMemory: 134217728 }',
    'nodeTypes:',
    `  special: { resources: { CPU: 1, special: 1 }, maxWorkers: 1, objectStoreMemory: ${STORE} }`,
    'provider: { type: local }',
    '',
  ].join('\n'),
);
try {
  if (mode === 'autoscaler') cli('up', config);
  else cli('start', '--head', '--port', '0', '--num-cpus', '1', '--object-store-memory', String(128 << 20));
  await sunray.init({ address: 'auto' });
  const f = sunray.remote(() => 1, { resources: { special: 1 } });
  const t0 = performance.now();
  const ref = f.remote();
  const started =
    mode === 'start'
      ? promisify(execFile)(process.execPath, [
          CLI,
          'start',
          '--num-cpus',
          '1',
          '--resources',
          '{"special": 1}',
          '--object-store-memory',
          STORE,
        ])
      : Promise.resolve();
  await sunray.get(ref, { timeout: 60_000 });
  const ms = performance.now() - t0;
  await started;
  await sunray.shutdown();
  console.log(JSON.stringify({ ms }));
} finally {
  try {
    if (mode === 'autoscaler') cli('down', config);
    else cli('stop');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
