// serve over real HTTP, with undici as the client: routing by prefix, composition through
// handles, batching, streaming, cancellation when the client goes away, backpressure (503),
// a Hono app as a deployment, userConfig, and the errors a user sees for a broken deployment.
import * as sunray from 'sunray';
import * as serve from 'sunray/serve';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Batched, HonoApi } from './fixtures/apps.mjs';

const FIXTURE = new URL('./fixtures/apps.mjs', import.meta.url).href;
let base = '';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 128 * 1024 * 1024 });
  const Root = serve.deployment(
    class Root {
      fetch(req: Request) {
        return new Response(`root ${new URL(req.url).pathname}`);
      }
    },
  );
  await serve.run(Root.bind(), { name: 'root', port: 0 });
  const st = await serve.status();
  const proxy = Object.values(st.proxies)[0]!;
  expect(proxy.host).toBe('127.0.0.1');
  base = `http://127.0.0.1:${proxy.port}`;
});

afterAll(async () => {
  await serve.shutdown();
  await sunray.shutdown();
});

async function get(path: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(`${base}${path}`, init);
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

describe('sunray/serve over HTTP', () => {
  test('routes by the longest prefix; the handler sees the whole URL; keep-alive is on', async () => {
    const Model = serve.deployment(
      class Model {
        constructor(private prefix: string) {}
        async fetch(req: Request) {
          const u = new URL(req.url);
          return Response.json({ out: this.prefix + u.search, path: u.pathname, method: req.method });
        }
        async predict(x: number) {
          return x * 2;
        }
      },
      { numReplicas: 2, maxOngoingRequests: 100 },
    );
    const handle = await serve.run(Model.bind('p:'), { name: 'model', routePrefix: '/model' });
    expect(await handle.predict.remote(21)).toBe(42);
    const r = await get('/model/x/y?q=1');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ out: 'p:?q=1', path: '/model/x/y', method: 'GET' });
    expect(r.headers.connection).toBe('keep-alive');
    expect((await get('/modelx')).text).toBe('root /modelx'); // not under /model
    expect((await get('/other')).text).toBe('root /other');
    const both = await serve.status();
    expect(both.applications.model!.status).toBe('RUNNING');
    expect(both.applications.model!.deployments.Model!.replicaStates).toEqual({ RUNNING: 2 });
    expect(await serve.delete('model')).toBe(true);
    expect((await get('/model/x')).text).toBe('root /model/x');
    await expect(handle.predict.remote(1)).rejects.toBeInstanceOf(serve.DeploymentUnavailableError);
  });

  test('composition: bound deployments arrive as typed handles; responses chain', async () => {
    const Doubler = serve.deployment(
      class Doubler {
        double(x: number) {
          return x * 2;
        }
        pid() {
          return process.pid;
        }
      },
    );
    const Adder = serve.deployment(
      class Adder {
        constructor(private k: number) {}
        add(x: number) {
          return x + this.k;
        }
      },
    );
    type DH = serve.DeploymentHandle<
      InstanceType<typeof Doubler extends serve.Deployment<infer C> ? C : never>
    >;
    const Ingress = serve.deployment(
      class Ingress {
        constructor(
          private doubler: DH,
          private adders: { one: serve.DeploymentHandle<{ add(x: number): number }> },
        ) {}
        async fetch(req: Request) {
          const x = Number(new URL(req.url).searchParams.get('x'));
          // A response passed on as an argument: the second call waits for the first.
          const y = await this.adders.one.add.remote(this.doubler.double.remote(x));
          return Response.json({ y, pids: [process.pid, await this.doubler.pid.remote()] });
        }
      },
    );
    await serve.run(Ingress.bind(Doubler.bind(), { one: Adder.bind(1) }), {
      name: 'composed',
      routePrefix: '/calc',
    });
    const r = JSON.parse((await get('/calc?x=20')).text);
    expect(r.y).toBe(41);
    expect(r.pids[0]).not.toBe(r.pids[1]); // two replicas, two processes
    const adder = await serve.getDeploymentHandle<{ add(x: number): number }>('Adder', 'composed');
    expect(await adder.add.remote(1)).toBe(2);
    const app = await serve.getAppHandle('composed');
    expect(app.deploymentName).toBe('Ingress');
    await serve.delete('composed');
  });

  test('batching: calls that arrive together reach the batch function as one array', async () => {
    await serve.run(serve.deployment(Batched, { module: FIXTURE, maxOngoingRequests: 16 }).bind(), {
      name: 'batch',
      routePrefix: '/batch',
    });
    const ys = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`/batch?x=${i}`)));
    expect(ys.map((r) => JSON.parse(r.text).y)).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
    const h = await serve.getAppHandle<Batched>('batch');
    const sizes = await h.batchSizes.remote();
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(8);
    expect(Math.max(...sizes)).toBe(4); // maxBatchSize
    expect(sizes.length).toBeLessThanOrEqual(3);
    await serve.delete('batch');
  });

  test('a Hono app is a deployment', async () => {
    await serve.run(serve.deployment(HonoApi, { module: FIXTURE }).bind(), {
      name: 'hono',
      routePrefix: '/hono',
    });
    const r = await get('/hono/hello/world');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(r.text)).toEqual({ hello: 'world', via: 'hono' });
    const e = await get('/hono/echo', { method: 'POST', body: 'abc' });
    expect(e.text).toBe('echo:abc');
    expect((await get('/hono/nothing')).status).toBe(404); // Hono's own 404
    await serve.delete('hono');
  });

  test('streaming: the first chunk arrives before the last is produced; cancel on disconnect', async () => {
    const Streamer = serve.deployment(
      class Streamer {
        cancelled = 0;
        aborted = 0;
        fetch(req: Request) {
          const u = new URL(req.url);
          if (u.pathname.endsWith('/slow')) {
            // Never answers until the client goes away.
            return new Promise<Response>((resolve) => {
              req.signal.addEventListener('abort', () => {
                this.aborted++;
                resolve(new Response('late'));
              });
            });
          }
          const n = Number(u.searchParams.get('n') ?? '5');
          let i = 0;
          const self = this;
          const body = new ReadableStream<Uint8Array>({
            async pull(c) {
              if (i === n) return c.close();
              if (i > 0) await new Promise((r) => setTimeout(r, 150));
              c.enqueue(new TextEncoder().encode(`data: ${i++} ${Date.now()}\n\n`));
            },
            cancel() {
              self.cancelled++;
            },
          });
          return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
        }
        counts() {
          return { cancelled: this.cancelled, aborted: this.aborted };
        }
        async *tokens(n: number) {
          for (let i = 0; i < n; i++) {
            await new Promise((r) => setTimeout(r, 50));
            yield `t${i}`;
          }
        }
      },
      { maxOngoingRequests: 10 },
    );
    const h = await serve.run(Streamer.bind(), { name: 'stream', routePrefix: '/sse' });
    const r = await request(`${base}/sse?n=5`);
    expect(r.headers['content-type']).toBe('text/event-stream');
    const arrivals: number[] = [];
    let text = '';
    for await (const c of r.body) {
      arrivals.push(Date.now());
      text += c.toString();
    }
    const events = text.trim().split('\n\n');
    expect(events).toHaveLength(5);
    const lastProduced = Number(events[4]!.split(' ')[2]);
    expect(arrivals[0]!).toBeLessThan(lastProduced);
    expect(arrivals.length).toBeGreaterThan(1);

    // The client reads one event of an endless stream and goes away: the stream is cancelled.
    const ac = new AbortController();
    const endless = await request(`${base}/sse?n=1000`, { signal: ac.signal });
    for await (const _ of endless.body) break;
    ac.abort();
    const slow = new AbortController();
    const pending = request(`${base}/sse/slow`, { signal: slow.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    slow.abort();
    await pending;
    await expect
      .poll(() => h.counts.remote(), { timeout: 5000, interval: 100 })
      .toEqual({ cancelled: 1, aborted: 1 });

    // A generator method through a streaming handle.
    const tokens: string[] = [];
    for await (const t of h.options({ stream: true }).tokens.remote(4)) tokens.push(t);
    expect(tokens).toEqual(['t0', 't1', 't2', 't3']);
    await serve.delete('stream');
  });

  test('overload: past maxOngoingRequests and maxQueuedRequests the proxy answers 503 at once', async () => {
    const SLOW_MS = 2000; // how long Slow's methods take
    const Slow = serve.deployment(
      class Slow {
        async fetch() {
          await new Promise((r) => setTimeout(r, 2000)); // SLOW_MS (the class travels as source)
          return new Response('done');
        }
        async work() {
          await new Promise((r) => setTimeout(r, 2000)); // SLOW_MS (the class travels as source)
          return 'done';
        }
      },
      { maxOngoingRequests: 1, maxQueuedRequests: 1 },
    );
    const h = await serve.run(Slow.bind(), { name: 'slow', routePrefix: '/slow' });
    const t0 = Date.now();
    const rs = await Promise.all(
      Array.from({ length: 5 }, () => get('/slow').then((r) => ({ ...r, ms: Date.now() - t0 }))),
    );
    const codes = rs.map((r) => r.status).sort();
    expect(codes).toEqual([200, 200, 503, 503, 503]);
    for (const r of rs.filter((x) => x.status === 503)) {
      // Refused at once: before the first request could have ended, let alone a queued one.
      expect(r.ms).toBeLessThan(SLOW_MS);
      expect(r.headers['retry-after']).toBe('1');
    }
    // Handles: the same limits give BackPressureError.
    const calls = Array.from({ length: 3 }, () => h.work.remote());
    const settled = await Promise.allSettled(calls);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
    const refused = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(serve.BackPressureError);
    expect(refused.reason.code).toBe('SUNRAY_SERVE_BACKPRESSURE');
    await serve.delete('slow');
  });

  test('userConfig reaches reconfigure, and a new one is applied in place', async () => {
    const Cfg = serve.deployment(
      class Cfg {
        threshold = 0;
        reconfigure(c: { threshold: number }) {
          this.threshold = c.threshold;
        }
        get() {
          return [this.threshold, process.pid];
        }
      },
      { userConfig: { threshold: 1 } },
    );
    const h = await serve.run(Cfg.bind(), { name: 'cfg', routePrefix: null });
    const [t1, pid1] = await h.get.remote();
    expect(t1).toBe(1);
    const h2 = await serve.run(Cfg.options({ userConfig: { threshold: 2 } }).bind(), {
      name: 'cfg',
      routePrefix: null,
    });
    const [t2, pid2] = await h2.get.remote();
    expect(t2).toBe(2);
    expect(pid2).toBe(pid1); // same replica: no restart for a userConfig change
    await serve.delete('cfg');
  });

  test('errors a user sees: outside variables, a constructor that throws, a handler that throws', async () => {
    const outside = 3;
    expect(() =>
      serve
        .deployment(
          class Leaky {
            f() {
              return outside;
            }
          },
        )
        .bind(),
    ).not.toThrow(); // checked when deployed
    await expect(
      serve.run(
        serve
          .deployment(
            class Leaky {
              f() {
                return outside;
              }
            },
          )
          .bind(),
        { name: 'leaky', routePrefix: null },
      ),
    ).rejects.toThrow(/reads 'outside' from outside itself/);

    const Broken = serve.deployment(
      class Broken {
        constructor() {
          throw new Error('no model file');
        }
      },
    );
    const err = await serve.run(Broken.bind(), { name: 'broken', routePrefix: null }).catch((e) => e);
    expect(err).toBeInstanceOf(serve.DeploymentFailedError);
    expect(err.message).toMatch(/no model file/);
    expect((await serve.status()).applications.broken!.status).toBe('DEPLOY_FAILED');
    await serve.delete('broken');

    const Throws = serve.deployment(
      class Throws {
        fetch(): Response {
          throw new Error('secret detail');
        }
        m(): number {
          throw new Error('method failed');
        }
      },
    );
    const h = await serve.run(Throws.bind(), { name: 'throws', routePrefix: '/throws' });
    const r = await get('/throws');
    expect(r.status).toBe(500);
    expect(r.text).not.toMatch(/secret/); // no internals to the client
    await expect(h.m.remote()).rejects.toThrow(/method failed/);
    expect((await get('/nowhere-else')).status).toBe(200); // root app still serves
    await serve.delete('throws');
    await expect(serve.run(Throws.bind(), { name: 'bad name!' })).rejects.toThrow(/name must be/);
  });
});
