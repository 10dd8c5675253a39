// sunray/serve: a no-op deployment with 2 replicas behind serve's proxy, against a plain
// node:cluster HTTP server with 2 workers answering the same body, both under autocannon
// with 50 connections, runs interleaved in the same run (the ratio compares moments of the
// same noisy machine); the latency a request gains through serve, one at a time; and handle
// calls between two deployments per second.
//
// Ray here (branch vsray adds a "Ray here" column): the counterpart rows are Ray Serve's
// no-op deployment with 2 replicas under `autocannon -c 50` (Ray Serve 2.58 on this machine,
// from issue #24: 202 requests/s, p50 223 ms) and Ray Serve handle calls between two
// deployments; RAY_SERVE_HERE below carries the figures until that column can show them.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { request } from 'undici';
import { PISCINA_ASYNC } from '../baselines/pools.js';
import { onCleanup } from '../harness/cleanup.js';
import { latencyUnder, timesBaseline } from '../harness/goals.js';
import { median, summarize } from '../harness/stats.js';
import { rate } from '../harness/timing.js';
import type { BenchContext, Benchmark, Measurement } from '../harness/types.js';
import { SkipError } from '../harness/types.js';
import { sunrayDefs } from './defs.js';

/** Ray Serve 2.58 measured on this machine under the same load (issue #24). */
export const RAY_SERVE_HERE = { requestsPerSecond: 202, p50Ms: 223, version: '2.58' };

export const HTTP_CLUSTER = 'node:cluster HTTP server (2 workers)';
const CONNECTIONS = 50;
const SERVER = fileURLToPath(new URL('../baselines/http-cluster.mjs', import.meta.url));
const specifier = (name: string) => name; // keeps tsc from resolving the module at compile time

async function startCluster(): Promise<{ url: string; stop(): void }> {
  const child: ChildProcess = spawn(process.execPath, [SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  onCleanup('node:cluster http server', stop);
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(Number(buf.trim()));
    });
    child.on('exit', (c) => reject(new Error(`the node:cluster server exited (${c})`)));
  });
  return { url: `http://127.0.0.1:${port}/`, stop };
}

let serveApp: Promise<{ serve: any; url: string }> | undefined;

/** The no-op deployment (2 replicas), deployed once for the serve rows. */
function noopApp(): Promise<{ serve: any; url: string }> {
  serveApp ??= (async () => {
    await sunrayDefs();
    let serve: any;
    try {
      serve = await import(specifier('sunray/serve'));
    } catch (e) {
      throw new SkipError(`sunray/serve not available (${(e as Error).message})`);
    }
    onCleanup('serve', () => serve.shutdown());
    const Noop = serve.deployment(
      class Noop {
        fetch() {
          return new Response('ok');
        }
      },
      { numReplicas: 2, maxOngoingRequests: 100 },
    );
    await serve.run(Noop.bind(), { name: 'bench-noop', port: 0 });
    const proxy: any = Object.values((await serve.status()).proxies)[0];
    return { serve, url: `http://127.0.0.1:${proxy.port}/` };
  })();
  return serveApp;
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function cannon(url: string, seconds: number): Promise<Load> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/** p50 of one request at a time, in µs. */
async function p50OneAtATime(url: string, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await request(url);
    await r.body.text();
    times.push((performance.now() - t) * 1000);
  }
  return median(times.slice(Math.floor(n / 10))); // the first tenth warms the connection
}

function loadRuns(ctx: BenchContext): { runs: number; seconds: number } {
  return ctx.quick ? { runs: 2, seconds: 2 } : { runs: 5, seconds: 4 };
}

export const serveBaselines: Benchmark[] = [
  {
    name: HTTP_CLUSTER,
    group: 'baseline',
    kind: 'baseline',
    shape: `node:http 'ok' in 2 node:cluster workers; autocannon, ${CONNECTIONS} connections`,
    async run(ctx) {
      const { runs, seconds } = loadRuns(ctx);
      const server = await startCluster();
      try {
        await cannon(server.url, 1);
        const rps: number[] = [];
        for (let i = 0; i < runs; i++) rps.push((await cannon(server.url, seconds)).rps);
        return { ...summarize(rps, 'requests/s', true) };
      } finally {
        server.stop();
      }
    },
  },
];

export const serveBenchmarks: Benchmark[] = [
  {
    name: 'serve no-op deployment (2 replicas)',
    group: 'serve',
    kind: 'sunray',
    shape: `HTTP through serve's proxy to 2 replicas answering 'ok'; autocannon, ${CONNECTIONS} connections, interleaved with ${HTTP_CLUSTER}`,
    baselines: [{ name: HTTP_CLUSTER }],
    goal: timesBaseline(0.5, 'node:cluster'),
    timeoutMs: 180_000,
    async run(ctx): Promise<Measurement> {
      const { runs, seconds } = loadRuns(ctx);
      const { url } = await noopApp();
      const server = await startCluster();
      try {
        await cannon(url, 1);
        await cannon(server.url, 1);
        const s: Load[] = [];
        const b: Load[] = [];
        for (let i = 0; i < runs; i++) {
          b.push(await cannon(server.url, seconds));
          s.push(await cannon(url, seconds));
        }
        const failed = s.reduce((n, x) => n + x.non2xx + x.errors, 0);
        const p50 = median(s.map((x) => x.p50));
        const bp50 = median(b.map((x) => x.p50));
        return {
          ...summarize(
            s.map((x) => x.rps),
            'requests/s',
            true,
          ),
          notes: [
            `p50 ${p50} ms (node:cluster ${bp50} ms) under load`,
            `p99 ${median(s.map((x) => x.p99))} ms`,
            `${failed} failed`,
            `Ray Serve ${RAY_SERVE_HERE.version} here: ${RAY_SERVE_HERE.requestsPerSecond}/s, p50 ${RAY_SERVE_HERE.p50Ms} ms`,
          ],
          extra: { p50Ms: p50, clusterP50Ms: bp50, failed },
          paired: {
            [HTTP_CLUSTER]: summarize(
              b.map((x) => x.rps),
              'requests/s',
              true,
            ),
          },
        };
      } finally {
        server.stop();
      }
    },
  },
  {
    name: 'serve p50 latency added (one request at a time)',
    group: 'serve',
    kind: 'sunray',
    shape: `p50 of sequential GETs through serve minus the same against ${HTTP_CLUSTER}, interleaved`,
    goal: latencyUnder(1000, ' added'),
    async run(ctx): Promise<Measurement> {
      const { url } = await noopApp();
      const server = await startCluster();
      const n = ctx.quick ? 300 : 1000;
      try {
        const added: number[] = [];
        const notes: string[] = [];
        for (let i = 0; i < (ctx.quick ? 2 : 5); i++) {
          const base = await p50OneAtATime(server.url, n);
          const through = await p50OneAtATime(url, n);
          added.push(through - base);
          if (i === 0)
            notes.push(`p50 ${Math.round(through)} µs through serve, ${Math.round(base)} µs node:cluster`);
        }
        return { ...summarize(added, 'µs', false), notes };
      } finally {
        server.stop();
      }
    },
  },
  {
    name: 'serve handle calls between two deployments',
    group: 'serve',
    kind: 'sunray',
    shape: 'a deployment calls another through its handle, 1000 calls in flight, then awaits them',
    baselines: [{ name: PISCINA_ASYNC }],
    async run(ctx) {
      const { serve } = await noopApp();
      const Downstream = serve.deployment(
        class Downstream {
          noop() {
            return 0;
          }
        },
        { maxOngoingRequests: 1000 },
      );
      const Caller = serve.deployment(
        class Caller {
          constructor(private down: any) {}
          async relay(n: number) {
            const calls = [];
            for (let i = 0; i < n; i++) calls.push(this.down.noop.remote());
            await Promise.all(calls);
            return n;
          }
        },
      );
      const h = await serve.run(Caller.bind(Downstream.bind()), { name: 'bench-handles', routePrefix: null });
      try {
        return await rate(() => h.relay.remote(1000), ctx, { units: 1000, unit: 'calls/s' });
      } finally {
        await serve.delete('bench-handles');
      }
    },
  },
];
