// sunray/serve: a no-op deployment with 2 replicas behind serve's proxy, against a plain
// node:cluster HTTP server with 2 workers answering the same body, both under autocannon
// with 50 connections, runs interleaved in the same run (the ratio compares moments of the
// same noisy machine); the latency a request gains through serve, one at a time; and handle
// calls between two deployments per second.
//
// With --vs-ray, each row's Ray side is Ray Serve (bench/ray/python/serve_rows.py): the same
// no-op deployment behind Ray Serve's proxy, under the same load, run by the same functions
// here (noopLoad, addedLatency) against Ray's URL; and a DeploymentHandle composition.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { request } from 'undici';
import { PISCINA_ASYNC } from '../baselines/pools.js';
import { onCleanup } from '../harness/cleanup.js';
import { latencyUnder, timesBaseline } from '../harness/goals.js';
import { median, summarize } from '../harness/stats.js';
import { rate } from '../harness/timing.js';
import type { BenchContext, Benchmark, Measurement, RayDriven } from '../harness/types.js';
import { SkipError } from '../harness/types.js';
import { RAY_SERVE_PACKAGES, rayScript } from '../ray/counterparts.js';
import { sunrayDefs } from './defs.js';

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

/**
 * The no-op rows' load on the server at url (sunray's proxy, or Ray Serve's): autocannon,
 * 1 s of warm-up each, then runs of it interleaved with the node:cluster server's, which
 * starts and stops here.
 */
async function noopLoad(url: string, ctx: BenchContext): Promise<{ s: Load[]; b: Load[] }> {
  const { runs, seconds } = loadRuns(ctx);
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
    return { s, b };
  } finally {
    server.stop();
  }
}

/**
 * The latency row's load: per run, the p50 of one request at a time against the
 * node:cluster server, then through url; `added` is the difference, µs.
 */
async function addedLatency(
  url: string,
  ctx: BenchContext,
): Promise<{ added: number[]; through: number[]; base: number[] }> {
  const server = await startCluster();
  const n = ctx.quick ? 300 : 1000;
  try {
    const out = { added: [] as number[], through: [] as number[], base: [] as number[] };
    for (let i = 0; i < (ctx.quick ? 2 : 5); i++) {
      const base = await p50OneAtATime(server.url, n);
      const through = await p50OneAtATime(url, n);
      out.added.push(through - base);
      out.through.push(through);
      out.base.push(base);
    }
    return out;
  } finally {
    server.stop();
  }
}

const urlOf = (setup: Record<string, unknown>): string => {
  if (typeof setup.url !== 'string' || !/^http:\/\/127\.0\.0\.1:\d+\/$/.test(setup.url))
    throw new Error(`Ray's session gave no local URL to load (${JSON.stringify(setup.url)})`);
  return setup.url;
};

/** Ray Serve's side of the no-op row: the same load against Ray's proxy. */
async function rayNoop(setup: Record<string, unknown>, ctx: BenchContext): Promise<RayDriven> {
  const { s, b } = await noopLoad(urlOf(setup), ctx);
  const failed = s.reduce((n, x) => n + x.non2xx + x.errors, 0);
  const rps = (l: Load[]) => Math.round(median(l.map((x) => x.rps)));
  return {
    perSecond: s.map((x) => x.rps),
    notes: [
      `Ray Serve p50 ${median(s.map((x) => x.p50))} ms, p99 ${median(s.map((x) => x.p99))} ms under load`,
      `node:cluster interleaved ${rps(b)}/s, p50 ${median(b.map((x) => x.p50))} ms`,
      `${failed} failed`,
    ],
  };
}

/** Ray Serve's side of the latency row: the same interleaved GETs against Ray's proxy. */
async function rayLatency(setup: Record<string, unknown>, ctx: BenchContext): Promise<RayDriven> {
  const { added, through, base } = await addedLatency(urlOf(setup), ctx);
  if (added.some((a) => !(a > 0)))
    throw new Error(`Ray Serve's added latency is not positive (${added.map(Math.round).join(', ')} µs)`);
  return {
    perSecond: added.map((a) => 1e6 / a),
    notes: [
      `p50 ${Math.round(median(through))} µs through Ray Serve, ${Math.round(median(base))} µs node:cluster`,
    ],
  };
}

const SERVE_SCRIPT = 'serve_rows.py';

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
    vsRay: rayScript(SERVE_SCRIPT, 'serve no-op deployment (2 replicas)', {
      pip: RAY_SERVE_PACKAGES,
      drive: rayNoop,
      note: "Ray Serve's proxy and 2 replicas (async __call__ returning 'ok'), the same autocannon load and node:cluster runs between",
    }),
    async run(ctx): Promise<Measurement> {
      const { url } = await noopApp();
      const { s, b } = await noopLoad(url, ctx);
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
    },
  },
  {
    name: 'serve p50 latency added (one request at a time)',
    group: 'serve',
    kind: 'sunray',
    shape: `p50 of sequential GETs through serve minus the same against ${HTTP_CLUSTER}, interleaved`,
    goal: latencyUnder(1000, ' added'),
    vsRay: rayScript(SERVE_SCRIPT, 'serve p50 latency added (one request at a time)', {
      pip: RAY_SERVE_PACKAGES,
      drive: rayLatency,
      convert: 'µs',
      note: "the same GETs through Ray Serve's proxy; Ray's figure is 1e6 / the mean of 1e6 / each run's added µs",
    }),
    async run(ctx): Promise<Measurement> {
      const { url } = await noopApp();
      const { added, through, base } = await addedLatency(url, ctx);
      const notes = [
        `p50 ${Math.round(median(through))} µs through serve, ${Math.round(median(base))} µs node:cluster`,
      ];
      return { ...summarize(added, 'µs', false), notes };
    },
  },
  {
    name: 'serve handle calls between two deployments',
    group: 'serve',
    kind: 'sunray',
    shape: 'a deployment calls another through its handle, 1000 calls in flight, then awaits them',
    baselines: [{ name: PISCINA_ASYNC }],
    vsRay: rayScript(SERVE_SCRIPT, 'serve handle calls between two deployments', {
      pip: RAY_SERVE_PACKAGES,
      note: "a Ray Serve DeploymentHandle composition, asyncio.gather of 1000 calls; timed by Ray's timeit",
    }),
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
