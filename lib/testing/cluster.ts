// A cluster of node processes on one machine, for tests and benchmarks (as
// Ray's cluster_utils.Cluster): each node is its own process with its own port
// and store arena. The first node added is the head, unless this process
// already runs sunray: then its embedded node is the head, and added nodes join it.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SunrayError } from '../base/errors.js';
import { newToken } from '../cluster/auth.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { type DaemonConfig, READY_PREFIX, writeDaemonConfig } from '../cluster/daemon-config.js';
import type { NodeInfoMsg } from '../cluster/messages.js';
import { loadTls, type TlsFiles, type TlsMaterial } from '../cluster/tls.js';
import { embeddedNode } from '../node/driver.js';
import { checkLabels } from '../protocol/node-labels.js';

const DAEMON = fileURLToPath(new URL('../entry/daemon.js', import.meta.url));

/** Options of Cluster.addNode(): the node's resources, store and worker limit. */
export interface NodeOptions {
  /** CPUs the node offers (default 1 here). */
  numCpus?: number;
  /** GPUs the node offers (default 0). */
  numGpus?: number;
  /** Custom resources the node offers, e.g. { disk: 1 }. */
  resources?: Record<string, number>;
  /** Bytes of the node's store arena (default 256 MiB here: tests run many nodes). */
  objectStoreMemory?: number;
  /** Map the whole arena at start (slow start, fast first large objects: for benchmarks). */
  prefaultStore?: boolean;
  /** Worker processes the node runs at most, actors included (`sunray start --max-worker-processes`). */
  maxWorkerProcesses?: number;
  /** The node's labels (`sunray start --labels`), listed by nodes(). */
  labels?: Record<string, string>;
  /** Serve the node's /metrics on this port (`sunray start --metrics-port`; 0: any free one). */
  metricsPort?: number;
  /**
   * Serve the dashboard on this port (`sunray start --dashboard-port`; 0: any free one),
   * on 127.0.0.1; log in with the cluster's `token`. Usually the head's.
   */
  dashboardPort?: number;
  /**
   * Give the node its own loopback address, bound and advertised as a separate machine's
   * would be: `true` takes the cluster's next one (127.0.0.2, 127.0.0.3, ...; Linux routes
   * all of 127/8 to the loopback interface), a string is the address itself. Other nodes
   * reach it only at that address, so a wrong advertised address fails.
   */
  ownLoopback?: boolean | string;
  /** This node's TLS files, in place of the cluster's (a test of a node with a wrong certificate). */
  tls?: TlsFiles;
  /**
   * The directory the node's process starts in (default this process's): a node started
   * elsewhere has no copy of the driver's files at hand, as on another machine.
   */
  cwd?: string;
}

/** Options of new Cluster(). */
export interface ClusterOptions {
  /** Milliseconds without heartbeat before the head declares a node dead (default 10 s, as sunray start). */
  heartbeatTimeout?: number;
  /**
   * Run every connection over TLS with these files (`sunray start --tls-cert/--tls-key/--tls-ca`):
   * every node, and this process when it joins or heads the cluster, presents this certificate.
   * Drivers joining pass the same paths as init({ tlsCert, tlsKey, tlsCa }).
   */
  tls?: TlsFiles;
}

/** A node process of a Cluster. */
export interface NodeHandle {
  /** The node's id (hex). */
  readonly nodeId: string;
  /** Its address, host:port. */
  readonly address: string;
  /** Its process id. */
  readonly pid: number;
  /** It is the head node. */
  readonly head: boolean;
  /** Its process, to kill it in a test. */
  readonly process: ChildProcess;
  /** host:port of its /metrics endpoint, when started with metricsPort. */
  readonly metricsAddress?: string;
  /** host:port of its dashboard, when started with dashboardPort. */
  readonly dashboardAddress?: string;
}

/** Node processes on this machine forming one cluster, for tests and benchmarks (Ray's cluster_utils.Cluster); the first node added is the head unless this process runs sunray. */
export class Cluster {
  /** The cluster's shared secret, which nodes present to join (do not log it). */
  readonly token = newToken();
  /** The head's address, host:port ('' until the first node is added). */
  address = '';
  /** The node processes started, in order. */
  readonly nodes: NodeHandle[] = [];
  private embeddedHead: ClusterNode | undefined;
  private readonly heartbeatTimeout: number;
  /** The TLS files every node uses (ClusterOptions.tls), if any. */
  readonly tls: TlsFiles | undefined;
  /** The last byte of the next loopback address ownLoopback: true gives. */
  private nextLoopback = 2;

  constructor(opts: ClusterOptions = {}) {
    this.heartbeatTimeout = opts.heartbeatTimeout ?? 10_000;
    this.tls = opts.tls;
  }

  /** Starts a node process; the first one is the head (see the class comment). */
  async addNode(opts: NodeOptions = {}): Promise<NodeHandle> {
    if (!this.address) {
      const manager = embeddedNode();
      if (manager && !manager.cluster) {
        const { ClusterNode } = await import('../cluster/cluster-node.js');
        this.embeddedHead = await ClusterNode.start({
          manager,
          token: this.token,
          head: true,
          isDriver: true,
          heartbeatTimeoutMs: this.heartbeatTimeout,
          tls: this.tlsMaterial(),
        });
        this.address = this.embeddedHead.address;
      }
    }
    const head = !this.address;
    const bind = this.loopbackFor(opts.ownLoopback);
    const cfg: DaemonConfig = {
      head,
      ...(head ? {} : { headAddress: this.address }),
      token: this.token,
      numCpus: opts.numCpus ?? 1,
      numGpus: opts.numGpus ?? 0,
      resources: opts.resources ?? {},
      objectStoreMemory: opts.objectStoreMemory ?? 256 * 1024 * 1024,
      heartbeatTimeoutMs: this.heartbeatTimeout,
      prefaultStore: opts.prefaultStore ?? false,
      exitWithParent: true,
      ...(bind !== undefined ? { bind } : {}),
      ...((opts.tls ?? this.tls) ? { tls: opts.tls ?? this.tls } : {}),
      ...(opts.maxWorkerProcesses !== undefined ? { maxWorkerProcesses: opts.maxWorkerProcesses } : {}),
      ...(opts.labels ? { labels: checkLabels(opts.labels, 'Cluster.addNode()') } : {}),
      ...(opts.metricsPort !== undefined ? { metricsPort: opts.metricsPort } : {}),
      ...(opts.dashboardPort !== undefined ? { dashboardPort: opts.dashboardPort } : {}),
    };
    // The configuration (and its token) on stdin, never in argv: see daemon.ts.
    const env = { ...process.env };
    delete env.SUNRAY_CLUSTER_TOKEN;
    const child = spawn(process.execPath, [DAEMON], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    writeDaemonConfig(child.stdin, cfg);
    const info = await new Promise<{
      nodeId: string;
      address: string;
      metricsAddress?: string;
      dashboardAddress?: string;
    }>((resolve, reject) => {
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString();
        let i = buf.indexOf('\n');
        while (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.startsWith(READY_PREFIX)) {
            child.off('exit', onExit);
            resolve(JSON.parse(line.slice(READY_PREFIX.length)));
          } else if (line) process.stdout.write(`${line}\n`);
          i = buf.indexOf('\n');
        }
      };
      const onExit = (code: number | null) =>
        reject(new SunrayError(`a cluster node exited at start (code ${code})`));
      child.stdout.on('data', onData);
      child.once('exit', onExit);
    });
    // It printed its address, so it runs and has a pid; undefined would mean the spawn failed.
    const pid = child.pid;
    if (pid === undefined) throw new SunrayError('a cluster node started without a pid');
    if (head) this.address = info.address;
    const node: NodeHandle = { ...info, pid, head, process: child };
    this.nodes.push(node);
    // A node killed by the test (kill -9) leaves the list on its own.
    child.once('exit', () => {
      const i = this.nodes.indexOf(node);
      if (i >= 0) this.nodes.splice(i, 1);
    });
    await this.waitForNodes();
    return node;
  }

  private loadedTls: TlsMaterial | undefined;

  /** The cluster's TLS files, read once (this process's own connections: the embedded head, status). */
  private tlsMaterial(): TlsMaterial | undefined {
    if (this.tls) this.loadedTls ??= loadTls(this.tls);
    return this.loadedTls;
  }

  /** The address a node's ownLoopback option asks for (undefined: the default, 127.0.0.1). */
  private loopbackFor(own: boolean | string | undefined): string | undefined {
    if (typeof own === 'string') return own;
    if (!own) return undefined;
    if (this.nextLoopback > 254) throw new SunrayError('Cluster: no loopback addresses left (127.0.0.2-254)');
    return `127.0.0.${this.nextLoopback++}`;
  }

  /** Stops a node: gracefully (it leaves the cluster) or with SIGKILL (as a crash). */
  async removeNode(node: NodeHandle, opts: { graceful?: boolean } = {}): Promise<void> {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
    await stopProcess(node.process, opts.graceful === false ? 'SIGKILL' : 'SIGTERM');
  }

  /** The cluster's nodes as the head sees them. */
  async nodeTable(): Promise<NodeInfoMsg[]> {
    const { queryStatus } = await import('../cluster/status.js');
    return (await queryStatus(this.address, { token: this.token, tls: this.tlsMaterial() })).nodes;
  }

  /** Waits until the head lists every started node (and the embedded head) as alive. */
  async waitForNodes(timeoutMs = 20_000): Promise<void> {
    const want = this.nodes.map((n) => n.nodeId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const table = await this.nodeTable();
      const alive = new Set(table.filter((n) => n.alive).map((n) => n.nodeId));
      if (want.every((id) => alive.has(id))) return;
      if (Date.now() > deadline)
        throw new SunrayError(`cluster nodes did not all join within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops every node process (and the embedded head, if this process is it). */
  async shutdown(): Promise<void> {
    const nodes = this.nodes.splice(0);
    // Non-head nodes first, so the head does not outlive nothing; then the head.
    await Promise.all(nodes.filter((n) => !n.head).map((n) => stopProcess(n.process, 'SIGTERM')));
    await Promise.all(nodes.filter((n) => n.head).map((n) => stopProcess(n.process, 'SIGTERM')));
    if (this.embeddedHead) {
      const manager = embeddedNode();
      if (manager?.cluster === this.embeddedHead && manager) manager.cluster = undefined;
      await this.embeddedHead.close();
      this.embeddedHead = undefined;
    }
  }
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}
