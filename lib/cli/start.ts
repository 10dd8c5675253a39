// `sunray start --head` and `sunray start --address HOST:PORT --token TOKEN`:
// starts a node daemon in the background, waits until it serves, and says how
// to join it.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newToken } from '../cluster/auth.js';
import type { DaemonConfig } from '../cluster/daemon-config.js';
import { daemons, loadHead, sessionDir } from '../cluster/session.js';
import { InvalidArgumentError, SunrayError } from '../core/errors.js';
import { checkMaxWorkerProcesses } from '../runtime/channel.js';
import { type Flags, numberFlag, parseFlags, stringFlag } from './args.js';

const DAEMON = fileURLToPath(new URL('../cluster/daemon.js', import.meta.url));

function resourcesFlag(f: Flags): Record<string, number> | undefined {
  const raw = stringFlag(f, 'resources');
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError(`--resources must be JSON like '{"disk": 2}', got ${raw}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidArgumentError(`--resources must be a JSON object, got ${raw}`);
  }
  for (const [k, n] of Object.entries(v)) {
    if (typeof n !== 'number' || n < 0)
      throw new InvalidArgumentError(`--resources: '${k}' must be a number >= 0`);
  }
  return v as Record<string, number>;
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, ['head']);
  const head = f.head === true;
  const cfg: DaemonConfig = { head, token: '', session: true };
  const port = numberFlag(f, 'port');
  const bind = stringFlag(f, 'bind');
  const numCpus = numberFlag(f, 'num-cpus');
  const numGpus = numberFlag(f, 'num-gpus');
  const resources = resourcesFlag(f);
  const mem = numberFlag(f, 'object-store-memory');
  const hb = numberFlag(f, 'heartbeat-timeout-ms');
  const maxWorkers = numberFlag(f, 'max-worker-processes');
  if (maxWorkers !== undefined) cfg.maxWorkerProcesses = checkMaxWorkerProcesses(maxWorkers);
  if (bind !== undefined) cfg.bind = bind;
  if (numCpus !== undefined) cfg.numCpus = numCpus;
  if (numGpus !== undefined) cfg.numGpus = numGpus;
  if (resources) cfg.resources = resources;
  if (mem !== undefined) cfg.objectStoreMemory = mem;
  if (hb !== undefined) cfg.heartbeatTimeoutMs = hb;
  if (head) {
    if (f.address !== undefined) throw new InvalidArgumentError('--head and --address exclude each other');
    if (daemons().some((d) => d.head && isAlive(d.pid))) {
      throw new SunrayError('a head node already runs on this machine: `sunray stop` it first, or join it');
    }
    cfg.port = port ?? 6380;
    cfg.token = stringFlag(f, 'token') ?? newToken();
  } else {
    let address = stringFlag(f, 'address');
    let token = stringFlag(f, 'token') ?? process.env.SUNRAY_CLUSTER_TOKEN;
    if (address === undefined || address === 'auto') {
      const local = loadHead();
      if (!local)
        throw new InvalidArgumentError(
          'give --head to start a cluster, or --address HOST:PORT --token TOKEN to join one',
        );
      address = local.address;
      token ??= local.token;
    }
    if (!token)
      throw new InvalidArgumentError('--token TOKEN is needed to join (printed by `sunray start --head`)');
    cfg.headAddress = address;
    cfg.token = token;
    cfg.port = port ?? 0;
  }
  const dir = sessionDir();
  const log = join(dir, `node-${Date.now()}-${process.pid}.log`);
  cfg.log = log;
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, [DAEMON, JSON.stringify(cfg)], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  const rec = await waitReady(child.pid!, log);
  if (head) {
    process.stdout.write(
      [
        `sunray: head node started at ${rec.address} (node ${rec.nodeId.slice(0, 8)}, pid ${rec.pid}, log ${log})`,
        `cluster token: ${cfg.token}`,
        '',
        'To add a node on another machine (the head must be reachable: start it with --bind 0.0.0.0):',
        `  sunray start --address ${rec.address} --token ${cfg.token}`,
        'To connect a driver:',
        `  await sunray.init({ address: '${rec.address}', token: '${cfg.token}' })`,
        "  (on this machine: sunray.init({ address: 'auto' }))",
        'To see the cluster: sunray status. To stop the nodes of this machine: sunray stop.',
        '',
      ].join('\n'),
    );
  } else {
    process.stdout.write(
      `sunray: node ${rec.nodeId.slice(0, 8)} started at ${rec.address} (pid ${rec.pid}, log ${log}), joined ${cfg.headAddress}\n`,
    );
  }
  return 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitReady(
  pid: number,
  log: string,
): Promise<{ nodeId: string; address: string; pid: number }> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const rec = daemons().find((d) => d.pid === pid);
    if (rec) return rec;
    if (!isAlive(pid)) throw new SunrayError(`the node exited at start; see ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new SunrayError(`the node did not start within 30 s; see ${log}`);
}
