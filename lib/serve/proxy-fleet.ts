// serve's HTTP proxies: one per node that hosts a replica of a routed application, all on one
// host and port, started on demand, health-checked, and started again when one dies.
import * as sunray from '../index.js';
import { describe, type HttpOptions, type ProxyRecord } from './controller-state.js';
import { ServeProxy } from './proxy.js';

/** The proxies of a serve instance (the controller's). */
export class ProxyFleet {
  /** The proxies, by node id. */
  readonly proxies = new Map<string, ProxyRecord>();
  /** Where they listen: set by the first deploy, fixed while serve runs. */
  http: HttpOptions | undefined;
  private readonly Proxy = sunray.remote(ServeProxy, { module: new URL('./proxy.js', import.meta.url).href });

  /** Sets where proxies listen (fixed while serve runs) and starts this node's; throws if it cannot listen. */
  async ensureHttp(http: Partial<HttpOptions>): Promise<void> {
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

  /** The proxy of a node, started if it has none. */
  ensureProxy(nodeId: string): ProxyRecord {
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

  /** Health checks, at most one per proxy every 5 s; a dead proxy is started again. */
  checkProxies(now: number): void {
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
}
