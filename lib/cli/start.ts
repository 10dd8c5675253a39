// `sunray start --head` and `sunray start --address HOST:PORT`: starts a node
// daemon in the background, waits until it serves, and says how to join it.
// The daemon gets its configuration, cluster token included, on a pipe to its
// stdin: never in its argv or environment (any user of the machine can read
// every process's command line in /proc/<pid>/cmdline).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadStateError, InvalidArgumentError, SunrayError } from '../base/errors.js';
import { checkToken, newToken } from '../cluster/auth.js';
import { type DaemonConfig, writeDaemonConfig } from '../cluster/daemon-config.js';
import { type HeadStateFile, headStateFile, readHeadState } from '../cluster/head-state.js';
import { checkNodeIp } from '../cluster/node-address.js';
import { loadTls, type TlsFiles, tlsFilesOf } from '../cluster/tls.js';
import { checkTaskEventsLimit } from '../node/task-events.js';
import { checkMaxWorkerProcesses } from '../protocol/channel.js';
import { checkLabels } from '../protocol/node-labels.js';
import { daemonRunning, daemons, loadHead, sessionDir } from '../session/session-dir.js';
import { checkSpillLimit, checkSpillParent } from '../store/spill-dir.js';
import { type Flags, numberFlag, parseFlags, stringFlag, usage, type VerbSpec } from './args.js';

const DAEMON = fileURLToPath(new URL('../entry/daemon.js', import.meta.url));

/** The flags of `sunray start`. */
export const SPEC: VerbSpec = {
  name: 'start',
  summary:
    'Starts a node daemon on this machine: the head of a new cluster (--head), or a node joining one (--address).',
  flags: {
    head: {
      type: 'boolean',
      help: 'start the head node of a new cluster (it makes and prints the cluster token)',
    },
    address: {
      type: 'string',
      value: 'HOST:PORT',
      help: "the head to join, or 'auto' for the head started on this machine (the default without --head)",
    },
    token: {
      type: 'string',
      value: 'TOKEN',
      help: 'the cluster token (at least 16 characters); better in $SUNRAY_CLUSTER_TOKEN: a command line is visible to every user',
    },
    'token-file': {
      type: 'string',
      value: 'PATH',
      help: "read the cluster token from this file ('-': from stdin), as the autoscaler's providers pass it",
    },
    port: {
      type: 'string',
      value: 'N',
      help: 'TCP port to listen on (head default 6380, others any free port)',
    },
    bind: {
      type: 'string',
      value: 'ADDRESS',
      help: "address to listen on (head default 127.0.0.1; a joining node's default: its address on the route to the head)",
    },
    'node-ip-address': {
      type: 'string',
      value: 'IP',
      help: 'the IP other nodes reach this node at (default: the bind address, or the route to the head; never 0.0.0.0)',
    },
    'tls-cert': {
      type: 'string',
      value: 'FILE',
      help: "TLS: this node's certificate (PEM), signed by the CA; with --tls-key and --tls-ca, every cluster connection and the dashboard use TLS",
    },
    'tls-key': {
      type: 'string',
      value: 'FILE',
      help: 'TLS: its private key (PEM; a file only you can read)',
    },
    'tls-ca': {
      type: 'string',
      value: 'FILE',
      help: "TLS: the cluster's CA certificate (PEM); peers must present a certificate it signed",
    },
    'num-cpus': { type: 'string', value: 'N', help: "CPUs this node offers (default: the machine's cores)" },
    'num-gpus': { type: 'string', value: 'N', help: 'GPUs this node offers (default 0)' },
    resources: { type: 'string', value: 'JSON', help: 'custom resources, e.g. \'{"disk": 2}\'' },
    labels: {
      type: 'string',
      value: 'JSON',
      help: 'node labels, e.g. \'{"zone": "eu-1"}\' (listed by nodes())',
    },
    'object-store-memory': {
      type: 'string',
      value: 'BYTES',
      help: 'bytes of shared memory for the object store',
    },
    'object-store-warm-ahead': {
      type: 'string',
      value: 'BYTES',
      help: 'bytes of the store kept ready ahead of use (default 1 GiB; 0: off)',
    },
    'object-spilling-dir': {
      type: 'string',
      value: 'DIR',
      help: 'where the store makes its private spill directory (yours, not writable by others; default: the session directory)',
    },
    'object-spilling-limit': {
      type: 'string',
      value: 'BYTES',
      help: 'most bytes the spill files may hold at once (default: no limit but the disk)',
    },
    'heartbeat-timeout-ms': {
      type: 'string',
      value: 'MS',
      help: 'milliseconds without heartbeat before a node is declared dead (default 10000)',
    },
    'max-worker-processes': {
      type: 'string',
      value: 'N',
      help: 'worker processes at most, actors included (1 to 120, the default); actors beyond it wait',
    },
    'metrics-port': {
      type: 'string',
      value: 'PORT',
      help: "serve the node's Prometheus metrics on http://BIND:PORT/metrics (0: any free port)",
    },
    'dashboard-port': {
      type: 'string',
      value: 'PORT',
      help: "serve the dashboard and the job server on http://127.0.0.1:PORT/ (Ray's is 8265; 0: any free port); both need the cluster token",
    },
    'dashboard-host': {
      type: 'string',
      value: 'ADDRESS',
      help: 'address the dashboard listens on (default 127.0.0.1; 0.0.0.0 for other machines)',
    },
    'task-events-limit': {
      type: 'string',
      value: 'N',
      help: "task records the node keeps (the head's: the cluster's table of tasks; default 100000)",
    },
  },
  details:
    "The token is read from --token, else $SUNRAY_CLUSTER_TOKEN, else (on the head's machine) the session directory. " +
    "A head started on a port where a head ran and was not `sunray stop`ped restores that head's directory and token.",
};

/** The JSON of flag `--name` (undefined when not given); `example` shows the form in the error. */
function jsonFlag(f: Flags, name: string, example: string): unknown {
  const raw = stringFlag(f, name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError(`--${name} must be JSON like '${example}', got ${raw}`);
  }
}

function resourcesFlag(f: Flags): Record<string, number> | undefined {
  const v = jsonFlag(f, 'resources', '{"disk": 2}');
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidArgumentError(`--resources must be a JSON object, got ${stringFlag(f, 'resources')}`);
  }
  for (const [k, n] of Object.entries(v)) {
    if (typeof n !== 'number' || n < 0)
      throw new InvalidArgumentError(`--resources: '${k}' must be a number >= 0`);
  }
  return v as Record<string, number>;
}

function labelsFlag(f: Flags): Record<string, string> | undefined {
  const v = jsonFlag(f, 'labels', '{"zone": "eu-1"}');
  return v === undefined ? undefined : checkLabels(v, '--labels');
}

/** The given token (flag, file, then environment), checked for length; undefined if none was given. */
function givenToken(f: Flags): string | undefined {
  const flag = stringFlag(f, 'token');
  if (flag !== undefined) return checkToken(flag, '--token');
  const file = stringFlag(f, 'token-file');
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new InvalidArgumentError(`--token-file: cannot read ${file}: ${(err as Error).message}`);
    }
    return checkToken(text.trim(), '--token-file');
  }
  const env = process.env.SUNRAY_CLUSTER_TOKEN;
  if (env) return checkToken(env, 'SUNRAY_CLUSTER_TOKEN');
  return undefined;
}

/** A head's token when one was given by flag or file (a head makes its own otherwise). */
function givenHeadToken(f: Flags): string | undefined {
  return stringFlag(f, 'token') !== undefined || stringFlag(f, 'token-file') !== undefined
    ? givenToken(f)
    : undefined;
}

/** The environment of the daemon: ours without the token (it comes on stdin). */
function daemonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SUNRAY_CLUSTER_TOKEN;
  return env;
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(SPEC, argv);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const head = f.head === true;
  let restoredFrom: string | undefined;
  const cfg: DaemonConfig = { head, token: '', session: true };
  const port = numberFlag(f, 'port');
  const bind = stringFlag(f, 'bind');
  const numCpus = numberFlag(f, 'num-cpus');
  const numGpus = numberFlag(f, 'num-gpus');
  const resources = resourcesFlag(f);
  const labels = labelsFlag(f);
  const mem = numberFlag(f, 'object-store-memory');
  const warmAhead = numberFlag(f, 'object-store-warm-ahead');
  if (warmAhead !== undefined) {
    if (!Number.isSafeInteger(warmAhead) || warmAhead < 0)
      throw new InvalidArgumentError('--object-store-warm-ahead needs a whole number of bytes >= 0');
    cfg.objectStoreWarmAhead = warmAhead;
  }
  const spillDir = stringFlag(f, 'object-spilling-dir');
  const spillLimit = numberFlag(f, 'object-spilling-limit');
  if (spillLimit !== undefined)
    cfg.objectSpillingLimit = checkSpillLimit(spillLimit, '--object-spilling-limit');
  const hb = numberFlag(f, 'heartbeat-timeout-ms');
  const maxWorkers = numberFlag(f, 'max-worker-processes');
  if (maxWorkers !== undefined) cfg.maxWorkerProcesses = checkMaxWorkerProcesses(maxWorkers);
  const metricsPort = numberFlag(f, 'metrics-port');
  if (metricsPort !== undefined) cfg.metricsPort = metricsPort;
  const dashboardPort = numberFlag(f, 'dashboard-port');
  if (dashboardPort !== undefined) cfg.dashboardPort = checkPort(dashboardPort, '--dashboard-port');
  const dashboardHost = stringFlag(f, 'dashboard-host');
  if (dashboardHost !== undefined) {
    if (dashboardPort === undefined)
      throw new InvalidArgumentError('--dashboard-host needs --dashboard-port');
    cfg.dashboardHost = dashboardHost;
  }
  const taskEventsLimit = numberFlag(f, 'task-events-limit');
  if (taskEventsLimit !== undefined) cfg.taskEventsLimit = checkTaskEventsLimit(taskEventsLimit);
  if (bind !== undefined) cfg.bind = bind;
  const tlsFiles = tlsFlags(f);
  if (tlsFiles) cfg.tls = tlsFiles;
  const nodeIp = stringFlag(f, 'node-ip-address');
  if (nodeIp !== undefined) cfg.nodeIpAddress = checkNodeIp(nodeIp, '--node-ip-address');
  if (numCpus !== undefined) cfg.numCpus = numCpus;
  if (numGpus !== undefined) cfg.numGpus = numGpus;
  if (resources) cfg.resources = resources;
  if (labels) cfg.labels = labels;
  if (mem !== undefined) cfg.objectStoreMemory = mem;
  if (spillDir !== undefined) {
    if (spillDir === '') throw new InvalidArgumentError('--object-spilling-dir needs a directory');
    cfg.objectSpillingDir = checkSpillParent(spillDir); // refused here, not in the daemon's log
  }
  if (hb !== undefined) cfg.heartbeatTimeoutMs = hb;
  if (head) {
    if (f.address !== undefined) throw new InvalidArgumentError('--head and --address exclude each other');
    if (daemons().some((d) => d.head && daemonRunning(d))) {
      throw new SunrayError('a head node already runs on this machine: `sunray stop` it first, or join it');
    }
    cfg.port = port ?? 6380;
    const given = givenHeadToken(f);
    // A head that ran on this port and was not `sunray stop`ped left its directory: carry on from it.
    const saved = cfg.port !== 0 ? restoredHead(cfg.port, given) : undefined;
    if (cfg.port !== 0) cfg.headStateFile = headStateFile(cfg.port);
    restoredFrom = saved ? cfg.headStateFile : undefined;
    cfg.token = given ?? saved?.token ?? newToken();
  } else {
    let address = stringFlag(f, 'address');
    let token = givenToken(f);
    if (address === undefined || address === 'auto') {
      const local = loadHead();
      if (!local)
        throw new InvalidArgumentError(
          'give --head to start a cluster, or --address HOST:PORT (and the token in $SUNRAY_CLUSTER_TOKEN) to join one',
        );
      address = local.address;
      token ??= local.token;
      if (!cfg.tls && local.tls) cfg.tls = local.tls; // the local head's TLS files
    }
    if (!token)
      throw new InvalidArgumentError(
        'a token is needed to join: set SUNRAY_CLUSTER_TOKEN (or give --token) to the one `sunray start --head` printed',
      );
    cfg.headAddress = address;
    cfg.token = token;
    cfg.port = port ?? 0;
  }
  const dir = sessionDir();
  const { rec, log } = await launchDaemon(cfg);
  if (rec.metricsAddress) process.stdout.write(`metrics: http://${rec.metricsAddress}/metrics\n`);
  if (rec.dashboardAddress) {
    const scheme = cfg.tls ? 'https' : 'http';
    process.stdout.write(`dashboard: ${scheme}://${rec.dashboardAddress}/ (log in with the cluster token)\n`);
    process.stdout.write(
      `jobs: sunray job submit --address ${scheme}://${rec.dashboardAddress} -- node script.mjs\n`,
    );
  }
  if (head) {
    if (restoredFrom)
      process.stdout.write(
        `sunray: restored the cluster's directory from ${restoredFrom}; its nodes rejoin as they find the head\n`,
      );
    process.stdout.write(
      [
        `sunray: head node started at ${rec.address} (node ${rec.nodeId.slice(0, 8)}, pid ${rec.pid}, log ${log})`,
        `cluster token: ${cfg.token}`,
        `  (kept in ${join(dir, 'token')}, mode 0600; anyone with it can run code on the cluster's nodes)`,
        '',
        'To add a node on another machine (the head must be reachable: start it with --bind 0.0.0.0):',
        `  SUNRAY_CLUSTER_TOKEN=${cfg.token} sunray start --address ${rec.address}${cfg.tls ? ' --tls-cert FILE --tls-key FILE --tls-ca FILE' : ''}`,
        '  (in the environment, not as --token: every user of a machine can read command lines)',
        'To add a node on this machine: sunray start',
        'To connect a driver:',
        `  await sunray.init({ address: '${rec.address}', token: process.env.SUNRAY_CLUSTER_TOKEN })`,
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

/**
 * The saved state of the head that ran on `port` (head-state.ts), if any; a token given that
 * is not the one it ran with is refused (its nodes could not rejoin a head with another).
 */
function restoredHead(port: number, given: string | undefined): HeadStateFile | undefined {
  const file = headStateFile(port);
  const saved = readHeadState(file);
  if (saved && given !== undefined && given !== saved.token)
    throw new HeadStateError(
      `a head ran on port ${port} with another token and left its state in ${file}: give that token, ` +
        'or `sunray stop` to forget it and start a new cluster',
    );
  return saved;
}

/** --tls-cert, --tls-key and --tls-ca as absolute paths (all or none), read once to fail here, not in the daemon. */
function tlsFlags(f: Flags): TlsFiles | undefined {
  const files = tlsFilesOf(
    { cert: stringFlag(f, 'tls-cert'), key: stringFlag(f, 'tls-key'), ca: stringFlag(f, 'tls-ca') },
    { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' },
  );
  if (!files) return undefined;
  const abs = { cert: resolve(files.cert), key: resolve(files.key), ca: resolve(files.ca) };
  loadTls(abs);
  return abs;
}

/**
 * Starts a node daemon in the background with cfg on its stdin (the token never in argv or
 * its environment) and waits until it serves (`sunray start`, `sunray up`).
 */
export async function launchDaemon(cfg: DaemonConfig): Promise<{ rec: ReadyDaemon; log: string }> {
  const log = join(sessionDir(), `node-${Date.now()}-${process.pid}.log`);
  cfg.log = log;
  const out = openSync(log, 'a', 0o600);
  const child = spawn(process.execPath, [DAEMON], {
    detached: true,
    stdio: ['pipe', out, out],
    env: daemonEnv(),
  });
  closeSync(out);
  const { stdin, pid } = child;
  // No pid: the spawn itself failed (node missing, too many processes); stdin is piped above.
  if (!stdin || pid === undefined) throw new SunrayError(`could not start the node daemon; see ${log}`);
  writeDaemonConfig(stdin, cfg);
  child.unref();
  return { rec: await waitReady(pid, log), log };
}

/** A port number 0-65535 given to `flag`. */
export function checkPort(port: number, flag: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`${flag} must be a port number 0-65535, got ${port}`);
  return port;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A daemon that serves, as its session record says. */
export interface ReadyDaemon {
  nodeId: string;
  address: string;
  pid: number;
  metricsAddress?: string;
  dashboardAddress?: string;
}

async function waitReady(pid: number, log: string): Promise<ReadyDaemon> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const rec = daemons().find((d) => d.pid === pid);
    if (rec) return rec;
    if (!isAlive(pid)) throw new SunrayError(`the node exited at start: ${lastLine(log)} (log: ${log})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new SunrayError(`the node did not start within 30 s; see ${log}`);
}

/** The last line the daemon wrote, to say why it stopped. */
function lastLine(log: string): string {
  try {
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    return lines[lines.length - 1] || 'it wrote nothing';
  } catch {
    return 'it wrote nothing';
  }
}
