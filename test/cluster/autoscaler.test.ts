// The autoscaler with the local provider, against real processes, driven from a shell as a
// user would: `sunray up cluster.yaml` starts the head alone; a driver's tasks that need a
// resource only the node type has launch two nodes, run on them, and the nodes go once idle
// past the timeout; requestResources launches ahead of work and keeps its node while it
// stands; a demand no type fits is shown by `sunray status` as unmet and launches nothing;
// `sunray down` removes every node and the head.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isRunning, repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

interface Status {
  nodes: Array<{ nodeId: string; alive: boolean; labels: Record<string, string> }>;
  autoscaler: {
    instances: Array<{ id: string; nodeType: string; state: string; nodeId?: string }>;
    unmet: Array<{ shape: Record<string, number>; count: number; reason: string }>;
  };
}

const CONFIG = `
clusterName: astest
maxWorkers: 2
idleTimeoutMinutes: 0.05   # 3 s
updateIntervalSeconds: 0.5
head:
  port: 0
  resources: { CPU: 1 }
  objectStoreMemory: 134217728
nodeTypes:
  special:
    resources: { CPU: 1, special: 1 }
    minWorkers: 0
    maxWorkers: 2
    objectStoreMemory: 67108864
provider:
  type: local
`;

describe('autoscaler (local provider)', () => {
  let dir: string;
  let prev: string | undefined;
  let config: string;
  /** Every node process the autoscaler reported (local-<pid>), to check none is left. */
  const pids = new Set<number>();
  let headPid = 0;

  async function status(): Promise<Status> {
    const r = await runNode(CLI, ['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Status;
    for (const i of s.autoscaler.instances) if (i.id.startsWith('local-')) pids.add(Number(i.id.slice(6)));
    return s;
  }
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-autoscaler-test-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = join(dir, 'session'); // the CLI's children inherit it
    config = join(dir, 'cluster.yaml');
    writeFileSync(config, CONFIG);
    const up = await runNode(CLI, ['up', config]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/cluster astest up: head at 127\.0\.0\.1:\d+/);
    headPid = Number(/pid (\d+)/.exec(up.stdout)?.[1]);
    await sunray.init({ address: 'auto' });
  });

  afterAll(async () => {
    await sunray.shutdown();
    await runNode(CLI, ['down', config], { timeoutMs: 90_000 });
    for (const pid of [...pids, headPid]) if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test('sunray up refuses a bad config (naming the key), a missing file argument, a second head', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, CONFIG.replace('maxWorkers: 2\n    objectStoreMemory', 'objectStoreMemory'));
    const r = await runNode(CLI, ['up', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/'nodeTypes\.special\.maxWorkers' is required/);
    expect((await runNode(CLI, ['up'])).code).toBe(2);
    const again = await runNode(CLI, ['up', config]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/a head node already runs on this machine/);
  });

  test('the head alone at first: no node of the type', async () => {
    const s = await status();
    expect(s.nodes.filter((n) => n.alive).length).toBe(2); // the head and this driver
    expect(s.autoscaler.instances).toEqual([]);
  });

  test('tasks only the node type can run: 0 -> 2 nodes, the tasks run on them, then back to 0', async () => {
    const where = sunray.remote(
      async () => {
        await new Promise((r) => setTimeout(r, 2000));
        return (await import('sunray')).getRuntimeContext().nodeId;
      },
      { resources: { special: 1 } },
    );
    const refs = [0, 1, 2, 3].map(() => where.remote());
    let most = 0;
    const watch = setInterval(() => {
      void sunray.nodes().then((ns) => {
        const n = ns.filter((x) => x.alive && x.labels['sunray.io/node-type'] === 'special').length;
        most = Math.max(most, n);
      });
    }, 200);
    let ran: string[];
    try {
      ran = await sunray.get(refs, { timeout: 60_000 });
    } finally {
      clearInterval(watch);
    }
    const s = await status();
    const special = new Set(ours(s).map((n) => n.nodeId));
    expect(new Set(ran).size).toBe(2);
    for (const id of ran) expect(special.has(id)).toBe(true);
    expect(most).toBeLessThanOrEqual(2);
    // Idle for 3 s: both go.
    await until(async () => ours(await status()).length === 0, 30_000, 'the idle nodes to go');
    await until(async () => (await status()).autoscaler.instances.length === 0, 10_000, 'no instances');
    for (const pid of pids) await until(() => !isRunning(pid), 15_000, `node process ${pid} to exit`);
  });

  test('requestResources launches ahead of work and keeps the node while the request stands', async () => {
    await sunray.autoscaler.requestResources([{ special: 1 }]);
    await until(async () => ours(await status()).length === 1, 30_000, 'a node for the request');
    // Idle past the timeout, but the request stands: it stays.
    await new Promise((r) => setTimeout(r, 5000));
    const s = await status();
    expect(ours(s).length).toBe(1);
    expect(s.autoscaler.instances.map((i) => i.state)).toEqual(['idle']);
    await sunray.autoscaler.requestResources([]);
    await until(
      async () => ours(await status()).length === 0,
      30_000,
      'the node to go once the request is cleared',
    );
    await expect(sunray.autoscaler.requestResources([{ CPU: -1 }])).rejects.toThrow(
      /must be a finite number >= 0/,
    );
  });

  test('a STRICT_SPREAD placement group of two special bundles: two nodes launch, then go with it', async () => {
    const pg = sunray.placementGroup([{ special: 1 }, { special: 1 }], { strategy: 'STRICT_SPREAD' });
    await pg.ready(); // waits for the nodes the autoscaler launches for its bundles
    const s = await status();
    const special = new Set(ours(s).map((n) => n.nodeId));
    const row = await sunray.placementGroupTable(pg);
    expect(special.size).toBe(2);
    expect(new Set(row.bundles.map((b) => b.nodeId))).toEqual(special);
    await sunray.removePlacementGroup(pg);
    await until(async () => ours(await status()).length === 0, 30_000, 'the idle nodes to go');
  });

  test('a demand no node type fits: unmet in `sunray status`, and nothing launches', async () => {
    const big = sunray.remote(() => 1, { numCpus: 64 });
    const ref = big.remote();
    try {
      await until(
        async () => (await status()).autoscaler.unmet.some((u) => u.shape.CPU === 64),
        20_000,
        'the unmet demand in status',
      );
      const text = await runNode(CLI, ['status']);
      expect(text.stdout).toMatch(/special: 0 running, 0 launching, 0 idle \(min 0, max 2/);
      expect(text.stdout).toMatch(/1 x \{"CPU":64\}: no node type fits/);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await status()).autoscaler.instances).toEqual([]);
    } finally {
      sunray.cancel(ref);
    }
  });

  test('`sunray down` stops the head and every node it launched', async () => {
    await sunray.autoscaler.requestResources([{ special: 1 }, { special: 1 }]);
    await until(async () => ours(await status()).length === 2, 30_000, 'two nodes for the request');
    await sunray.shutdown();
    const down = await runNode(CLI, ['down', config], { timeoutMs: 90_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/stopped the head node/);
    expect(isRunning(headPid)).toBe(false);
    for (const pid of pids) await until(() => !isRunning(pid), 15_000, `node process ${pid} to exit`);
    const st = await runNode(CLI, ['status']);
    expect(st.code).not.toBe(0);
  });
});

describe('autoscaler (command provider running sunray start)', () => {
  let dir: string;
  let prev: string | undefined;
  let config: string;
  let cloud: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-autoscaler-cmd-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = join(dir, 'session');
    cloud = join(dir, 'cloud.txt');
    writeFileSync(cloud, '');
    // The "cloud": sunray start on this machine, the token read from the create command's stdin.
    const script = (name: string, body: string) => {
      const p = join(dir, name);
      writeFileSync(p, `#!/bin/sh\nset -e\n${body}\n`, { mode: 0o755 });
      return p;
    };
    const create = script(
      'create.sh',
      `out=$("${process.execPath}" "${CLI}" start "$@" --token-file - --object-store-memory 67108864)\n` +
        `pid=$(echo "$out" | sed -n 's/.*(pid \\([0-9]*\\),.*/\\1/p')\necho "pid-$pid" >> "${cloud}"\necho "pid-$pid"`,
    );
    const terminate = script(
      'terminate.sh',
      `pid=\${1#pid-}\nkill "$pid" 2>/dev/null || true\nwhile kill -0 "$pid" 2>/dev/null; do sleep 0.1; done\n` +
        `grep -v "^$1$" "${cloud}" > "${cloud}.new" || true\nmv "${cloud}.new" "${cloud}"`,
    );
    config = join(dir, 'cluster.yaml');
    writeFileSync(
      config,
      CONFIG.replace(
        'provider:\n  type: local',
        [
          'provider:',
          '  type: command',
          `  create: ${create} {startArgs}`,
          `  terminate: ${terminate} {id}`,
          `  list: cat ${cloud}`,
          '  address: echo 127.0.0.1',
        ].join('\n'),
      ),
    );
    const up = await runNode(CLI, ['up', config]);
    expect(up.code, up.stderr).toBe(0);
    await sunray.init({ address: 'auto' });
  });

  afterAll(async () => {
    await sunray.shutdown();
    await runNode(CLI, ['down', config], { timeoutMs: 90_000 });
    await runNode(CLI, ['stop']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test('a requested node is made by the create command and removed by sunray down', async () => {
    await sunray.autoscaler.requestResources([{ special: 1 }]);
    let id = '';
    await until(
      async () => {
        const r = await runNode(CLI, ['status', '--json']);
        const s = JSON.parse(r.stdout) as Status;
        id = s.autoscaler.instances.find((i) => i.state !== 'launching')?.id ?? '';
        return ours(s).length === 1 && id !== '';
      },
      30_000,
      'the node made by the create command to join',
    );
    expect(id).toMatch(/^pid-\d+$/);
    const pid = Number(id.slice(4));
    expect(isRunning(pid)).toBe(true);
    const f = sunray.remote(() => 7, { resources: { special: 1 } });
    expect(await sunray.get(f.remote(), { timeout: 30_000 })).toBe(7);
    await sunray.shutdown();
    const down = await runNode(CLI, ['down', config], { timeoutMs: 90_000 });
    expect(down.code, down.stderr).toBe(0);
    await until(() => !isRunning(pid), 15_000, 'the node to stop');
    expect(readFileSync(cloud, 'utf8').trim()).toBe('');
  });
});

const ours = (s: Status) => s.nodes.filter((n) => n.alive && n.labels['sunray.io/node-type'] === 'special');
