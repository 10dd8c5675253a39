// The `sunray` command as a user drives it from a shell: start a head, join a
// node, status, a driver with address 'auto', stop.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

describe('sunray start / status / stop', () => {
  let dir: string;
  let prev: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-cli-test-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = dir; // the CLI's children inherit it
  });
  afterAll(async () => {
    await sunray.shutdown();
    await runNode(CLI, ['stop']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  });

  test("a head and a node start, report, run a driver's work, and stop", async () => {
    const head = await runNode(CLI, [
      'start',
      '--head',
      '--port',
      '0',
      '--num-cpus',
      '1',
      '--object-store-memory',
      String(128 << 20),
      '--dashboard-port',
      '0',
    ]);
    expect(head.stderr).toBe('');
    expect(head.code).toBe(0);
    const address = /started at (\S+)/.exec(head.stdout)?.[1];
    const token = /cluster token: (\S+)/.exec(head.stdout)?.[1];
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    // The dashboard: its URL printed; nothing without the cluster token, everything with it.
    const dashboard = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/) \(log in with the cluster token\)/.exec(
      head.stdout,
    )?.[1];
    expect(dashboard).toBeDefined();
    expect((await fetch(`${dashboard}api/cluster`)).status).toBe(401);
    const login = await fetch(`${dashboard}login`, {
      method: 'POST',
      body: new URLSearchParams({ token: token! }),
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const cluster = await fetch(`${dashboard}api/cluster`, { headers: { cookie } });
    expect(cluster.status).toBe(200);
    const body = (await cluster.json()) as { nodes: Array<{ isHead: boolean; state: string }> };
    expect(body.nodes[0]).toMatchObject({ isHead: true, state: 'ALIVE' });
    expect(head.stdout).toContain(`SUNRAY_CLUSTER_TOKEN=${token} sunray start --address ${address}`);
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);

    const node = await runNode(CLI, [
      'start',
      '--address',
      address!,
      '--token',
      token!,
      '--num-cpus',
      '2',
      '--resources',
      '{"cliRes": 2}',
      '--object-store-memory',
      String(128 << 20),
    ]);
    expect(node.code).toBe(0);
    expect(node.stdout).toContain(`joined ${address}`);

    const bad = await runNode(CLI, ['status', '--address', address!, '--token', 'nope']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/token/);

    await sunray.init({ address: 'auto' });
    const f = sunray.remote(() => 'ran', { resources: { cliRes: 1 } });
    expect(await sunray.get(f.remote())).toBe('ran');
    const stuck = sunray.remote(() => 'never', { resources: { nowhere: 1 } }).remote();
    await new Promise((r) => setTimeout(r, 1500)); // a heartbeat carries the infeasible demand

    const status = await runNode(CLI, ['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/3 node\(s\) alive/); // head, node, and this driver
    expect(status.stdout).toMatch(/\/2 cliRes/);
    expect(status.stdout).toMatch(/\/3 CPU/);
    expect(status.stdout).toMatch(/1 x \{CPU=1,nowhere=1\}/);
    const json = await runNode(CLI, ['status', '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.address).toBe(address);
    expect(report.nodes.filter((n: { alive: boolean }) => n.alive)).toHaveLength(3);
    expect(report.resources.cliRes).toEqual({ used: 0, total: 2 });
    expect(report.resources.CPU.total).toBe(3);
    expect(report.infeasible).toEqual([{ shape: 'CPU=1,nowhere=1', count: 1 }]);
    sunray.cancel(stuck);
    await sunray.shutdown();

    // A program run from the shell joins, works, and ends on its own.
    const program = await runNode(join(repoRoot, 'test', 'fixtures', 'driver-cluster.mjs'));
    expect(program.stderr).toBe('');
    expect(program.code).toBe(0);
    expect(JSON.parse(program.stdout)).toEqual({ task: 'ran', actor: 7 });

    const stop = await runNode(CLI, ['stop']);
    expect(stop.code).toBe(0);
    expect(stop.stdout.match(/stopped/g)).toHaveLength(2);
    const started = [head.stdout, node.stdout].map((s) => Number(/pid (\d+)/.exec(s)![1]));
    await until(() => started.every((p) => !isAlive(p)), 10_000, 'the nodes to exit');
    const after = await runNode(CLI, ['status']);
    expect(after.code).toBe(1);
  });

  test("stop signals no process that reuses a dead daemon's pid", async () => {
    // A daemon killed with SIGKILL leaves its record; its pid may belong to anything later.
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pid = stranger.pid!;
      const record = {
        pid,
        nodeId: 'ab'.repeat(16),
        address: '127.0.0.1:1',
        head: true,
        log: '',
        started: '1',
      };
      writeFileSync(join(dir, 'nodes', `${pid}.json`), JSON.stringify(record));
      const stop = await runNode(CLI, ['stop']);
      expect(stop.code).toBe(0);
      expect(stop.stdout).toContain('no nodes were running');
      expect(isAlive(pid)).toBe(true);
      expect(existsSync(join(dir, 'nodes', `${pid}.json`))).toBe(false);
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});
