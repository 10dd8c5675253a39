// Runtime envs over a two-node cluster whose nodes run in directories of their own (as on
// other machines): a task's envVars merged over the job's; workers never shared between
// envs; a working directory the nodes never had, imported from on the worker node; npm
// packages installed once per node and resolved by tasks and actors; a failed install
// as a RuntimeEnvSetupError.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const IS_NUMBER = { 'is-number': '7.0.0' };

describe('runtime envs across nodes', () => {
  let cluster: Cluster;
  let scratch = '';
  let workerNode = '';
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'sunray-renv-'));
    for (const d of ['head-cwd', 'worker-cwd']) mkdirSync(join(scratch, d));
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1, cwd: join(scratch, 'head-cwd') });
    const worker = await cluster.addNode({ numCpus: 2, cwd: join(scratch, 'worker-cwd') });
    workerNode = worker.nodeId;
    await sunray.init({
      address: cluster.address,
      token: cluster.token,
      runtimeEnv: { envVars: { JOB_VAR: 'job', SHARED: 'job' } },
    });
  }, 60_000);
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
    rmSync(scratch, { recursive: true, force: true });
  });

  const onWorker = () => ({ schedulingStrategy: { nodeId: workerNode } });

  test("a task's envVars are merged over the job's (init's)", async () => {
    const vars = sunray.remote(() => [process.env.JOB_VAR, process.env.SHARED, process.env.OWN] as const);
    expect(await sunray.get(vars.options(onWorker()).remote())).toEqual(['job', 'job', undefined]);
    const own = vars.options({ ...onWorker(), runtimeEnv: { envVars: { SHARED: 'task', OWN: 'yes' } } });
    expect(await sunray.get(own.remote())).toEqual(['job', 'task', 'yes']);
  });

  test('tasks of two envs never share a worker process', async () => {
    const pid = sunray.remote(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return process.pid;
    });
    const a = pid.options({ ...onWorker(), runtimeEnv: { envVars: { WHICH: 'a' } } });
    const b = pid.options({ ...onWorker(), runtimeEnv: { envVars: { WHICH: 'b' } } });
    const plain = pid.options(onWorker());
    const rounds = await Promise.all(
      [0, 1, 2].map(async () => {
        const [pa, pb, pp] = await Promise.all([
          sunray.get([a.remote(), a.remote()]),
          sunray.get([b.remote(), b.remote()]),
          sunray.get([plain.remote(), plain.remote()]),
        ]);
        return { pa, pb, pp };
      }),
    );
    const pidsA = new Set(rounds.flatMap((r) => r.pa));
    const pidsB = new Set(rounds.flatMap((r) => r.pb));
    const pidsPlain = new Set(rounds.flatMap((r) => r.pp));
    for (const p of pidsA) expect(pidsB.has(p) || pidsPlain.has(p)).toBe(false);
    for (const p of pidsB) expect(pidsPlain.has(p)).toBe(false);
  });

  test('a working directory the nodes never had: workers start in its copy and import from it', async () => {
    const dir = join(scratch, 'project');
    mkdirSync(join(dir, 'lib'), { recursive: true });
    writeFileSync(join(dir, 'lib', 'helper.mjs'), 'export const greet = (x) => "hello " + x;\n');
    writeFileSync(join(dir, 'data.txt'), 'from the working dir\n');
    // A function given by its module, whose file (and what it imports) is in the working dir.
    writeFileSync(
      join(dir, 'tasks.mjs'),
      "import { greet } from './lib/helper.mjs';\nexport function welcome(x) { return greet(x) + ' from ' + import.meta.url; }\n",
    );
    const moduleUrl = pathToFileURL(join(dir, 'tasks.mjs')).href;
    const { welcome } = (await import(moduleUrl)) as { welcome: (x: string) => string };
    const welcomeTask = sunray
      .remote(welcome, { module: moduleUrl })
      .options({ ...onWorker(), runtimeEnv: { workingDir: dir } });
    const look = sunray
      .remote(async () => {
        const { readFileSync } = await import('node:fs');
        const helperPath = './lib/helper.mjs'; // in the working dir only (not typed here)
        const helper = (await import(helperPath)) as { greet(x: string): string };
        return { cwd: process.cwd(), greeting: helper.greet('node'), data: readFileSync('data.txt', 'utf8') };
      })
      .options({ ...onWorker(), runtimeEnv: { workingDir: dir } });
    // Packed when the options were made: the original may go before the task runs.
    rmSync(dir, { recursive: true });
    const got = await sunray.get(look.remote());
    expect(got.greeting).toBe('hello node');
    expect(got.data).toBe('from the working dir\n');
    expect(got.cwd).not.toBe(dir);
    expect(got.cwd).toMatch(/runtime-env-[0-9a-f]{8}-[0-9a-f]{16}\/wd\/[0-9a-f]{64}$/);
    const welcomed = await sunray.get(welcomeTask.remote('module'));
    expect(welcomed).toBe(`hello module from ${pathToFileURL(join(got.cwd, 'tasks.mjs')).href}`);
  });

  test('npmDependencies are installed once per node and resolved by tasks and actors', async () => {
    const where = sunray.remote(async () => {
      const { readFileSync, statSync } = await import('node:fs');
      const { dirname, join } = await import('node:path');
      const pkg = 'is-number'; // in the env only (not typed here)
      const isNumber = ((await import(pkg)) as { default: (x: unknown) => boolean }).default;
      const path = require.resolve('is-number');
      // Without a working directory, relative imports still resolve from the driver's checkout.
      const helperPath = './test/cluster/fixtures/renv-helper.mjs';
      const { fromCheckout } = (await import(helperPath)) as { fromCheckout: (x: string) => string };
      const marker = join(dirname(dirname(dirname(path))), '.sunray-installed');
      return {
        ok: isNumber(7) && !isNumber('x') && fromCheckout('a') === 'checkout a',
        path,
        marker: readFileSync(marker, 'utf8'),
        mtime: statSync(marker).mtimeMs,
      };
    });
    const first = await sunray.get(
      where.options({ ...onWorker(), runtimeEnv: { npmDependencies: IS_NUMBER } }).remote(),
    );
    expect(first.ok).toBe(true);
    // Another env with the same packages: the node's install is reused, not redone.
    const again = where.options({
      ...onWorker(),
      runtimeEnv: { npmDependencies: IS_NUMBER, envVars: { X: '1' } },
    });
    const second = await sunray.get(again.remote());
    expect(second).toEqual(first);

    class Checker {
      check(x: unknown) {
        return {
          cwd: process.cwd(),
          isNum: (require('is-number') as (v: unknown) => boolean)(x),
          v: process.env.ACTOR_VAR,
        };
      }
    }
    const Remote = sunray.remote(Checker);
    const actor = Remote.options({
      ...onWorker(),
      runtimeEnv: { npmDependencies: IS_NUMBER, envVars: { ACTOR_VAR: 'actor' } },
    }).remote();
    const got = await sunray.get(actor.check.remote(3));
    expect(got).toMatchObject({ isNum: true, v: 'actor' });
    sunray.kill(actor);
  }, 120_000);

  test('an install that fails fails its tasks with RuntimeEnvSetupError, saying what npm said', async () => {
    const f = sunray
      .remote(() => 1)
      .options({
        ...onWorker(),
        runtimeEnv: { npmDependencies: { 'sunray-no-such-package-3f9c2a': '1.0.0' } },
      });
    const err = await sunray.get(f.remote()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sunray.RuntimeEnvSetupError);
    expect((err as sunray.RuntimeEnvSetupError).code).toBe('SUNRAY_RUNTIME_ENV_SETUP_FAILED');
    expect((err as Error).message).toMatch(/npm install .* failed on node/);
  }, 120_000);
});
