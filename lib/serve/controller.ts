// The controller: one detached actor (SERVE_CONTROLLER in namespace 'serve') that owns serve's
// state: the applications, their deployments and replicas, and the proxies. A tick every
// 100 ms reads each replica's load, runs health checks, asks the autoscaler for a replica
// count and applies the rollout plan (start, drain and stop, reconfigure). Callers (proxies,
// handles) long-poll it for the replica sets and routes they use.
import { serialize } from 'node:v8';
import * as sunray from '../index.js';
import { type AutoscalingState, decideReplicas, newAutoscalingState, recordLoad } from './autoscaling.js';
import type { AppSpec, DeploymentSpec } from './deployment.js';
import { DeploymentUnavailableError } from './errors.js';
import { ROUTES_KEY, type Route, replicasKey } from './names.js';
import { ServeProxy } from './proxy.js';
import { ServeReplica } from './replica.js';
import { type PlanReplica, planRollout } from './rollout.js';
import type { ReplicaSetInfo } from './routing.js';

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
  id: string;
  state: 'STARTING' | 'RUNNING' | 'STOPPING';
  nodeId: string;
  pid: number;
  version: string;
}

/** One deployment in `serve.status()`. */
export interface DeploymentStatusInfo {
  status: DeploymentStatus;
  message: string;
  targetReplicas: number;
  replicaStates: Record<string, number>;
  replicas: ReplicaStatus[];
}

/** One application in `serve.status()`. */
export interface ApplicationStatusInfo {
  status: ApplicationStatus;
  message: string;
  routePrefix: string | null;
  ingress: string;
  deployments: Record<string, DeploymentStatusInfo>;
}

/** One proxy in `serve.status()`. */
export interface ProxyStatus {
  status: 'STARTING' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING';
  host: string;
  port: number;
  message: string;
}

/** What `serve.status()` gives. */
export interface ServeStatus {
  proxies: Record<string, ProxyStatus>;
  applications: Record<string, ApplicationStatusInfo>;
}

const TICK_MS = 100;
const METRICS_MS = 200;
/** How long a stopping replica waits for callers to learn it is going before it drains. */
const DRAIN_GRACE_MS = 300;
/** Consecutive failed starts of one version before the deployment is DEPLOY_FAILED. */
const MAX_START_FAILURES = 3;
/** A caller's queue report older than this is stale. */
const QUEUE_REPORT_TTL_MS = 2000;

interface ReplicaRecord extends PlanReplica {
  actor: sunray.ActorHandle<ServeReplica>;
  nodeId: string;
  pid: number;
  ongoing: number;
  metricsPending: boolean;
  lastHealth: number;
  healthPending: boolean;
}

interface DeploymentState {
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

interface AppState {
  name: string;
  routePrefix: string | null;
  ingress: string;
  deployments: Map<string, DeploymentState>;
  deleting: boolean;
  gone: Array<() => void>;
}

interface ProxyRecord {
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

let replicaCounter = 0;

/** The controller actor (made remote by module by the driver). */
export class ServeController {
  private readonly apps = new Map<string, AppState>();
  private readonly proxies = new Map<string, ProxyRecord>();
  private http: HttpOptions | undefined;
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
  private readonly Proxy = sunray.remote(ServeProxy, { module: new URL('./proxy.js', import.meta.url).href });

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
      await this.ensureHttp(http);
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
      const st = this.appStatus(app);
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
      [...this.proxies.values()].map(async (p) => {
        p.status = 'DRAINING';
        try {
          await sunray.get(p.actor.drain.remote(5000), { timeout: 10_000 });
        } catch {
          // a dead or stuck proxy is killed all the same
        }
        sunray.kill(p.actor);
      }),
    );
    this.proxies.clear();
    clearInterval(this.timer);
  }

  /** The state of every application and proxy. */
  status(): ServeStatus {
    const out: ServeStatus = { proxies: {}, applications: {} };
    for (const p of this.proxies.values()) {
      out.proxies[p.nodeId] = { status: p.status, host: p.host, port: p.port, message: p.message };
    }
    for (const app of this.apps.values()) out.applications[app.name] = this.appStatus(app);
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
    this.checkProxies(now);
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
        if (app.routePrefix !== null && !app.deleting) this.ensureProxy(nodeId);
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

  // ---- proxies ----

  private async ensureHttp(http: Partial<HttpOptions>): Promise<void> {
    const want: HttpOptions = {
      host: http.host ?? this.http?.host ?? '127.0.0.1',
      port: http.port ?? this.http?.port ?? 8000,
    };
    if (
      this.http &&
      this.proxies.size > 0 &&
      (want.host !== this.http.host || want.port !== this.http.port)
    ) {
      throw new sunray.InvalidArgumentError(
        `serve's proxies already listen on ${this.http.host}:${this.http.port}; host and port cannot change while serve runs: ` +
          'leave them out, or serve.shutdown() first',
      );
    }
    this.http = want;
    const own = this.ensureProxy(sunray.getRuntimeContext().nodeId);
    await own.ready;
    if (own.status === 'UNHEALTHY') {
      this.proxies.delete(own.nodeId);
      sunray.kill(own.actor);
      throw new sunray.InvalidArgumentError(`serve's HTTP proxy could not start: ${own.message}`);
    }
  }

  private ensureProxy(nodeId: string): ProxyRecord {
    const have = this.proxies.get(nodeId);
    if (have) return have;
    const http = this.http ?? { host: '127.0.0.1', port: 8000 };
    const actor = this.Proxy.options({
      numCpus: 0,
      maxConcurrency: 1000,
      schedulingStrategy: { nodeId, soft: false },
    }).remote({ host: http.host, port: http.port });
    const p: ProxyRecord = {
      nodeId,
      actor,
      status: 'STARTING',
      host: http.host,
      port: http.port,
      message: '',
      ready: Promise.resolve(),
      healthPending: false,
      lastHealth: Date.now(),
    };
    p.ready = sunray.get(actor.ready.remote(), { timeout: 60_000 }).then(
      (addr) => {
        p.status = 'HEALTHY';
        p.port = addr.port;
        p.host = addr.host;
      },
      (err) => {
        p.status = 'UNHEALTHY';
        p.message = describe(err);
        console.error(`serve: the proxy on node ${nodeId.slice(0, 8)} failed: ${p.message}`);
      },
    );
    this.proxies.set(nodeId, p);
    return p;
  }

  private checkProxies(now: number): void {
    for (const p of this.proxies.values()) {
      if (p.status !== 'HEALTHY' || p.healthPending || now - p.lastHealth < 5000) continue;
      p.healthPending = true;
      p.lastHealth = now;
      sunray
        .get(p.actor.checkHealth.remote(), { timeout: 10_000 })
        .then(
          () => {},
          (err) => {
            if (!(err instanceof sunray.ActorDiedError)) return;
            // A dead proxy is started again on its node.
            this.proxies.delete(p.nodeId);
            this.ensureProxy(p.nodeId);
          },
        )
        .finally(() => {
          p.healthPending = false;
        });
    }
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

  private appStatus(app: AppState): ApplicationStatusInfo {
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
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { message?: string } })?.cause?.message;
  const msg = (err as Error)?.message ?? String(err);
  return cause && !msg.includes(cause) ? `${msg}: ${cause}` : msg;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  try {
    return serialize(a).equals(serialize(b));
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
