// Nodes on distinct loopback addresses (127.0.0.2, .3, .4), each as a separate machine would
// be: every node binds only its own address, so a node that advertised a wrong one (0.0.0.0,
// 127.0.0.1) could not be reached and these tasks, actors and pulls would fail.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

const MiB = 1024 * 1024;
const DRIVER_IP = '127.0.0.9';

class Maker {
  made = 0;
  /** A large object (bytes of value `fill`) made on this actor's node. */
  make(n: number, fill: number): Uint8Array {
    this.made++;
    return new Uint8Array(n).fill(fill);
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('nodes on distinct loopback addresses', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1, ownLoopback: true, resources: { a: 4 } });
    await cluster.addNode({ numCpus: 1, ownLoopback: true, resources: { b: 4 } });
    await cluster.addNode({ numCpus: 1, ownLoopback: true, resources: { c: 4 } });
    // The driver's node listens on its own address too: the nodes pull what it puts from there.
    await sunray.init({ address: cluster.address, token: cluster.token, bind: DRIVER_IP });
  }, 60_000);
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  }, 60_000);

  test('every node advertises the address it listens on', { timeout: 30_000 }, async () => {
    expect(cluster.nodes.map((n) => n.address.split(':')[0])).toEqual([
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
    ]);
    expect(cluster.address.startsWith('127.0.0.2:')).toBe(true);
    const listed = await sunray.nodes();
    const hosts = new Map(listed.map((n) => [n.nodeId, n.address.split(':')[0]]));
    for (const n of cluster.nodes) expect(hosts.get(n.nodeId)).toBe(n.address.split(':')[0]);
    const me = listed.find((n) => n.isDriver);
    expect(me?.address.startsWith(`${DRIVER_IP}:`)).toBe(true);
  });

  test('tasks run on each node', { timeout: 30_000 }, async () => {
    const where = (r: string) =>
      sunray.remote(async () => (await import('sunray')).getRuntimeContext().nodeId, {
        resources: { [r]: 1 },
      });
    const got = await sunray.get(['a', 'b', 'c'].map((r) => where(r).remote()));
    expect(got).toEqual(cluster.nodes.map((n) => n.nodeId));
  });

  test('large objects move between every pair of nodes and the driver', { timeout: 120_000 }, async () => {
    const M = sunray.remote(Maker, { resources: { c: 1 } });
    const maker = M.remote();
    // Made on node c; read by a task on node b (b pulls from c), and by the driver (from c).
    const big = maker.make.remote(32 * MiB, 7);
    const digest = sunray.remote(
      async (x: Uint8Array) => {
        const { createHash } = await import('node:crypto');
        return createHash('sha256').update(x).digest('hex');
      },
      { resources: { b: 1 } },
    );
    const expected = sha(new Uint8Array(32 * MiB).fill(7));
    expect(await sunray.get(digest.remote(big))).toBe(expected);
    expect(sha((await sunray.get(big)) as Uint8Array)).toBe(expected);
    // Put by the driver; read on node a (a pulls from the driver's node at DRIVER_IP).
    const mine = new Uint8Array(24 * MiB).fill(3);
    const onA = sunray.remote(
      async (x: Uint8Array) => {
        const { createHash } = await import('node:crypto');
        return createHash('sha256').update(x).digest('hex');
      },
      { resources: { a: 1 } },
    );
    expect(await sunray.get(onA.remote(sunray.put(mine)))).toBe(sha(mine));
    // Made by a task on node a and returned home to the driver (a pushes its result back).
    const makeOnA = sunray.remote((n: number) => new Uint8Array(n).fill(9), { resources: { a: 1 } });
    const back = (await sunray.get(makeOnA.remote(16 * MiB))) as Uint8Array;
    expect(sha(back)).toBe(sha(new Uint8Array(16 * MiB).fill(9)));
    expect(await sunray.get(maker.make.remote(1, 0))).toHaveLength(1);
    sunray.kill(maker);
  });

  test('an actor on one node is called from a task on another', { timeout: 30_000 }, async () => {
    const M = sunray.remote(Maker, { resources: { a: 1 } });
    const m = M.remote();
    await sunray.get(m.make.remote(1, 1));
    const callFromC = sunray.remote(
      async (h: { make: { remote(n: number, f: number): sunray.ObjectRef<Uint8Array> } }) => {
        const s = await import('sunray');
        return (await s.get(h.make.remote(4 * 1024 * 1024, 5))).length;
      },
      { resources: { c: 1 } },
    );
    expect(await sunray.get(callFromC.remote(m))).toBe(4 * MiB);
    sunray.kill(m);
  });
});

describe('sunray start --bind / --node-ip-address', () => {
  let dir: string;
  let prev: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-addresses-test-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = dir; // the CLI's children inherit it
  });
  afterAll(async () => {
    await runNode(CLI, ['stop', '--grace-period-ms', '5000']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test(
    'nodes advertise their bind address, their given IP, or the route to the head',
    { timeout: 60_000 },
    async () => {
      const common = [
        '--num-cpus',
        '1',
        '--object-store-memory',
        String(64 << 20),
        '--object-store-warm-ahead',
        '0',
      ];
      const head = await runNode(CLI, ['start', '--head', '--port', '0', '--bind', '127.0.0.6', ...common]);
      expect(head.code).toBe(0);
      const address = /started at (\S+)/.exec(head.stdout)?.[1];
      expect(address).toMatch(/^127\.0\.0\.6:\d+$/);
      const env = { SUNRAY_CLUSTER_TOKEN: /cluster token: (\S+)/.exec(head.stdout)?.[1] ?? '' };
      // Its given IP (one of this machine's, so also where it listens).
      const given = await runNode(
        CLI,
        ['start', '--address', address!, '--node-ip-address', '127.0.0.8', ...common],
        { env },
      );
      expect(given.stderr).toBe('');
      expect(given.stdout).toMatch(/started at 127\.0\.0\.8:\d+/);
      // Nothing given: the address this machine reaches the head from (loopback here).
      const routed = await runNode(CLI, ['start', '--address', address!, ...common], { env });
      expect(routed.stdout).toMatch(/started at 127\.0\.0\.1:\d+/);
      const status = JSON.parse((await runNode(CLI, ['status', '--json'])).stdout) as {
        nodes: { address: string; alive: boolean }[];
      };
      const hosts = status.nodes.filter((n) => n.alive).map((n) => n.address.split(':')[0]);
      expect(hosts.sort()).toEqual(['127.0.0.1', '127.0.0.6', '127.0.0.8']);
    },
  );

  test('a wildcard or a name as --node-ip-address is refused', { timeout: 30_000 }, async () => {
    for (const bad of ['0.0.0.0', 'my-host']) {
      const r = await runNode(CLI, ['start', '--address', '127.0.0.6:1', '--node-ip-address', bad]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('--node-ip-address must be');
    }
  });
});
