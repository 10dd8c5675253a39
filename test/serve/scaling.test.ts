// serve under load (autocannon against the real proxy): autoscaling up and down, a rolling
// redeploy with zero failed requests, and `kill -9` of a replica: GETs are retried, a POST in
// flight on the dead replica gets 502, and the replica is replaced.
import autocannon from 'autocannon';
import * as sunray from 'sunray';
import * as serve from 'sunray/serve';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

let base = '';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 128 * 1024 * 1024 });
});

afterAll(async () => {
  await serve.shutdown();
  await sunray.shutdown();
});

async function port(): Promise<string> {
  const p = Object.values((await serve.status()).proxies)[0]!;
  return `http://127.0.0.1:${p.port}`;
}

/** Load for `seconds` with `connections` clients; counts bodies by text. */
function load(url: string, seconds: number, connections: number, method = 'GET') {
  const bodies = new Map<string, number>();
  const run = autocannon({
    url,
    method: method as 'GET',
    connections,
    duration: seconds,
    requests: [
      {
        onResponse: (_status: number, body: string) => {
          bodies.set(body, (bodies.get(body) ?? 0) + 1);
        },
      },
    ],
  });
  return { result: run, bodies };
}

function running(st: serve.ServeStatus, app: string, dep: string) {
  return st.applications[app]?.deployments[dep]?.replicas.filter((r) => r.state === 'RUNNING') ?? [];
}

describe('serve under load', () => {
  test('autoscaling adds replicas under load and removes them after', async () => {
    const Busy = serve.deployment(
      class Busy {
        async fetch() {
          await new Promise((r) => setTimeout(r, 100));
          return new Response('ok');
        }
      },
      {
        maxOngoingRequests: 4,
        autoscalingConfig: {
          minReplicas: 1,
          maxReplicas: 3,
          targetOngoingRequests: 2,
          upscaleDelayMs: 300,
          downscaleDelayMs: 1000,
          lookBackPeriodMs: 1000,
        },
      },
    );
    await serve.run(Busy.bind(), { name: 'auto', port: 0 });
    base = await port();
    expect(running(await serve.status(), 'auto', 'Busy')).toHaveLength(1);
    const { result } = load(`${base}/`, 6, 8);
    let peak = 0;
    await until(
      async () => {
        peak = Math.max(peak, running(await serve.status(), 'auto', 'Busy').length);
        return peak === 3;
      },
      6000,
      'three replicas under load',
    );
    const r = await result;
    expect(r.non2xx).toBe(0);
    expect(r.errors).toBe(0);
    await until(
      async () => running(await serve.status(), 'auto', 'Busy').length === 1,
      10_000,
      'back to one replica',
    );
    const st = (await serve.status()).applications.auto!.deployments.Busy!;
    expect(st.targetReplicas).toBe(1);
    await serve.delete('auto');
  });

  test('a redeploy with new code rolls the replicas one by one with no failed request', async () => {
    const make = (version: string) =>
      serve.deployment(
        new Function(
          `return class Versioned { fetch() { return new Response(${JSON.stringify(version)}); } }`,
        )() as new () => { fetch(): Response },
        { numReplicas: 2, maxOngoingRequests: 8 },
      );
    await serve.run(make('v1').bind(), { name: 'roll', routePrefix: '/roll', port: 0 });
    base = await port();
    const before = running(await serve.status(), 'roll', 'Versioned').map((r) => r.pid);
    const { result, bodies } = load(`${base}/roll`, 5, 8);
    await new Promise((r) => setTimeout(r, 800));
    await serve.run(make('v2').bind(), { name: 'roll', routePrefix: '/roll' });
    const r = await result;
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(r.requests.total).toBeGreaterThan(100);
    expect(bodies.get('v1')).toBeGreaterThan(0);
    expect(bodies.get('v2')).toBeGreaterThan(0);
    expect([...bodies.keys()].sort()).toEqual(['v1', 'v2']);
    const after = running(await serve.status(), 'roll', 'Versioned');
    expect(after).toHaveLength(2);
    for (const x of after) expect(before).not.toContain(x.pid);
    await serve.delete('roll');
  });

  test('kill -9 of a replica under load: GETs retried, POSTs in flight get 502, the replica is replaced', async () => {
    const Victim = serve.deployment(
      class Victim {
        async fetch(req: Request) {
          if (req.method === 'POST') await new Promise((r) => setTimeout(r, 3000));
          else await new Promise((r) => setTimeout(r, 5));
          return new Response(`pid ${process.pid}`);
        }
      },
      { numReplicas: 2, maxOngoingRequests: 8 },
    );
    await serve.run(Victim.bind(), { name: 'victim', routePrefix: '/victim', port: 0 });
    base = await port();
    const pids = running(await serve.status(), 'victim', 'Victim').map((r) => r.pid);
    expect(pids).toHaveLength(2);
    // POSTs in flight on both replicas (power of two choices spreads them).
    const posts = Array.from({ length: 4 }, () =>
      request(`${base}/victim`, { method: 'POST', body: 'x' }).then(async (r) => ({
        status: r.statusCode,
        text: await r.body.text(),
      })),
    );
    const { result } = load(`${base}/victim`, 4, 8);
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(pids[0]!, 'SIGKILL');
    const r = await result;
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0); // every GET answered: those on the dead replica were retried
    const out = await Promise.all(posts);
    const failed = out.filter((p) => p.status === 502);
    expect(failed.length).toBeGreaterThan(0); // the ones that were on the killed replica
    for (const p of out.filter((x) => x.status === 200)) expect(p.text).toBe(`pid ${pids[1]}`);
    await until(
      async () => {
        const now = running(await serve.status(), 'victim', 'Victim').map((x) => x.pid);
        return now.length === 2 && !now.includes(pids[0]!);
      },
      15_000,
      'the killed replica replaced',
    );
    await serve.delete('victim');
  });
});
