// A node daemon: a node manager in its own process, joined to a cluster (or
// founding it as the head). Started by `sunray start` and by the testing
// Cluster helper, with its configuration as JSON on its stdin (it holds the
// cluster token, so never in argv, which every local user can read). It prints
// "SUNRAY_NODE_READY <json>" on stdout once it serves, and records itself in
// the session directory when asked, so `sunray stop` finds it.
import { closeSync, openSync, readSync } from 'node:fs';
import { cpus } from 'node:os';
import { type HeadAutoscaler, startHeadAutoscaler } from '../autoscaler/head.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { type DaemonConfig, MAX_CONFIG_BYTES, READY_PREFIX } from '../cluster/daemon-config.js';
import { loadTls, type TlsMaterial } from '../cluster/tls.js';
import { type DashboardServer, startDashboard } from '../dashboard/index.js';
import { defaultObjectStoreMemory } from '../node/driver.js';
import { NodeManager } from '../node/node-manager.js';
import { checkLabels } from '../protocol/node-labels.js';
import { forgetDaemon, recordDaemon, saveHead } from '../session/session-dir.js';
import { ObjectId, type ObjectStore } from '../store/index.js';

/** The configuration, read from stdin to its end. */
async function readConfig(): Promise<DaemonConfig> {
  const fail = (why: string): never => {
    console.error(`sunray daemon: ${why}; nodes are started by \`sunray start\``);
    process.exit(2);
  };
  if (process.stdin.isTTY) fail('expects its configuration as JSON on stdin');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CONFIG_BYTES) fail(`configuration on stdin is larger than ${MAX_CONFIG_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as DaemonConfig;
  } catch {
    return fail('got no valid JSON configuration on stdin');
  }
}

async function main(): Promise<void> {
  const cfg = await readConfig();
  let manager: NodeManager;
  try {
    manager = new NodeManager({
      numCpus: cfg.numCpus ?? cpus().length,
      numGpus: cfg.numGpus ?? 0,
      resources: cfg.resources ?? {},
      objectStoreMemory: cfg.objectStoreMemory ?? defaultObjectStoreMemory(),
      ...(cfg.objectStoreWarmAhead !== undefined ? { objectStoreWarmAhead: cfg.objectStoreWarmAhead } : {}),
      ...(cfg.objectSpillingDir ? { spillDir: cfg.objectSpillingDir } : {}),
      ...(cfg.objectSpillingLimit ? { spillLimit: cfg.objectSpillingLimit } : {}),
      namespace: 'default',
      logToDriver: true,
      idleWorkerTimeoutMs: 60_000,
      driverDir: process.cwd(),
      ...(cfg.maxWorkerProcesses !== undefined ? { maxWorkerProcesses: cfg.maxWorkerProcesses } : {}),
      labels: checkLabels(cfg.labels, 'sunray start'),
      ...(cfg.taskEventsLimit !== undefined ? { taskEventsLimit: cfg.taskEventsLimit } : {}),
    });
  } catch (err) {
    console.error(`sunray node: could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  let tls: TlsMaterial | undefined;
  try {
    tls = cfg.tls ? loadTls(cfg.tls) : undefined;
  } catch (err) {
    console.error(`sunray node: could not start: ${(err as Error).message}`);
    await manager.shutdown();
    process.exit(1);
  }
  // Before joining: warming a large arena holds the event loop for seconds, and a node that has
  // joined would miss its heartbeats meanwhile and be declared dead.
  if (cfg.prefaultStore) warmArena(manager.store);
  let node: ClusterNode;
  try {
    node = await ClusterNode.start({
      manager,
      token: cfg.token,
      head: cfg.head,
      ...(cfg.headAddress ? { headAddress: cfg.headAddress } : {}),
      bind: cfg.bind,
      nodeIpAddress: cfg.nodeIpAddress,
      headStateFile: cfg.headStateFile,
      tls,
      port: cfg.port ?? 0,
      ...(cfg.heartbeatTimeoutMs ? { heartbeatTimeoutMs: cfg.heartbeatTimeoutMs } : {}),
    });
  } catch (err) {
    console.error(`sunray node: could not start: ${(err as Error).message}`);
    await manager.shutdown();
    process.exit(1);
  }
  manager.prestart();
  if (cfg.metricsPort !== undefined) {
    try {
      await manager.metrics.serve(cfg.metricsPort, cfg.bind ?? '127.0.0.1');
    } catch (err) {
      console.error(`sunray node: could not serve /metrics: ${(err as Error).message}`);
      await manager.shutdown();
      process.exit(1);
    }
  }
  let dashboardAddress: string | undefined;
  let dashboard: DashboardServer | undefined;
  if (cfg.dashboardPort !== undefined) {
    try {
      // Guarded by the cluster token; refused logins go to the node's log, a line a second at most.
      // Its job server's drivers join this node's head.
      dashboard = await startDashboard(manager, {
        port: cfg.dashboardPort,
        host: cfg.dashboardHost ?? '127.0.0.1',
        token: cfg.token,
        log: (line) => console.error(line),
        tls,
        jobs: { headAddress: cfg.head ? node.address : (cfg.headAddress ?? node.address) },
      });
      dashboardAddress = dashboard.address;
    } catch (err) {
      console.error(`sunray node: could not serve the dashboard: ${(err as Error).message}`);
      await manager.shutdown();
      process.exit(1);
    }
  }
  const metricsAddress = manager.metrics.address;
  const info = {
    pid: process.pid,
    nodeId: manager.nodeId,
    address: node.address,
    head: cfg.head,
    log: cfg.log ?? '',
    ...(metricsAddress ? { metricsAddress } : {}),
    ...(dashboardAddress ? { dashboardAddress } : {}),
  };
  if (cfg.session) {
    recordDaemon(info);
    if (cfg.head) saveHead(node.address, cfg.token, cfg.tls);
  }
  let autoscaler: HeadAutoscaler | undefined;
  if (cfg.autoscaler !== undefined && node.directory) {
    try {
      autoscaler = startHeadAutoscaler({
        config: cfg.autoscaler,
        directory: node.directory,
        // The head's placement groups waiting for room: their bundles are demand too.
        placementGroups: () => manager.placementGroups.pendingBundles(),
        address: node.address,
        token: cfg.token,
        log: (line) => console.error(line),
      });
    } catch (err) {
      console.error(`sunray node: could not start the autoscaler: ${(err as Error).message}`);
      await manager.shutdown();
      process.exit(1);
    }
  }
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(info)}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // The nodes the autoscaler launched go first (`sunray down`), then this node.
    await autoscaler?.stop().catch((err: unknown) => console.error(`sunray node: ${(err as Error).message}`));
    await dashboard?.close(); // its jobs are stopped first
    await manager.shutdown();
    if (cfg.session) forgetDaemon(process.pid);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  if (cfg.exitWithParent) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) void stop();
    }, 500).unref();
  }
  process.on('SIGINT', () => void stop());
}

/**
 * Fresh shared-memory pages cost far more than warm ones here: one object nearly the arena's
 * size, written once and dropped, backs them all before the first real object arrives. It is
 * written by the kernel (a read from /dev/zero), not by a fill: transfers land in the arena
 * by kernel writes (socket reads), and on these paravirtualized VMs a page the process
 * wrote itself is still slow the first time the kernel writes it (0.05-0.5 GB/s against
 * 2.5 GB/s once warm).
 */
function warmArena(store: ObjectStore): void {
  const id = ObjectId.random();
  for (let frac = 0.95; frac > 0.3; frac -= 0.1) {
    let view: Buffer;
    try {
      view = store.create(id, Math.floor(store.capacity * frac));
    } catch {
      continue; // too large for the allocator's view of free space: try smaller
    }
    try {
      writeByKernel(view);
    } finally {
      store.abort(id);
    }
    return;
  }
}

/** Zeroes view with read(2)s from /dev/zero, falling back to a fill where there is none. */
function writeByKernel(view: Buffer): void {
  let fd: number;
  try {
    fd = openSync('/dev/zero', 'r');
  } catch {
    view.fill(0);
    return;
  }
  try {
    const step = 8 * 1024 * 1024;
    for (let at = 0; at < view.length; ) {
      const n = readSync(fd, view, at, Math.min(step, view.length - at), null);
      if (n <= 0) break;
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

void main();
