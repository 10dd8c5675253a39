// Starting the dashboard on a node: its data source is the node manager's state API
// (every node's rows when the node is part of a cluster, tasks from the head's table),
// every node's usage row and the worker log files (listed over the cluster, read on the
// node each is on). Used by a node daemon (`sunray start --dashboard-port`) and by a
// driver's embedded node (embedded.ts).
import type { NodeManager } from '../node/node-manager.js';
import type { LogFileRow } from '../protocol/log-lines.js';
import type { NodeUsageRow } from '../protocol/state-rows.js';
import type { DashboardSource } from './api.js';
import { JobApi } from './job-api.js';
import { JobManager } from './job-manager.js';
import { DashboardServer } from './server.js';

export { DashboardServer } from './server.js';

/** The port Ray's dashboard listens on, and so sunray's when none is given. */
export const DEFAULT_DASHBOARD_PORT = 8265;

/** What the dashboard of a node reads. */
export function nodeSource(manager: NodeManager): DashboardSource {
  return {
    nodeId: manager.nodeId,
    state: async (kind, selection) => await manager.handleRequest('listState', [kind, selection]),
    usage: async () => {
      const cluster = manager.cluster;
      if (cluster)
        return (await cluster.stateRows('usage')) as { rows: NodeUsageRow[]; unreachable: string[] };
      return { rows: manager.localState.rows('usage') as NodeUsageRow[], unreachable: [] };
    },
    logFiles: async () => {
      const a = await manager.handleRequest('logFiles', []);
      return { rows: a.rows as LogFileRow[], unreachable: a.unreachable };
    },
    // A node on its own has no other node's files, nor a cluster a dead node's: not there.
    readLog: async (req) => await manager.handleRequest('readLog', [req]),
  };
}

/**
 * Serves a node's dashboard on host:port (0: any free port), guarded by `token`; with
 * `jobs` (a daemon's), its job server too, whose drivers join the head at `jobs.headAddress`.
 */
export async function startDashboard(
  manager: NodeManager,
  opts: {
    port: number;
    host: string;
    token: string;
    log?: (line: string) => void;
    tls?: { cert: Buffer; key: Buffer } | undefined;
    jobs?: { headAddress: string };
  },
): Promise<DashboardServer> {
  const log = opts.log ?? (() => {});
  const jobs = opts.jobs && new JobManager(manager, opts.jobs.headAddress, opts.token);
  const api = jobs && new JobApi(jobs, manager, opts.token, log);
  const { jobs: _, ...rest } = opts;
  const server = await DashboardServer.start({
    ...rest,
    source: nodeSource(manager),
    ...(api ? { jobs: api } : {}),
  });
  if (jobs) server.onClose(() => jobs.close());
  return server;
}
