// `sunray serve` from a shell: deploy a config file on a cluster started with `sunray start`,
// status (YAML and --json), run MODULE:EXPORT (blocking, then its app is shut down from another
// shell and it exits), shutdown; and the errors of bad command lines and config files.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');
const FIXTURES = join(repoRoot, 'test', 'serve', 'fixtures');

describe('sunray serve', () => {
  let dir: string;
  let prev: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-serve-cli-'));
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = dir; // the CLI's children inherit it
    const head = await runNode(CLI, [
      'start',
      '--head',
      '--port',
      '0',
      '--num-cpus',
      '2',
      '--object-store-memory',
      String(128 << 20),
    ]);
    expect(head.code).toBe(0);
  });
  afterAll(async () => {
    await runNode(CLI, ['stop']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  });

  // Each test's own bound is the sum of its steps' (a loaded machine starts processes slowly):
  // the suite's 60 s default would cut a run short that is still within them.
  test('deploy a config file, status, requests, shutdown', { timeout: 240_000 }, async () => {
    const dep = await runNode(CLI, ['serve', 'deploy', join(FIXTURES, 'serve.yaml')], { timeoutMs: 90_000 });
    expect(dep.stderr).toBe('');
    expect(dep.code).toBe(0);
    const url = /deployed 'greet' at (\S+)/.exec(dep.stdout)?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/greet$/);
    // The CLI has exited; the applications live on in the cluster.
    const r = await request(`${url}/x`);
    expect(await r.body.text()).toBe('hello from v1 /greet/x\n');
    const b = await request(url!.replace('/greet', '/built/'));
    expect(await b.body.text()).toBe('hello from v7 /built/\n');

    const yaml = await runNode(CLI, ['serve', 'status']);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toMatch(/greet:\n\s+status: RUNNING/);
    const json = await runNode(CLI, ['serve', 'status', '--json']);
    const st = JSON.parse(json.stdout);
    expect(st.applications.greet.deployments.Greeter.replicaStates).toEqual({ RUNNING: 2 }); // the override
    expect(st.applications.built.status).toBe('RUNNING');

    const down = await runNode(CLI, ['serve', 'shutdown'], { timeoutMs: 60_000 });
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/deleted 2 application\(s\)/);
    const after = JSON.parse((await runNode(CLI, ['serve', 'status', '--json'])).stdout);
    expect(after).toEqual({ proxies: {}, applications: {} });
  });

  test(
    'run MODULE:EXPORT blocks until its app is shut down from another shell',
    { timeout: 180_000 },
    async () => {
      const child: ChildProcess = spawn(
        process.execPath,
        [
          CLI,
          'serve',
          'run',
          'test/serve/fixtures/apps.mjs:app', // a file relative to the shell's directory, without ./
          '--address',
          'auto',
          '--port',
          '0',
          '--route-prefix',
          '/r',
        ],
        { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      let early: number | null | undefined;
      const exited = new Promise<number | null>((r) =>
        child.on('exit', (code) => {
          early = code;
          r(code);
        }),
      );
      try {
        await until(
          () => /running at (\S+)/.test(out) || early !== undefined,
          60_000,
          () => `serve run to start (output: ${out})`,
        );
        // A run that ended before it started says so, rather than a timeout.
        expect(early, `serve run exited before it ran (output: ${out})`).toBeUndefined();
        const url = /running at (\S+)/.exec(out)![1]!;
        expect(await (await request(`${url}/a`)).body.text()).toBe('hello from v1 /r/a\n');
        const down = await runNode(CLI, ['serve', 'shutdown'], { timeoutMs: 60_000 });
        expect(down.code).toBe(0);
        expect(await exited).toBe(0);
        expect(out).toMatch(/is gone; stopping/);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );

  test('bad command lines exit 2 naming the problem; bad config files exit 1 naming the key', async () => {
    const help = await runNode(CLI, ['serve', 'run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: sunray serve run MODULE:EXPORT/);
    const missing = await runNode(CLI, ['serve', 'run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/MODULE:EXPORT is missing/);
    const unknown = await runNode(CLI, ['serve', 'status', '--jsn']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--jsn/);
    const nowhere = await runNode(CLI, ['serve', 'run', 'no/such/app.mjs:app']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(/cannot find 'no\/such\/app\.mjs': it is neither a file/);
    const verb = await runNode(CLI, ['serve', 'frobnicate']);
    expect(verb.code).toBe(2);
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'applications:\n  - importPath: ./x.mjs:app\n    routPrefix: /x\n');
    const bad = await runNode(CLI, ['serve', 'deploy', cfg]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/applications\[0\]\.routPrefix is not a key here/);
  });
});
