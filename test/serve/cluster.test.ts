// A deployment across two nodes: replicas spread over both, a proxy on each node that hosts
// replicas, and requests through either proxy reach replicas on both nodes.
import * as sunray from 'sunray';
import * as serve from 'sunray/serve';
import { Cluster } from 'sunray/testing';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

describe('serve across two nodes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 2 });
    await cluster.addNode({ numCpus: 2 });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await serve.shutdown();
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('replicas on both nodes, a proxy per node, requests reach both through either proxy', async () => {
    const Where = serve.deployment(
      class Where {
        async fetch(req: Request) {
          // ?hold keeps the request 100 ms, so that a burst fills the replica's 2 slots.
          if (new URL(req.url).searchParams.has('hold')) await new Promise((r) => setTimeout(r, 100));
          return new Response(String(process.pid));
        }
        pid() {
          return process.pid;
        }
      },
      { numReplicas: 2, maxOngoingRequests: 2, actorOptions: { schedulingStrategy: 'SPREAD' } },
    );
    const h = await serve.run(Where.bind(), { name: 'where', port: 0 });
    const st = await serve.status();
    const replicas = st.applications.where!.deployments.Where!.replicas;
    const nodeOf = new Map(replicas.map((r) => [String(r.pid), r.nodeId]));
    expect(new Set(nodeOf.values()).size).toBe(2);
    const nodeIds = new Set(cluster.nodes.map((n) => n.nodeId));
    for (const n of nodeOf.values()) expect(nodeIds.has(n)).toBe(true);

    // A proxy on each node that hosts a replica (port 0: each picks its own).
    await until(
      async () => {
        const p = (await serve.status()).proxies;
        return Object.values(p).filter((x) => x.status === 'HEALTHY').length === 2;
      },
      15_000,
      'a proxy on each node',
    );
    const proxies = Object.entries((await serve.status()).proxies);
    expect(new Set(proxies.map(([n]) => n))).toEqual(new Set(nodeOf.values()));
    for (const [, p] of proxies) {
      const seen = new Set<string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const r = await request(`http://127.0.0.1:${p.port}/`);
        seen.add(nodeOf.get(await r.body.text())!);
      }
      // Each proxy prefers replicas on its own node while they have room, but a burst of
      // concurrent requests held 100 ms each fills the local replica's 2 slots and overflows
      // to the other node (without the hold, a quick replica could take the burst alone).
      const burst = await Promise.all(
        Array.from({ length: 30 }, () =>
          request(`http://127.0.0.1:${p.port}/?hold`).then((r) => r.body.text()),
        ),
      );
      for (const b of burst) seen.add(nodeOf.get(b)!);
      expect(seen.size).toBe(2);
    }
    // Handles from the driver (a third node, with no CPUs) reach both.
    const pids = new Set(await Promise.all(Array.from({ length: 20 }, () => h.pid.remote())));
    expect(pids.size).toBe(2);
  });
});
