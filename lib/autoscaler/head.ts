// Starting the autoscaler on the head (entry/daemon.ts calls it when the daemon was
// started by `sunray up`): the cluster config, checked again here; the provider it
// names, reaching the head at its address with the token (on a pipe for local nodes, in
// a 0600 file of the private session directory for the user's commands); the loop over
// the head's directory.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Directory } from '../cluster/directory.js';
import { sessionDir, writeSecret } from '../session/session-dir.js';
import { Autoscaler } from './autoscaler.js';
import { checkClusterConfig } from './config.js';
import { directoryDemand } from './demand.js';
import { makeProvider } from './providers/index.js';
import type { PendingPlacementGroup } from './scheduler.js';

/** What the head gives its autoscaler. */
export interface HeadAutoscalerOptions {
  /** The cluster config (as `sunray up` checked it; checked again). */
  config: unknown;
  directory: Directory;
  /** host:port of the head. */
  address: string;
  token: string;
  log: (line: string) => void;
  /** The head's placement groups waiting for room (none until the head keeps them). */
  placementGroups?: () => PendingPlacementGroup[];
}

/** The running autoscaler of a head: stop() removes the nodes it launched. */
export interface HeadAutoscaler {
  stop(): Promise<void>;
}

/** Starts the autoscaler's loop on the head. */
export function startHeadAutoscaler(opts: HeadAutoscalerOptions): HeadAutoscaler {
  const config = checkClusterConfig(opts.config);
  const tokenFile = join(sessionDir(), `token-${config.clusterName}-${process.pid}`);
  writeSecret(tokenFile, `${opts.token}\n`);
  const provider = makeProvider(config, { address: opts.address, token: opts.token, tokenFile });
  const autoscaler = new Autoscaler({
    config,
    provider,
    source: directoryDemand(opts.directory, opts.placementGroups),
    log: opts.log,
  });
  autoscaler.start();
  opts.log(
    `autoscaler: ${config.provider.type} provider, node types ${Object.keys(config.nodeTypes).join(', ')}, ` +
      `at most ${config.maxWorkers} nodes, idle timeout ${config.idleTimeoutMinutes} min`,
  );
  return {
    stop: async () => {
      await autoscaler.stop();
      rmSync(tokenFile, { force: true });
    },
  };
}
