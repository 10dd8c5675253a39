// `sunray up cluster.yaml` and `sunray down cluster.yaml`: a cluster from its config.
// up checks the config, starts the head as a daemon (as `sunray start --head`) with the
// autoscaler running in it (the config travels with the daemon's configuration on its
// stdin), waits for the node types' minWorkers to join, and says how to connect. down
// stops the head, which first removes every node its autoscaler launched; with the
// `command` provider it then removes what the list command still shows.

import { join } from 'node:path';
import { loadClusterConfig } from '../autoscaler/config.js';
import { makeProvider } from '../autoscaler/providers/index.js';
import { SunrayError } from '../base/errors.js';
import { newToken } from '../cluster/auth.js';
import type { DaemonConfig } from '../cluster/daemon-config.js';
import { queryAutoscalerStatus } from '../cluster/status.js';
import { AUTOSCALER_LABEL } from '../protocol/autoscaler.js';
import { clearHead, daemonRunning, daemons, forgetDaemon, sessionDir } from '../session/session-dir.js';
import { numberFlag, parseFlags, UsageError, usage, type VerbSpec } from './args.js';
import { launchDaemon } from './start.js';

/** The flags of `sunray up`. */
export const UP_SPEC: VerbSpec = {
  name: 'up',
  summary:
    'Starts a cluster from its config: the head, with the autoscaler, and the minWorkers of each node type.',
  flags: {
    'wait-ms': {
      type: 'string',
      value: 'MS',
      help: 'how long to wait for the minWorkers to join (default 120000; 0: do not wait)',
    },
  },
  details:
    'Usage: sunray up CONFIG [flags]; CONFIG is the cluster config (YAML), see docs/cluster.md#autoscaler.',
};

/** The flags of `sunray down`. */
export const DOWN_SPEC: VerbSpec = {
  name: 'down',
  summary: 'Stops a cluster started by `sunray up`: the nodes its autoscaler launched, then the head.',
  flags: {
    'grace-period-ms': {
      type: 'string',
      value: 'MS',
      help: 'how long the head may take to remove its nodes and stop before it is killed (default 60000)',
    },
  },
  details: 'Usage: sunray down CONFIG [flags]; CONFIG is the config given to `sunray up`.',
};

/** The config file (the first argument) and the flags after it. */
function splitArgs(argv: string[]): { file: string | undefined; flags: string[] } {
  const [first, ...rest] = argv;
  return first === undefined || first.startsWith('-')
    ? { file: undefined, flags: argv }
    : { file: first, flags: rest };
}

function needFile(spec: VerbSpec, file: string | undefined): string {
  if (!file)
    throw new UsageError(
      `sunray ${spec.name} takes the cluster config file first: sunray ${spec.name} cluster.yaml`,
    );
  return file;
}

export async function up(argv: string[]): Promise<number> {
  const args = splitArgs(argv);
  const f = parseFlags(UP_SPEC, args.flags);
  if (f.help) {
    process.stdout.write(usage(UP_SPEC));
    return 0;
  }
  const file = needFile(UP_SPEC, args.file);
  const config = loadClusterConfig(file);
  if (daemons().some((d) => d.head && daemonRunning(d)))
    throw new SunrayError(
      'a head node already runs on this machine: `sunray down` (or `sunray stop`) it first',
    );
  const { CPU, GPU, ...custom } = config.head.resources ?? {};
  const cfg: DaemonConfig = {
    head: true,
    token: newToken(),
    session: true,
    port: config.head.port,
    bind: config.head.bind,
    // Nodes hold back tasks no node could run until a node has room for them: more may come.
    labels: { ...config.head.labels, [AUTOSCALER_LABEL]: config.clusterName },
    autoscaler: config,
  };
  if (config.head.resources) {
    cfg.numCpus = CPU ?? 0;
    cfg.numGpus = GPU ?? 0;
    cfg.resources = custom;
  }
  if (config.head.dashboardPort !== undefined) cfg.dashboardPort = config.head.dashboardPort;
  if (config.head.objectStoreMemory !== undefined) cfg.objectStoreMemory = config.head.objectStoreMemory;
  const { rec, log } = await launchDaemon(cfg);
  const minWorkers = Object.values(config.nodeTypes).reduce((s, t) => s + t.minWorkers, 0);
  const waitMs = numberFlag(f, 'wait-ms') ?? 120_000;
  process.stdout.write(
    `sunray: cluster ${config.clusterName} up: head at ${rec.address} (node ${rec.nodeId.slice(0, 8)}, pid ${rec.pid}, log ${log})\n` +
      `  autoscaler: ${config.provider.type} provider, node types ${Object.keys(config.nodeTypes).join(', ')}\n`,
  );
  if (minWorkers > 0 && waitMs > 0) {
    const joined = await waitForWorkers(rec.address, cfg.token, minWorkers, waitMs);
    process.stdout.write(`  ${joined} of ${minWorkers} minWorkers node(s) joined\n`);
  }
  if (rec.dashboardAddress) process.stdout.write(`dashboard: http://${rec.dashboardAddress}/\n`);
  process.stdout.write(
    [
      'To connect a driver on this machine:',
      "  await sunray.init({ address: 'auto' })",
      `From another machine, with $SUNRAY_CLUSTER_TOKEN set to the token in ${join(sessionDir(), 'token')} (mode 0600):`,
      `  await sunray.init({ address: '${rec.address}' })`,
      `To see the cluster: sunray status. To stop it: sunray down ${file}`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** Waits until `count` of the autoscaler's nodes run; returns how many do. */
async function waitForWorkers(
  address: string,
  token: string,
  count: number,
  waitMs: number,
): Promise<number> {
  const deadline = Date.now() + waitMs;
  let running = 0;
  while (Date.now() < deadline) {
    const st = await queryAutoscalerStatus(address, token).catch(() => undefined);
    running = st ? st.instances.filter((i) => i.state === 'running' || i.state === 'idle').length : 0;
    if (running >= count) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return running;
}

export async function down(argv: string[]): Promise<number> {
  const args = splitArgs(argv);
  const f = parseFlags(DOWN_SPEC, args.flags);
  if (f.help) {
    process.stdout.write(usage(DOWN_SPEC));
    return 0;
  }
  const config = loadClusterConfig(needFile(DOWN_SPEC, args.file));
  const graceMs = numberFlag(f, 'grace-period-ms') ?? 60_000;
  const head = daemons().find((d) => d.head && daemonRunning(d));
  if (head) {
    // The head's autoscaler removes its nodes at SIGTERM, then the head stops.
    process.kill(head.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (daemonRunning(head) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (daemonRunning(head)) process.kill(head.pid, 'SIGKILL');
    forgetDaemon(head.pid);
    clearHead();
    process.stdout.write(
      `sunray: stopped the head node ${head.nodeId.slice(0, 8)} (pid ${head.pid}) and its nodes\n`,
    );
  } else process.stdout.write('sunray: no head node runs on this machine\n');
  if (config.provider.type === 'command') {
    // What the head could not remove (it died, or was killed): the list command still shows it.
    const provider = makeProvider(config, { address: '', token: '', tokenFile: '' });
    const left = await provider.list();
    for (const id of left) {
      await provider.terminate({ id, name: id, nodeType: '' });
      process.stdout.write(`sunray: removed node ${id}\n`);
    }
  }
  return 0;
}
