// A process's view of the deployments it sends requests to (a proxy, a driver or replica
// holding handles): one ReplicaRouter per deployment, kept current by long-polling the
// controller, and a reporter that tells the controller how many requests wait in this
// process's queues (the autoscaler counts them as load).
import { randomBytes } from 'node:crypto';
import * as sunray from '../index.js';
import type { ServeController } from './controller.js';
import { DeploymentUnavailableError } from './errors.js';
import { CONTROLLER_NAME, replicasKey, SERVE_NAMESPACE } from './names.js';
import type { ServeReplica } from './replica.js';
import { ReplicaRouter } from './router.js';

/** A replica as the controller lists it to callers. */
export interface ReplicaInfo {
  id: string;
  nodeId: string;
  actor: sunray.ActorHandle<ServeReplica>;
}

/** A deployment's replicas and limits as the controller lists them (null: no such deployment). */
export type ReplicaSetInfo = { replicas: ReplicaInfo[]; maxOngoing: number; maxQueued: number } | null;

/** This process's id among callers (request keys, queue reports). */
export const CALLER_ID = randomBytes(6).toString('hex');
let counter = 0;

/** A key for a new request, unique in the cluster. */
export function requestKey(): string {
  return `${CALLER_ID}.${++counter}`;
}

let controller: Promise<sunray.ActorHandle<ServeController>> | undefined;

/** The controller's handle (looked up once per process). */
export function controllerHandle(): Promise<sunray.ActorHandle<ServeController>> {
  controller ??= sunray
    .getActor<ServeController>(CONTROLLER_NAME, { namespace: SERVE_NAMESPACE })
    .catch((err) => {
      controller = undefined;
      throw new DeploymentUnavailableError(
        'serve is not running in this cluster (no controller): start it with serve.run() or `sunray serve deploy`',
        { cause: err },
      );
    });
  return controller;
}

/** Forgets the controller (serve was shut down in this process). */
export function forgetController(): void {
  controller = undefined;
  for (const e of routers.values()) e.stop();
  routers.clear();
}

/** How long one long-poll waits for a change before it asks again. */
const POLL_MS = 10_000;

/** One deployment's router, kept current. */
export class RouterEntry {
  readonly router: ReplicaRouter<ReplicaInfo>;
  /** Resolves once the first replica set has arrived. */
  readonly ready: Promise<void>;
  /** Set when the controller says the deployment does not exist. */
  gone: DeploymentUnavailableError | undefined;
  private stopped = false;
  private version = -1;
  private reportedQueued = 0;

  constructor(
    readonly app: string,
    readonly deployment: string,
  ) {
    let nodeId: string | undefined;
    try {
      nodeId = sunray.getRuntimeContext().nodeId;
    } catch {
      nodeId = undefined;
    }
    this.router = new ReplicaRouter<ReplicaInfo>({ maxOngoing: 1, maxQueued: -1, localNodeId: nodeId });
    let first!: () => void;
    this.ready = new Promise((r) => {
      first = r;
    });
    void this.loop(first);
  }

  private async loop(first: () => void): Promise<void> {
    const key = replicasKey(this.app, this.deployment);
    while (!this.stopped) {
      try {
        const c = await controllerHandle();
        const changed = await sunray.get(c.listen.remote({ [key]: this.version }, POLL_MS));
        const next = changed[key];
        if (next && !this.stopped) {
          this.version = next.version;
          this.apply(next.value as ReplicaSetInfo);
        }
      } catch (err) {
        if (this.stopped || !sunray.isInitialized()) break;
        // The controller is gone (serve shut down) or unreachable: fail waiting calls, try again later.
        this.gone =
          err instanceof DeploymentUnavailableError
            ? err
            : new DeploymentUnavailableError(
                `deployment '${this.deployment}' of application '${this.app}' cannot be reached: the serve controller is gone (${(err as Error)?.message})`,
              );
        this.router.failAll(this.gone);
        controller = undefined;
        await new Promise((r) => setTimeout(r, 500));
      }
      first();
    }
    first();
  }

  private apply(info: ReplicaSetInfo): void {
    if (info === null) {
      this.gone = new DeploymentUnavailableError(
        `application '${this.app}' has no deployment '${this.deployment}' (it was deleted, or never deployed)`,
      );
      this.router.update([]);
      this.router.failAll(this.gone);
      return;
    }
    this.gone = undefined;
    this.router.update(info.replicas, { maxOngoing: info.maxOngoing, maxQueued: info.maxQueued });
  }

  /** Tells the controller about a replica that died under a request, so it is replaced sooner. */
  reportDead(id: string): void {
    this.router.remove(id);
    void controllerHandle()
      .then((c) => c.replicaDied.remote(this.app, this.deployment, id))
      .catch(() => {});
  }

  /** Sends this router's queue length when it changed (queued requests are load for the autoscaler). */
  reportQueued(): void {
    const q = this.router.queued;
    if (q === 0 && this.reportedQueued === 0) return;
    this.reportedQueued = q;
    void controllerHandle()
      .then((c) => c.recordQueued.remote(CALLER_ID, this.app, this.deployment, q))
      .catch(() => {});
  }

  stop(): void {
    this.stopped = true;
    this.router.failAll(new DeploymentUnavailableError('serve was shut down'));
  }
}

const routers = new Map<string, RouterEntry>();
let reporter: ReturnType<typeof setInterval> | undefined;

/** The router of a deployment in this process (made on first use). */
export function routerFor(app: string, deployment: string): RouterEntry {
  const key = `${app}/${deployment}`;
  let e = routers.get(key);
  if (!e) {
    e = new RouterEntry(app, deployment);
    routers.set(key, e);
  }
  reporter ??= setInterval(() => {
    for (const r of routers.values()) r.reportQueued();
  }, 250);
  reporter.unref();
  return e;
}

/** Stops the router of a deployment that is gone for good (routes removed). */
export function dropRouter(app: string, deployment: string): void {
  const key = `${app}/${deployment}`;
  routers.get(key)?.stop();
  routers.delete(key);
}
