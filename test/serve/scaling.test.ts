// serve under load (autocannon against the real proxy): autoscaling up and down, a rolling
// redeploy with zero failed requests, and `kill -9` of a replica: GETs are retried, a POST in
// flight on the dead replica gets 502, and the replica is replaced. Loads are open-ended and
// stopped once what the test waits for has happened: on a busy machine that takes a while.
import autocannon from 'autocannon';
import * as sunray from 'sunray';
import * as serve from 'sunray/serve';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 128 * 1024 * 1024 });
});

afterAll(async () => {
  await serve.shutdown();
  await sunray.shutdown();
});

async function proxyUrl(): Promise<string> {
  const p = Object.values((await serve.status()).proxies)[0]!;
  return `http://127.0.0.1:${p.port}`;
}

/** Load with `connections` clients until stop() (at most maxSeconds); counts bodies by text. */
function load(url: string, connections: number, maxSeconds = 60) {
  const bodies = new Map<string, number>();
  // Without a callback autocannon gives an instance that is also a promise of the result.
  const instance = autocannon({
    url,
    connections,
    duration: maxSeconds,
    requests: [
      {
        onResponse: (_status: number, body: string) => {
          bodies.set(body, (bodies.get(body) ?? 0) + 1);
        },
      },
    ],
  }) as unknown as Promise<autocannon.Result> & { stop(): void };
  const result = instance;
  return {
    bodies,
    total: () => [...bodies.values()].reduce((a, b) => a + b, 0),
    stop: () => {
      instance.stop();
      return result;
    },
  };
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
    const base = await proxyUrl();
    expect(running(await serve.status(), 'auto', 'Busy')).toHaveLength(1);
    const l = load(`${base}/`, 8);
    await until(
      async () => running(await serve.status(), 'auto', 'Busy').length === 3,
      45_000,
      'three replicas under load',
    );
    const r = await l.stop();
    expect(r.non2xx).toBe(0);
    expect(r.errors).toBe(0);
    await until(
      async () => running(await serve.status(), 'auto', 'Busy').length === 1,
      30_000,
      'back to one replica',
    );
    expect((await serve.status()).applications.auto!.deployments.Busy!.targetReplicas).toBe(1);
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
    const base = await proxyUrl();
    const before = running(await serve.status(), 'roll', 'Versioned').map((r) => r.pid);
    const l = load(`${base}/roll`, 8);
    await until(() => l.total() >= 50, 30_000, 'responses from v1');
    await serve.run(make('v2').bind(), { name: 'roll', routePrefix: '/roll' });
    const seen = l.total();
    await until(() => l.total() >= seen + 50, 30_000, 'responses after the update');
    const r = await l.stop();
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(l.bodies.get('v1')).toBeGreaterThan(0);
    expect(l.bodies.get('v2')).toBeGreaterThan(0);
    expect([...l.bodies.keys()].sort()).toEqual(['v1', 'v2']);
    const after = running(await serve.status(), 'roll', 'Versioned');
    expect(after).toHaveLength(2);
    for (const x of after) expect(before).not.toContain(x.pid);
    await serve.delete('roll');
  });

  test('kill -9 of a replica under load: GETs retried, POSTs in flight get 502, the replica is replaced', async () => {
    const Victim = serve.deployment(
      class Victim {
        async fetch(req: Request) {
          if (req.method === 'POST') await new Promise((r) => setTimeout(r, 60_000));
          else await new Promise((r) => setTimeout(r, 5));
          return new Response(`pid ${process.pid}`);
        }
      },
      { numReplicas: 2, maxOngoingRequests: 8, gracefulShutdownTimeoutMs: 500 },
    );
    await serve.run(Victim.bind(), { name: 'victim', routePrefix: '/victim', port: 0 });
    const base = await proxyUrl();
    const pids = running(await serve.status(), 'victim', 'Victim').map((r) => r.pid);
    expect(pids).toHaveLength(2);
    // Two POSTs in flight on each replica (power of two choices spreads them evenly).
    const posts = Array.from({ length: 4 }, () =>
      request(`${base}/victim`, { method: 'POST', body: 'x' }).then(async (r) => ({
        status: r.statusCode,
        text: await r.body.text(),
      })),
    );
    const l = load(`${base}/victim`, 8);
    await until(() => l.total() >= 50, 30_000, 'responses before the kill');
    process.kill(pids[0]!, 'SIGKILL');
    const seen = l.total();
    await until(() => l.total() >= seen + 100, 30_000, 'responses after the kill');
    const r = await l.stop();
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0); // every GET answered: those on the dead replica were retried
    await until(
      async () => {
        const now = running(await serve.status(), 'victim', 'Victim').map((x) => x.pid);
        return now.length === 2 && !now.includes(pids[0]!);
      },
      30_000,
      'the killed replica replaced',
    );
    // The POSTs on the killed replica failed with 502; those on the live one still run.
    const settled = await Promise.all(
      posts.map((p) =>
        Promise.race([p, new Promise<undefined>((res) => setTimeout(() => res(undefined), 5000))]),
      ),
    );
    expect(settled.filter((x) => x !== undefined).map((x) => x!.status)).toEqual([502, 502]);
    expect(settled.filter((x) => x === undefined)).toHaveLength(2);
    await serve.delete('victim');
  });
});
