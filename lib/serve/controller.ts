// The controller: one detached actor (SERVE_CONTROLLER in namespace 'serve') that owns serve's
// state: the applications, their deployments and replicas, and the proxies. A tick every
// 100 ms reads each replica's load, runs health checks, asks the autoscaler for a replica
// count and applies the rollout plan (start, drain and stop, reconfigure). Callers (proxies,
// handles) long-poll it for the replica sets and routes they use.
import * as sunray from '../index.js';
import { decideReplicas, newAutoscalingState, recordLoad } from './autoscaling.js';
import {
  type ApplicationStatusInfo,
  type AppState,
  appStatus,
  type DeploymentState,
  describe,
  type HttpOptions,
  type ReplicaRecord,
  type ServeStatus,
  sameValue,
  sleep,
} from './controller-state.js';
import type { AppSpec, DeploymentSpec } from './deployment.js';
import { DeploymentUnavailableError } from './errors.js';
import { ROUTES_KEY, type Route, replicasKey } from './names.js';
import { ProxyFleet } from './proxy-fleet.js';
import { ServeReplica } from './replica.js';
import { planRollout } from './rollout.js';
import type { ReplicaSetInfo } from './routing.js';

const TICK_MS = 100;
const METRICS_MS = 200;
/** How long a stopping replica waits for callers to learn it is going before it drains. */
const DRAIN_GRACE_MS = 300;
/** Consecutive failed starts of one version before the deployment is DEPLOY_FAILED. */
const MAX_START_FAILURES = 3;
/** A caller's queue report older than this is stale. */
const QUEUE_REPORT_TTL_MS = 2000;

let replicaCounter = 0;

/** The controller actor (made remote by module by the driver). */
export class ServeController {
  private readonly apps = new Map<string, AppState>();
  private readonly fleet = new ProxyFleet();
  private readonly versions = new Map<string, number>();
  private readonly values = new Map<string, unknown>();
  private clock = 0;
  private changed!: Promise<void>;
  private wake!: () => void;
  private readonly timer: ReturnType<typeof setInterval>;
  private ticking = false;
  private tickAgain = false;
  private shuttingDown = false;
  private readonly Replica = sunray.remote(ServeReplica, {
    module: new URL('./replica.js', import.meta.url).href,
  });

  constructor() {
    this.resetChanged();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  // ---- calls from the driver and the CLI ----

  /** Deploys (or updates) an application. Resolves once its HTTP proxy listens (if it has a route). */
  async deploy(spec: AppSpec, http: Partial<HttpOptions>): Promise<void> {
    if (this.shuttingDown)
      throw new DeploymentUnavailableError('serve is shutting down: deploy again once it is down');
    if (spec.routePrefix !== null) {
      for (const a of this.apps.values()) {
        if (a.name !== spec.name && !a.deleting && a.routePrefix === spec.routePrefix) {
          throw new sunray.InvalidArgumentError(
            `route prefix '${spec.routePrefix}' is already taken by application '${a.name}': give another routePrefix, or delete '${a.name}' first`,
          );
        }
      }
      await this.fleet.ensureHttp(http);
    }
    const prev = this.apps.get(spec.name);
    if (prev?.deleting) {
      await new Promise<void>((resolve) => prev.gone.push(resolve));
    }
    const app: AppState = this.apps.get(spec.name) ?? {
      name: spec.name,
      routePrefix: spec.routePrefix,
      ingress: spec.ingress,
      deployments: new Map(),
      deleting: false,
      gone: [],
    };
    app.routePrefix = spec.routePrefix;
    app.ingress = spec.ingress;
    this.apps.set(spec.name, app);
    const names = new Set(spec.deployments.map((d) => d.name));
    for (const [name, d] of app.deployments) {
      if (!names.has(name)) {
        d.dropped = true;
        d.target = 0;
        d.spec = { ...d.spec, config: { ...d.spec.config, autoscaling: undefined } };
      }
    }
    for (const s of spec.deployments) this.applySpec(app, s);
    this.publishRoutes();
    this.tick();
  }

  private applySpec(app: AppState, s: DeploymentSpec): void {
    const d = app.deployments.get(s.name);
    if (!d) {
      app.deployments.set(s.name, {
        app: app.name,
        spec: s,
        target: s.config.numReplicas,
        configVersion: 0,
        replicas: [],
        autoscaling: newAutoscalingState(),
        status: 'UPDATING',
        message: '',
        startFailures: 0,
        queued: new Map(),
        lastMetrics: 0,
        dropped: false,
        settled: false,
      });
      this.publishReplicas(app.name, s.name);
      return;
    }
    const old = d.spec;
    d.dropped = false;
    if (!sameValue(old.config.userConfig, s.config.userConfig)) d.configVersion++;
    const a = s.config.autoscaling;
    d.target = a ? Math.min(a.maxReplicas, Math.max(a.minReplicas, d.target)) : s.config.numReplicas;
    if (old.version !== s.version) {
      d.settled = false;
      d.startFailures = 0;
      d.failedVersion = undefined;
      d.status = 'UPDATING';
      d.message = '';
    }
    d.spec = s;
    if (old.config.maxOngoingRequests !== s.config.maxOngoingRequests) {
      for (const r of d.replicas)
        if (r.state === 'RUNNING') r.actor.setMaxOngoing.remote(s.config.maxOngoingRequests);
    }
    this.publishReplicas(app.name, s.name);
  }

  /** Waits until the application is RUNNING (or failed, or gone); at most timeoutMs. */
  async waitForApp(name: string, timeoutMs: number): Promise<ApplicationStatusInfo | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const app = this.apps.get(name);
      if (!app) return null;
      const st = appStatus(app);
      if (st.status !== 'DEPLOYING' || Date.now() >= end) return st;
      await sleep(50);
    }
  }

  /** Deletes an application: its replicas drain and stop. Resolves once they are gone. */
  async deleteApp(name: string): Promise<boolean> {
    const app = this.apps.get(name);
    if (!app) return false;
    app.deleting = true;
    for (const d of app.deployments.values()) {
      d.target = 0;
      d.spec = { ...d.spec, config: { ...d.spec.config, autoscaling: undefined } };
    }
    this.publishRoutes();
    const gone = new Promise<void>((resolve) => app.gone.push(resolve));
    this.tick();
    await gone;
    return true;
  }

  /** Deletes every application and stops the proxies. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.all([...this.apps.keys()].map((n) => this.deleteApp(n)));
    await Promise.all(
      [...this.fleet.proxies.values()].map(async (p) => {
        p.status = 'DRAINING';
        try {
          await sunray.get(p.actor.drain.remote(5000), { timeout: 10_000 });
        } catch {
          // a dead or stuck proxy is killed all the same
        }
        sunray.kill(p.actor);
      }),
    );
    this.fleet.proxies.clear();
    clearInterval(this.timer);
  }

  /** The state of every application and proxy. */
  status(): ServeStatus {
    const out: ServeStatus = { proxies: {}, applications: {} };
    for (const p of this.fleet.proxies.values()) {
      out.proxies[p.nodeId] = { status: p.status, host: p.host, port: p.port, message: p.message };
    }
    for (const app of this.apps.values()) out.applications[app.name] = appStatus(app);
    return out;
  }

  /** An application's ingress deployment and its methods (for getAppHandle), or null. */
  appInfo(name: string): { ingress: string; methods: string[] } | null {
    const app = this.apps.get(name);
    if (!app || app.deleting) return null;
    const d = app.deployments.get(app.ingress);
    return d ? { ingress: app.ingress, methods: d.spec.methods } : null;
  }

  /** A deployment's methods (for getDeploymentHandle), or null. */
  deploymentInfo(app: string, deployment: string): { methods: string[] } | null {
    const d = this.apps.get(app)?.deployments.get(deployment);
    return d ? { methods: d.spec.methods } : null;
  }

  // ---- calls from proxies and handles ----

  /**
   * Long-poll: resolves with the keys whose version differs from `known` (value null: no such
   * thing), as soon as there is one, or with {} after timeoutMs.
   */
  async listen(
    known: Record<string, number>,
    timeoutMs: number,
  ): Promise<Record<string, { version: number; value: unknown }>> {
    const end = Date.now() + Math.min(timeoutMs, 60_000);
    for (;;) {
      const out: Record<string, { version: number; value: unknown }> = {};
      let any = false;
      for (const [k, v] of Object.entries(known)) {
        const cur = this.versions.get(k) ?? 0;
        if (cur !== v) {
          out[k] = { version: cur, value: this.values.get(k) ?? null };
          any = true;
        }
      }
      const left = end - Date.now();
      if (any || left <= 0) return out;
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.changed, new Promise((r) => (t = setTimeout(r, left)))]);
      clearTimeout(t);
    }
  }

  /** A caller's queue length for a deployment (load the replicas do not see yet). */
  recordQueued(caller: string, app: string, deployment: string, n: number): void {
    const d = this.apps.get(app)?.deployments.get(deployment);
    if (!d) return;
    if (n === 0) d.queued.delete(caller);
    else d.queued.set(caller, { n, at: Date.now() });
  }

  /** A caller saw a replica die under a request: check it now rather than at the next poll. */
  replicaDied(app: string, deployment: string, id: string): void {
    const d = this.apps.get(app)?.deployments.get(deployment);
    const r = d?.replicas.find((x) => x.id === id);
    if (d && r) this.pollMetrics(d, r);
  }

  // ---- the loop ----

  /** One pass over everything; not re-entered (callbacks that change state call it again). */
  private tick(): void {
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.tickAgain = false;
        this.tickOnce();
      } while (this.tickAgain);
    } catch (err) {
      console.error('serve controller: tick failed:', err);
    } finally {
      this.ticking = false;
    }
  }

  private tickOnce(): void {
    const now = Date.now();
    for (const app of this.apps.values()) {
      for (const d of app.deployments.values()) this.step(app, d, now);
      if (app.deleting && [...app.deployments.values()].every((d) => d.replicas.length === 0)) {
        for (const name of app.deployments.keys()) this.publishReplicas(app.name, name, true);
        this.apps.delete(app.name);
        this.publishRoutes();
        for (const f of app.gone.splice(0)) f();
      } else {
        // Deployments dropped from the app by a redeploy go once their replicas are gone.
        for (const [name, d] of app.deployments) {
          if (d.dropped && d.replicas.length === 0) {
            app.deployments.delete(name);
            this.publishReplicas(app.name, name, true);
          }
        }
      }
    }
    this.fleet.checkProxies(now);
  }

  private step(app: AppState, d: DeploymentState, now: number): void {
    const cfg = d.spec.config;
    for (const r of d.replicas) {
      if (r.state !== 'RUNNING') continue;
      if (now - d.lastMetrics >= METRICS_MS) this.pollMetrics(d, r);
      if (now - r.lastHealth >= cfg.healthCheckPeriodMs) this.checkHealth(d, r);
    }
    if (now - d.lastMetrics >= METRICS_MS) {
      d.lastMetrics = now;
      if (cfg.autoscaling && !app.deleting) {
        let load = 0;
        for (const r of d.replicas) if (r.state === 'RUNNING') load += r.ongoing;
        for (const [caller, q] of d.queued) {
          if (now - q.at > QUEUE_REPORT_TTL_MS) d.queued.delete(caller);
          else load += q.n;
        }
        recordLoad(d.autoscaling, now, load, cfg.autoscaling.lookBackPeriodMs);
        const running = d.replicas.filter((r) => r.state !== 'STOPPING').length;
        const next = decideReplicas(cfg.autoscaling, Math.max(d.target, 0), d.autoscaling, now);
        if (next !== d.target && running === d.target) {
          d.status = next > d.target ? 'UPSCALING' : 'DOWNSCALING';
          d.target = next;
        }
      }
    }
    if (d.failedVersion === d.spec.version) return;
    const plan = planRollout(d.target, d.spec.version, d.configVersion, d.replicas);
    for (let i = 0; i < plan.start; i++) this.startReplica(app, d);
    for (const id of plan.stop) this.stopReplica(d, id);
    for (const id of plan.reconfigure) this.reconfigureReplica(d, id);
    this.updateStatus(d);
  }

  private updateStatus(d: DeploymentState): void {
    if (d.failedVersion === d.spec.version) {
      d.status = 'DEPLOY_FAILED';
      return;
    }
    const live = d.replicas.filter((r) => r.state !== 'STOPPING');
    const current = live.filter((r) => r.version === d.spec.version && r.configVersion === d.configVersion);
    const running = current.filter((r) => r.state === 'RUNNING');
    if (running.length === d.target && live.length === d.target) {
      d.status = 'HEALTHY';
      d.message = '';
      d.settled = true;
    } else if (!d.settled || current.length < live.length || (running.length === 0 && d.target > 0)) {
      d.status = 'UPDATING';
    } else if (d.status !== 'UPSCALING' && d.status !== 'DOWNSCALING') {
      d.status = 'UNHEALTHY'; // a replica died or failed its health check, and is being replaced
    }
  }

  private startReplica(app: AppState, d: DeploymentState): void {
    const s = d.spec;
    const id = `${app.name}#${s.name}#${(++replicaCounter).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const actor = this.Replica.options({
      ...s.config.actorOptions,
      maxConcurrency: 100_000,
      maxRestarts: 0,
    }).remote({
      app: app.name,
      deployment: s.name,
      replicaId: id,
      source: s.source,
      initArgs: s.initArgs,
      hasUserConfig: s.config.userConfig !== undefined,
      userConfig: s.config.userConfig,
      maxOngoing: s.config.maxOngoingRequests,
    });
    const r: ReplicaRecord = {
      id,
      version: s.version,
      configVersion: d.configVersion,
      state: 'STARTING',
      startedAt: Date.now(),
      actor,
      nodeId: '',
      pid: 0,
      ongoing: 0,
      metricsPending: false,
      lastHealth: Date.now(),
      healthPending: false,
    };
    d.replicas.push(r);
    sunray.get(actor.ready.remote()).then(
      ({ nodeId, pid }) => {
        if (r.state !== 'STARTING') return;
        r.state = 'RUNNING';
        r.nodeId = nodeId;
        r.pid = pid;
        r.lastHealth = Date.now();
        if (r.version === d.spec.version) d.startFailures = 0;
        this.publishReplicas(app.name, s.name);
        if (app.routePrefix !== null && !app.deleting) this.fleet.ensureProxy(nodeId);
        this.tick();
      },
      (err) => {
        const stopped = r.state === 'STOPPING'; // we stopped it while it started: not a failure
        this.removeReplica(d, r);
        sunray.kill(actor);
        if (stopped || r.version !== d.spec.version) return;
        d.startFailures++;
        d.message = `a replica of ${s.name} failed to start: ${describe(err)}`;
        console.error(`serve: ${d.message}`);
        if (d.startFailures >= MAX_START_FAILURES && !d.replicas.some((x) => x.state === 'RUNNING')) {
          d.failedVersion = d.spec.version;
          d.status = 'DEPLOY_FAILED';
          d.message = `${MAX_START_FAILURES} replicas of ${s.name} failed to start; the last one: ${describe(err)}`;
        }
      },
    );
  }

  private stopReplica(d: DeploymentState, id: string): void {
    const r = d.replicas.find((x) => x.id === id);
    if (!r || r.state === 'STOPPING') return;
    const wasRunning = r.state === 'RUNNING';
    r.state = 'STOPPING';
    this.publishReplicas(d.app, d.spec.name);
    const timeout = d.spec.config.gracefulShutdownTimeoutMs;
    const drained = wasRunning
      ? sunray.get(r.actor.drain.remote(DRAIN_GRACE_MS, timeout), {
          timeout: timeout + DRAIN_GRACE_MS + 5000,
        })
      : Promise.resolve();
    drained
      .catch(() => {})
      .finally(() => {
        sunray.kill(r.actor);
        this.removeReplica(d, r);
        this.tick();
      });
  }

  private reconfigureReplica(d: DeploymentState, id: string): void {
    const r = d.replicas.find((x) => x.id === id);
    if (!r || (r as ReplicaRecord & { reconfiguring?: boolean }).reconfiguring) return;
    const cv = d.configVersion;
    (r as ReplicaRecord & { reconfiguring?: boolean }).reconfiguring = true;
    sunray
      .get(r.actor.reconfigure.remote(d.spec.config.userConfig))
      .then(
        () => {
          r.configVersion = cv;
        },
        (err) => {
          d.message = `reconfigure of a replica of ${d.spec.name} failed: ${describe(err)}; it is replaced`;
          console.error(`serve: ${d.message}`);
          this.replaceReplica(d, r);
        },
      )
      .finally(() => {
        (r as ReplicaRecord & { reconfiguring?: boolean }).reconfiguring = false;
      });
  }

  private pollMetrics(d: DeploymentState, r: ReplicaRecord): void {
    if (r.metricsPending) return;
    r.metricsPending = true;
    sunray
      .get(r.actor.metrics.remote(), { timeout: 10_000 })
      .then(
        (m) => {
          r.ongoing = m.ongoing;
        },
        (err) => {
          if (err instanceof sunray.ActorDiedError) {
            d.message = `a replica of ${d.spec.name} died (pid ${r.pid}); it is replaced`;
            this.removeReplica(d, r);
            this.tick();
          }
        },
      )
      .finally(() => {
        r.metricsPending = false;
      });
  }

  private checkHealth(d: DeploymentState, r: ReplicaRecord): void {
    if (r.healthPending) return;
    r.healthPending = true;
    r.lastHealth = Date.now();
    sunray
      .get(r.actor.checkHealth.remote(), { timeout: d.spec.config.healthCheckTimeoutMs })
      .then(
        () => {},
        (err) => {
          if (r.state !== 'RUNNING') return;
          d.message = `a replica of ${d.spec.name} failed its health check (${describe(err)}); it is replaced`;
          console.error(`serve: ${d.message}`);
          this.replaceReplica(d, r);
        },
      )
      .finally(() => {
        r.healthPending = false;
      });
  }

  /** An unhealthy replica: out of routing and killed at once; the plan starts another. */
  private replaceReplica(d: DeploymentState, r: ReplicaRecord): void {
    sunray.kill(r.actor);
    this.removeReplica(d, r);
    this.tick();
  }

  private removeReplica(d: DeploymentState, r: ReplicaRecord): void {
    const i = d.replicas.indexOf(r);
    if (i < 0) return;
    d.replicas.splice(i, 1);
    if (r.state === 'RUNNING') this.publishReplicas(d.app, d.spec.name);
    r.state = 'STOPPING';
  }

  // ---- long-poll values ----

  private resetChanged(): void {
    this.changed = new Promise((r) => {
      this.wake = r;
    });
  }

  private publish(key: string, value: unknown): void {
    this.versions.set(key, ++this.clock);
    this.values.set(key, value);
    const wake = this.wake;
    this.resetChanged();
    wake();
  }

  private publishReplicas(app: string, deployment: string, gone = false): void {
    const d = this.apps.get(app)?.deployments.get(deployment);
    let info: ReplicaSetInfo = null;
    if (d && !gone) {
      info = {
        replicas: d.replicas
          .filter((r) => r.state === 'RUNNING')
          .map((r) => ({ id: r.id, nodeId: r.nodeId, actor: r.actor })),
        maxOngoing: d.spec.config.maxOngoingRequests,
        maxQueued: d.spec.config.maxQueuedRequests,
      };
    }
    this.publish(replicasKey(app, deployment), info);
  }

  private publishRoutes(): void {
    const routes: Route[] = [];
    for (const a of this.apps.values()) {
      if (a.routePrefix !== null && !a.deleting)
        routes.push({ prefix: a.routePrefix, app: a.name, deployment: a.ingress });
    }
    this.publish(ROUTES_KEY, routes);
  }
}
