// The cluster token, against another user of the machine: every user can read
// every process's command line (/proc/<pid>/cmdline), so the token must never be
// in one, nor in the environment of the processes sunray starts. A head and two
// nodes are started with the CLI as a user would (one given the token in
// SUNRAY_CLUSTER_TOKEN, one with --address auto), then /proc is searched.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { childPids, isAlive, repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');
const MEM = String(64 << 20);

function readProc(pid: number, file: string): Buffer | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`);
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/** A process and all its descendants. */
async function tree(pid: number): Promise<number[]> {
  const out = [pid];
  for (const c of await childPids(pid)) out.push(...(await tree(c)));
  return out;
}

describe('the cluster token stays out of argv and the environment', () => {
  let dir: string;
  let prev: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-secrets-test-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = dir;
  });
  afterAll(async () => {
    await runNode(CLI, ['stop']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  });

  test('no /proc/*/cmdline, and no environ of the nodes and their workers, holds it', async () => {
    const head = await runNode(CLI, [
      'start',
      '--head',
      '--port',
      '0',
      '--num-cpus',
      '1',
      '--object-store-memory',
      MEM,
    ]);
    expect(head.stderr).toBe('');
    expect(head.code).toBe(0);
    const address = /started at (\S+)/.exec(head.stdout)![1]!;
    const token = /cluster token: (\S+)/.exec(head.stdout)![1]!;
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    // The hint for other machines passes it in the environment, not as --token.
    expect(head.stdout).toContain(`SUNRAY_CLUSTER_TOKEN=${token} sunray start --address ${address}`);

    process.env.SUNRAY_CLUSTER_TOKEN = token; // as a user would export it before `sunray start`
    let byEnv: Awaited<ReturnType<typeof runNode>>;
    try {
      byEnv = await runNode(CLI, [
        'start',
        '--address',
        address,
        '--num-cpus',
        '1',
        '--object-store-memory',
        MEM,
      ]);
    } finally {
      delete process.env.SUNRAY_CLUSTER_TOKEN;
    }
    expect(byEnv.stderr).toBe('');
    expect(byEnv.code).toBe(0);
    const auto = await runNode(CLI, [
      'start',
      '--address',
      'auto',
      '--num-cpus',
      '1',
      '--object-store-memory',
      MEM,
    ]);
    expect(auto.code).toBe(0);
    const daemons = [head, byEnv, auto].map((r) => Number(/pid (\d+)/.exec(r.stdout)![1]));
    // Each node starts a worker per CPU: wait for them, so their argv and environment are searched too.
    await until(
      async () => (await Promise.all(daemons.map((p) => childPids(p)))).every((c) => c.length > 0),
      20_000,
      'the nodes to start their workers',
    );
    const ours = (await Promise.all(daemons.map(tree))).flat();
    expect(ours.length).toBeGreaterThan(daemons.length);

    const needle = Buffer.from(token);
    const inArgv: string[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const cmd = readProc(Number(name), 'cmdline');
      if (cmd?.includes(needle)) inArgv.push(`${name}: ${cmd.toString().replaceAll('\0', ' ')}`);
    }
    expect(inArgv).toEqual([]);
    const inEnv = ours.filter((pid) => readProc(pid, 'environ')?.includes(needle));
    expect(inEnv).toEqual([]);
    // Where it is kept: the 0600 token file of the private session directory.
    expect(readFileSync(join(dir, 'token'), 'utf8').trim()).toBe(token);

    const stop = await runNode(CLI, ['stop']);
    expect(stop.code).toBe(0);
    await until(() => daemons.every((p) => !isAlive(p)), 15_000, 'the nodes to exit');
  });

  test("a driver's workers do not inherit a token the user put in its environment", async () => {
    const token = 'a-user-token-0123456789abcdef';
    const before = process.env.SUNRAY_CLUSTER_TOKEN;
    process.env.SUNRAY_CLUSTER_TOKEN = token;
    try {
      const sunray = await import('sunray');
      const { workerPids } = await import('sunray/testing');
      await sunray.init({ numCpus: 1, objectStoreMemory: 64 << 20 });
      try {
        expect(await sunray.get(sunray.remote(() => process.pid).remote())).toBeGreaterThan(0);
        const pids = workerPids();
        expect(pids.length).toBeGreaterThan(0);
        for (const pid of pids) expect(readProc(pid, 'environ')?.includes(Buffer.from(token))).toBe(false);
      } finally {
        await sunray.shutdown();
      }
    } finally {
      if (before === undefined) delete process.env.SUNRAY_CLUSTER_TOKEN;
      else process.env.SUNRAY_CLUSTER_TOKEN = before;
    }
  });
});
