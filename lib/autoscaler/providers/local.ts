// The `local` provider: each node is a node daemon on this machine (the process
// `sunray start --address HEAD` starts), spawned by the head with the node type's
// resources and labels, its configuration (the token with it) on a pipe to its stdin.
// The nodes exit with the head (exitWithParent); terminate() stops one with SIGTERM,
// then SIGKILL after a grace period. What tests and laptops use.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeProviderError } from '../../base/errors.js';
import { type DaemonConfig, writeDaemonConfig } from '../../cluster/daemon-config.js';
import { sessionDir } from '../../session/session-dir.js';
import type { HeadAccess, Instance, NodeLaunch, NodeProvider } from '../provider.js';

const DAEMON = fileURLToPath(new URL('../../entry/daemon.js', import.meta.url));

/** How long a node may take to stop after SIGTERM before it is killed. */
const GRACE_MS = 10_000;

/** The daemon configuration of a node of this launch (what `sunray start --address` would send). */
export function localDaemonConfig(head: HeadAccess, launch: NodeLaunch, log: string): DaemonConfig {
  const { CPU, GPU, ...custom } = launch.resources;
  const cfg: DaemonConfig = {
    head: false,
    headAddress: head.address,
    token: head.token,
    numCpus: CPU ?? 0,
    numGpus: GPU ?? 0,
    resources: custom,
    labels: launch.labels,
    // Not in the session's records: these nodes are the head's, and end with it.
    session: false,
    exitWithParent: true,
    log,
  };
  if (launch.objectStoreMemory !== undefined) cfg.objectStoreMemory = launch.objectStoreMemory;
  return cfg;
}

/** Node daemons on this machine, children of the head. */
export class LocalProvider implements NodeProvider {
  readonly kind = 'local';
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly head: HeadAccess) {}

  async create(launch: NodeLaunch): Promise<Instance> {
    const log = join(sessionDir(), `node-${Date.now()}-${launch.name}.log`);
    const out = openSync(log, 'a', 0o600);
    const { SUNRAY_CLUSTER_TOKEN: _, ...env } = process.env;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [DAEMON], { detached: true, stdio: ['pipe', out, out], env });
    } finally {
      closeSync(out);
    }
    if (!child.stdin || child.pid === undefined)
      throw new NodeProviderError(`could not start a local node of type ${launch.nodeType}; see ${log}`);
    child.on('error', () => {}); // a failed spawn: its exit says so, and the node never joins
    writeDaemonConfig(child.stdin, localDaemonConfig(this.head, launch, log));
    child.unref();
    const id = `local-${child.pid}`;
    this.children.set(id, child);
    child.once('exit', () => this.children.delete(id));
    return { id, name: launch.name, nodeType: launch.nodeType };
  }

  async terminate(instance: Instance): Promise<void> {
    const child = this.children.get(instance.id);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), GRACE_MS);
    });
    if ((await Promise.race([exited, late])) === 'late') {
      child.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }

  async list(): Promise<string[]> {
    return [...this.children.keys()];
  }

  async address(): Promise<string> {
    return '127.0.0.1';
  }
}
