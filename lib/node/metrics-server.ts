// The node's /metrics endpoint (Prometheus' text format, node/metrics.ts) on its own HTTP
// port: init({ metricsPort }) or `sunray start --metrics-port`, on 127.0.0.1 unless told
// otherwise, as every sunray port. Only GET /metrics answers; it shows counts and sizes,
// never data, as Ray's metrics export does (scrapers do not carry the cluster's token).
import { createServer, type Server } from 'node:http';
import type { NodeMetrics } from './metrics.js';

/** A listening /metrics endpoint. */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    /** host:port it listens on. */
    readonly address: string,
  ) {}

  /** Listens on host:port (port 0: any free one). */
  static async start(metrics: NodeMetrics, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
        return;
      }
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    server.unref();
    const a = server.address();
    const bound =
      typeof a === 'object' && a ? `${host.includes(':') ? `[${host}]` : host}:${a.port}` : `${host}:${port}`;
    return new MetricsServer(server, bound);
  }

  /** Stops listening. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
