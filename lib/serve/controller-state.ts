// What the serve controller keeps and reports: the status types serve.status() returns, the
// controller's records of applications, deployments, replicas and proxies, and how an
// application's status is read from them.
import { serialize } from 'node:v8';
import type * as sunray from '../index.js';
import type { AutoscalingState } from './autoscaling.js';
import type { DeploymentSpec } from './deployment.js';
import type { ServeProxy } from './proxy.js';
import type { ServeReplica } from './replica.js';
import type { PlanReplica } from './rollout.js';

/** Where proxies listen. */
export interface HttpOptions {
  host: string;
  port: number;
}

/** The state of an application (Ray's names). */
export type ApplicationStatus = 'DEPLOYING' | 'RUNNING' | 'DEPLOY_FAILED' | 'UNHEALTHY' | 'DELETING';
/** The state of a deployment (Ray's names). */
export type DeploymentStatus =
  | 'UPDATING'
  | 'HEALTHY'
  | 'UNHEALTHY'
  | 'DEPLOY_FAILED'
  | 'UPSCALING'
  | 'DOWNSCALING';

/** One replica in `serve.status()`. */
export interface ReplicaStatus {
  /** The replica's id. */
  id: string;
  /** Starting (its constructor runs), running (takes requests), or stopping. */
  state: 'STARTING' | 'RUNNING' | 'STOPPING';
  /** The node it runs on (hex). */
  nodeId: string;
  /** Its process id. */
  pid: number;
  /** The deployment version it runs (the config's `version`, else a hash of the code and arguments). */
  version: string;
}

/** One deployment in `serve.status()`. */
export interface DeploymentStatusInfo {
  /** The deployment's state. */
  status: DeploymentStatus;
  /** Why it is in that state ('' when all is well). */
  message: string;
  /** Replicas it should have now. */
  targetReplicas: number;
  /** How many replicas are in each state ({ RUNNING: 2, STARTING: 1 }). */
  replicaStates: Record<string, number>;
  /** Each replica. */
  replicas: ReplicaStatus[];
}

/** One application in `serve.status()`. */
export interface ApplicationStatusInfo {
  /** The application's state. */
  status: ApplicationStatus;
  /** Why it is in that state ('' when all is well). */
  message: string;
  /** The HTTP path it serves under, or null when it has no route. */
  routePrefix: string | null;
  /** The name of its ingress deployment (the one requests reach). */
  ingress: string;
  /** Its deployments, by name. */
  deployments: Record<string, DeploymentStatusInfo>;
}

/** One proxy in `serve.status()`. */
export interface ProxyStatus {
  /** The HTTP proxy's state. */
  status: 'STARTING' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING';
  /** The host it listens on. */
  host: string;
  /** The port it listens on. */
  port: number;
  /** Why it is in that state ('' when all is well). */
  message: string;
}

/** What `serve.status()` gives. */
export interface ServeStatus {
  /** The HTTP proxies, by node id. */
  proxies: Record<string, ProxyStatus>;
  /** The applications, by name. */
  applications: Record<string, ApplicationStatusInfo>;
}

/** A replica as the controller tracks it. */
export interface ReplicaRecord extends PlanReplica {
  actor: sunray.ActorHandle<ServeReplica>;
  nodeId: string;
  pid: number;
  ongoing: number;
  metricsPending: boolean;
  lastHealth: number;
  healthPending: boolean;
}

/** A deployment of an application: its spec, its replicas and its status. */
export interface DeploymentState {
  app: string;
  spec: DeploymentSpec;
  target: number;
  configVersion: number;
  replicas: ReplicaRecord[];
  autoscaling: AutoscalingState;
  status: DeploymentStatus;
  message: string;
  startFailures: number;
  failedVersion?: string;
  queued: Map<string, { n: number; at: number }>;
  lastMetrics: number;
  /** Left out of the application by a redeploy: removed once its replicas are gone. */
  dropped: boolean;
  /** Whether this version has had its target running once (before: UPDATING; after, a shortfall is UNHEALTHY). */
  settled: boolean;
}

/** An application: its deployments and its route. */
export interface AppState {
  name: string;
  routePrefix: string | null;
  ingress: string;
  deployments: Map<string, DeploymentState>;
  deleting: boolean;
  gone: Array<() => void>;
}

/** A proxy on one node. */
export interface ProxyRecord {
  nodeId: string;
  actor: sunray.ActorHandle<ServeProxy>;
  status: ProxyStatus['status'];
  host: string;
  port: number;
  message: string;
  ready: Promise<void>;
  healthPending: boolean;
  lastHealth: number;
}

/** An application's status, read from its records. */
export function appStatus(app: AppState): ApplicationStatusInfo {
  const deployments: Record<string, DeploymentStatusInfo> = {};
  let status: ApplicationStatus = app.deleting ? 'DELETING' : 'RUNNING';
  const messages: string[] = [];
  for (const [name, d] of app.deployments) {
    const replicaStates: Record<string, number> = {};
    for (const r of d.replicas) replicaStates[r.state] = (replicaStates[r.state] ?? 0) + 1;
    deployments[name] = {
      status: d.status,
      message: d.message,
      targetReplicas: d.target,
      replicaStates,
      replicas: d.replicas.map((r) => ({
        id: r.id,
        state: r.state,
        nodeId: r.nodeId,
        pid: r.pid,
        version: r.version,
      })),
    };
    if (app.deleting || d.dropped) continue;
    if (d.status === 'DEPLOY_FAILED') {
      status = 'DEPLOY_FAILED';
      messages.push(`${name}: ${d.message}`);
    } else if (d.status === 'UPDATING' && status !== 'DEPLOY_FAILED') status = 'DEPLOYING';
    else if (d.status === 'UNHEALTHY' && status === 'RUNNING') status = 'UNHEALTHY';
  }
  return {
    status,
    message: messages.join('; '),
    routePrefix: app.routePrefix,
    ingress: app.ingress,
    deployments,
  };
}

/** An error as one line: its message, and its cause's when that adds to it. */
export function describe(err: unknown): string {
  const cause = (err as { cause?: { message?: string } })?.cause?.message;
  const msg = (err as Error)?.message ?? String(err);
  return cause && !msg.includes(cause) ? `${msg}: ${cause}` : msg;
}

/** Whether two values serialize the same (a userConfig unchanged by a redeploy). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  try {
    return serialize(a).equals(serialize(b));
  } catch {
    return false;
  }
}

/** Resolves after ms. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
