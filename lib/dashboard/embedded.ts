// The dashboard of a driver's embedded node (init({ dashboard })): where it listens (8265,
// or another free port when that is taken, as Ray's; a port given is used or fails), the
// token it asks for (the cluster token when the driver joined a cluster, else a random one
// made for this session, kept in a 0600 file of the private session directory so another
// shell of the same user can read it), and its record for dashboardUrl() and shutdown().
import { closeSync, constants, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../base/errors.js';
import { debug, warn } from '../base/warnings.js';
import { newToken } from '../cluster/auth.js';
import { resolveAddress } from '../cluster/join.js';
import { loadTls } from '../cluster/tls.js';
import type { InitOptions } from '../node/driver.js';
import type { NodeManager } from '../node/node-manager.js';
import { sessionDir } from '../session/session-dir.js';
import { setServedDashboard } from './current.js';
import { type DashboardServer, DEFAULT_DASHBOARD_PORT, startDashboard } from './index.js';

/** Serves the embedded node's dashboard when init() asked for one (after joining a cluster, if it did). */
export async function serveEmbeddedDashboard(node: NodeManager, opts: InitOptions): Promise<void> {
  const asked = opts.dashboard;
  if (asked === undefined || asked === false) return;
  if (asked !== true && (typeof asked !== 'object' || asked === null)) {
    throw new InvalidArgumentError(`init(): dashboard is true or { port, host }, got ${String(asked)}`);
  }
  const { port, host = '127.0.0.1' } = asked === true ? {} : asked;
  const joined = opts.address !== undefined && opts.address !== 'local';
  const target = joined ? resolveAddress({ ...opts, address: opts.address ?? '' }) : undefined;
  const token = target?.token ?? newToken();
  // A driver of a TLS cluster serves its dashboard over HTTPS with its certificate, as the nodes do.
  const tls = target?.tls ? loadTls(target.tls) : undefined;
  const start = (p: number) =>
    startDashboard(node, { port: p, host, token, log: (line) => debug('%s', line), tls });
  let server: DashboardServer;
  if (port !== undefined) server = await start(port);
  else {
    try {
      server = await start(DEFAULT_DASHBOARD_PORT);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      server = await start(0);
      warn(
        'SUNRAY_DASHBOARD_PORT',
        `port ${DEFAULT_DASHBOARD_PORT} is taken: the dashboard is at ${server.url} (dashboardUrl() says so)`,
      );
    }
  }
  let file: string | undefined;
  if (!joined) {
    try {
      file = writeTokenFile(server.url, token);
    } catch (err) {
      await server.close();
      throw err;
    }
  }
  setServedDashboard({
    address: server.address,
    token,
    async close() {
      await server.close();
      if (file) rmSync(file, { force: true });
    },
  });
}

/**
 * `<session dir>/dashboard-<pid>.json`, mode 0600: the URL and token of this process's
 * dashboard. Made with O_EXCL|O_NOFOLLOW in the private session directory; a file of an
 * earlier process with this pid (which crashed) is replaced.
 */
function writeTokenFile(url: string, token: string): string {
  const path = join(sessionDir(), `dashboard-${process.pid}.json`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    rmSync(path, { force: true });
    fd = openSync(path, flags, 0o600);
  }
  try {
    writeSync(fd, `${JSON.stringify({ url, token, pid: process.pid })}\n`);
  } finally {
    closeSync(fd);
  }
  return path;
}
