// The dashboard this driver's node serves (init({ dashboard })), as the public API tells
// it: dashboardAddress(), dashboardUrl(), dashboardToken(); shutdown() closes it. Nothing
// here loads the node manager: index.ts imports this in workers too, where none is served.

/** A dashboard being served by this process. */
export interface ServedDashboard {
  /** host:port it listens on. */
  readonly address: string;
  /** What logging in takes. */
  readonly token: string;
  /** Stops it (and removes its token file). */
  close(): Promise<void>;
}

let served: ServedDashboard | undefined;

/** Records the dashboard this process serves (embedded.ts). */
export function setServedDashboard(d: ServedDashboard | undefined): void {
  served = d;
}

/**
 * host:port of the dashboard this driver serves (init({ dashboard })), or undefined when it
 * serves none (or in a worker).
 */
export function dashboardAddress(): string | undefined {
  return served?.address;
}

/** The dashboard's URL, `http://127.0.0.1:8265/` (see dashboardAddress()), or undefined. */
export function dashboardUrl(): string | undefined {
  return served ? `http://${served.address}/` : undefined;
}

/**
 * The token the dashboard asks for at login: the cluster token when the driver joined a
 * cluster, else a random one made for this session (also in a 0600 file of the session
 * directory, `dashboard-<pid>.json`). undefined when no dashboard is served. Treat it as
 * a password: anyone with it reads what the cluster runs.
 */
export function dashboardToken(): string | undefined {
  return served?.token;
}

/** Stops the dashboard this process serves, if any (shutdown() calls it). */
export async function closeDashboard(): Promise<void> {
  const d = served;
  served = undefined;
  await d?.close();
}
