// The head killed (kill -9) and started again on its port: its directory comes back from
// disk (nodes, named actors and actor locations, KV, jobs), the worker nodes rejoin by
// themselves, a detached actor on a worker node keeps its state and answers both the
// driver that made it (mid-job, across the restart) and a new driver that finds it by name.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Conn } from '../../lib/cluster/connection.js';
import type { Message } from '../../lib/cluster/messages.js';
import { splitAddress } from '../../lib/cluster/peers.js';
import { daemonRunning, daemons } from '../../lib/session/session-dir.js';
import { isAlive, repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');
const HEAD_IP = '127.0.0.21';

class Keeper {
  n = 0;
  add(k: number) {
    this.n += k;
    return this.n;
  }
}

/** A port free on HEAD_IP now, for a head that must come back on the same one. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HEAD_IP, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** One request to the head on a connection of its own (the directory's KV has no public API). */
async function ask(address: string, token: string, m: Message): Promise<Message> {
  const [host, port] = splitAddress(address);
  const c = await Conn.dial(
    host,
    port,
    { token, nodeId: randomBytes(16), log: () => {}, onMessage: () => {} },
    'head',
  );
  try {
    return (await c.request(m)).msg;
  } finally {
    c.close('done', false);
  }
}

interface StatusNode {
  nodeId: string;
  alive: boolean;
  isHead: boolean;
  address: string;
}

async function status(): Promise<StatusNode[]> {
  const r = await runNode(CLI, ['status', '--json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as { nodes: StatusNode[] }).nodes : [];
}

describe('the head restarts', () => {
  let dir: string;
  let prev: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-head-restart-test-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = dir; // the CLI's children inherit it
  });
  afterAll(async () => {
    await sunray.shutdown();
    await runNode(CLI, ['stop', '--grace-period-ms', '5000']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test(
    'kill -9 and start again: nodes rejoin, detached actors and KV survive',
    { timeout: 120_000 },
    async () => {
      const port = await freePort();
      const common = ['--object-store-memory', String(64 << 20), '--object-store-warm-ahead', '0'];
      const headArgs = [
        'start',
        '--head',
        '--bind',
        HEAD_IP,
        '--port',
        String(port),
        '--num-cpus',
        '1',
        ...common,
      ];
      const head = await runNode(CLI, headArgs);
      expect(head.stderr).toBe('');
      const address = /started at (\S+)/.exec(head.stdout)?.[1] ?? '';
      const token = /cluster token: (\S+)/.exec(head.stdout)?.[1] ?? '';
      const headPid = Number(/pid (\d+)/.exec(head.stdout)?.[1]);
      expect(address).toBe(`${HEAD_IP}:${port}`);
      const env = { SUNRAY_CLUSTER_TOKEN: token };
      for (const [ip, r] of [
        ['127.0.0.22', 'w1'],
        ['127.0.0.23', 'w2'],
      ] as const) {
        const w = await runNode(
          CLI,
          [
            'start',
            '--address',
            address,
            '--bind',
            ip,
            '--num-cpus',
            '1',
            '--resources',
            `{"${r}": 2}`,
            ...common,
          ],
          { env },
        );
        expect(w.stderr).toBe('');
      }
      await until(async () => (await status()).filter((n) => n.alive).length === 3, 20_000, 'workers joined');
      const workers = (await status()).filter((n) => !n.isHead).map((n) => n.nodeId);

      // A driver (this process) makes a detached named actor on worker w1 and gives it state.
      await sunray.init({ address, token, logToDriver: false });
      const K = sunray.remote(Keeper, { resources: { w1: 1 } });
      const keeper = K.options({ name: 'keeper', lifetime: 'detached' }).remote();
      expect(await sunray.get(keeper.add.remote(5))).toBe(5);
      // And a detached placement group whose bundle is on worker w2.
      const pg = sunray.placementGroup([{ w2: 1 }], { name: 'reserve', lifetime: 'detached' });
      await pg.ready();
      const w2Node = (await sunray.placementGroupTable(pg)).bundles[0]?.nodeId;
      expect(workers).toContain(w2Node);
      const kv = await ask(address, token, {
        t: 'kvPut',
        namespace: 'test',
        key: 'answer',
        value: Buffer.from('42'),
        overwrite: true,
      });
      expect(kv.t).toBe('kvReply');
      // The directory is saved within 100 ms of a change, 0600 in a 0700 directory of the session.
      const file = join(dir, `head-${port}`, 'directory.json');
      await until(() => existsSync(file), 5_000, 'the head saved its directory');
      await new Promise((r) => setTimeout(r, 300));
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, `head-${port}`)).mode & 0o777).toBe(0o700);

      process.kill(headPid, 'SIGKILL');
      await until(() => !isAlive(headPid), 5_000, 'the head died');
      // Without a head the actor still answers its driver: calls go straight to its node.
      expect(await sunray.get(keeper.add.remote(1))).toBe(6);

      const again = await runNode(CLI, headArgs);
      expect(again.stderr).toBe('');
      expect(again.stdout).toContain("restored the cluster's directory");
      expect(/started at (\S+)/.exec(again.stdout)?.[1]).toBe(address);
      expect(/cluster token: (\S+)/.exec(again.stdout)?.[1]).toBe(token);
      // The worker nodes (same ids) and this driver's node rejoin by themselves.
      await until(
        async () => {
          const alive = new Set((await status()).filter((n) => n.alive).map((n) => n.nodeId));
          return workers.every((w) => alive.has(w)) && alive.size === 4;
        },
        30_000,
        'the nodes rejoined the restarted head',
      );

      const got = await ask(address, token, { t: 'kvGet', namespace: 'test', key: 'answer' });
      expect(got.t === 'kvReply' && got.found && got.value.toString()).toBe('42');
      // The driver that made the actor carries on (mid-job), and tasks run on the worker nodes.
      expect(await sunray.get(keeper.add.remote(1))).toBe(7);
      // The placement group came back with its bundle where it was; its tasks run there.
      const found = await sunray.getPlacementGroup('reserve');
      expect(found.id).toBe(pg.id);
      const row = await sunray.placementGroupTable(found);
      expect(row.state).toBe('CREATED');
      expect(row.bundles[0]?.nodeId).toBe(w2Node);
      const where = sunray.remote(
        async () => {
          const s = await import('sunray');
          return s.getRuntimeContext().nodeId;
        },
        { resources: { w2: 1 }, numCpus: 0 },
      );
      expect(
        await sunray.get(where.options({ schedulingStrategy: { placementGroup: found } }).remote()),
      ).toBe(w2Node);
      await sunray.removePlacementGroup(found);
      const onW2 = sunray.remote(() => 'w2 ran it', { resources: { w2: 1 } });
      expect(await sunray.get(onW2.remote())).toBe('w2 ran it');
      // A new driver finds the actor by name through the restarted head and sees its state.
      const b = await runNode(
        join(repoRoot, 'test', 'cluster', 'fixtures', 'call-named.mjs'),
        ['keeper', '10'],
        {
          timeoutMs: 60_000,
        },
      );
      expect(b.stderr).toBe('');
      expect(JSON.parse(b.stdout.trim().split('\n').pop() ?? '{}')).toEqual({ n: 17 });
      sunray.kill(keeper);
    },
  );

  test(
    'a head given another token is refused; `sunray stop` forgets the state',
    { timeout: 30_000 },
    async () => {
      const rec = daemons().find((d) => d.head && daemonRunning(d));
      expect(rec).toBeDefined();
      const port = Number(rec!.address.split(':')[1]);
      process.kill(rec!.pid, 'SIGKILL');
      await until(() => !isAlive(rec!.pid), 5_000, 'the head died');
      const other = randomBytes(32).toString('hex');
      const r = await runNode(CLI, [
        'start',
        '--head',
        '--bind',
        HEAD_IP,
        '--port',
        String(port),
        '--token',
        other,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('with another token');
      expect((await runNode(CLI, ['stop', '--grace-period-ms', '5000'])).code).toBe(0);
      // The cluster ended: a new head on that port starts a new one.
      expect(existsSync(join(dir, `head-${port}`))).toBe(false);
    },
  );
});
