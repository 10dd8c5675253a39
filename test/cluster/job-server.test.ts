// The job server on the head's dashboard port, driven as a user would: JobSubmissionClient
// (sunray/job) and `sunray job` from a shell. A job is submitted from a directory the nodes
// never had (both run in directories of their own), with a local module and an npm package,
// and runs tasks on the other node; its logs and SUCCEEDED. A long job with an actor on the
// other node is stopped, and the actor's process goes with it. Requests without the token
// are refused (401) before anything of them is read.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type JobStatus, JobSubmissionClient } from 'sunray/job';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, repoRoot, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

/** The job's program: a local module, an npm package, tasks on the node TARGET_NODE names. */
const SCRIPT = `import * as sunray from 'sunray';
import isNumber from 'is-number';
import { double } from './lib/math.mjs';
await sunray.init();
const f = sunray.remote(async (x) => {
  const { double } = await import('./lib/math.mjs');
  const isNumber = (await import('is-number')).default;
  const { getRuntimeContext } = await import('sunray');
  return { v: double(x), n: isNumber(x), node: getRuntimeContext().nodeId };
});
const g = sunray.remote(async (x) => {
  const sunray = await import('sunray');
  const { double } = await import('./lib/math.mjs');
  return { v: double(x), node: sunray.getRuntimeContext().nodeId };
});
const on = { schedulingStrategy: { nodeId: process.env.TARGET_NODE } };
const out = await sunray.get([1, 2, 3].map((i) => f.options(on).remote(i)));
const inner = await sunray.get(g.options(on).remote(5));
console.log('results ' + JSON.stringify({ out, inner }));
console.log('driver ' + isNumber(5) + ' ' + double(21) + ' ' + process.env.JOB_VAR);
await sunray.shutdown();
`;

/** A job that runs until it is stopped, with an actor and a task that never ends on TARGET_NODE. */
const LONG = `import * as sunray from 'sunray';
await sunray.init();
const on = { schedulingStrategy: { nodeId: process.env.TARGET_NODE } };
class Holder { pid() { return process.pid; } }
const h = sunray.remote(Holder).options(on).remote();
console.log('actor pid ' + (await sunray.get(h.pid.remote())));
const forever = sunray.remote(async () => {
  console.log('task pid ' + process.pid);
  await new Promise(() => setInterval(() => {}, 1000));
});
forever.options(on).remote();
setInterval(() => {}, 1000);
`;

describe('the job server', () => {
  let cluster: Cluster;
  let scratch = '';
  let project = '';
  let url = '';
  let workerNode = '';
  let client: JobSubmissionClient;
  const env = () => ({ envVars: { TARGET_NODE: workerNode, JOB_VAR: 'from-env' } });

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'sunray-jobs-'));
    for (const d of ['head-cwd', 'worker-cwd']) mkdirSync(join(scratch, d));
    project = join(scratch, 'project');
    mkdirSync(join(project, 'lib'), { recursive: true });
    writeFileSync(join(project, 'main.mjs'), SCRIPT);
    writeFileSync(join(project, 'long.mjs'), LONG);
    writeFileSync(join(project, 'lib', 'math.mjs'), 'export const double = (x) => 2 * x;\n');
    cluster = new Cluster();
    const head = await cluster.addNode({ numCpus: 1, dashboardPort: 0, cwd: join(scratch, 'head-cwd') });
    const worker = await cluster.addNode({ numCpus: 2, cwd: join(scratch, 'worker-cwd') });
    workerNode = worker.nodeId;
    url = `http://${head.dashboardAddress}`;
    client = new JobSubmissionClient(url, { token: cluster.token });
  }, 60_000);
  afterAll(async () => {
    await cluster.shutdown();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function ended(id: string, timeoutMs = 90_000): Promise<JobStatus> {
    let status: JobStatus = 'PENDING';
    await until(async () => {
      await new Promise((r) => setTimeout(r, 200));
      status = await client.getJobStatus(id);
      return status === 'SUCCEEDED' || status === 'FAILED' || status === 'STOPPED';
    }, timeoutMs);
    return status;
  }

  test('a job from a directory the nodes never had, with an npm package, runs tasks on the other node', async () => {
    const id = await client.submitJob({
      entrypoint: ['node', 'main.mjs'],
      runtimeEnv: { workingDir: project, npmDependencies: { 'is-number': '7.0.0' }, ...env() },
      metadata: { test: 'yes' },
    });
    const status = await ended(id);
    const logs = await client.getJobLogs(id);
    expect(status, logs).toBe('SUCCEEDED');
    const results = JSON.parse(/^results (.*)$/m.exec(logs)?.[1] ?? '{}') as {
      out: Array<{ v: number; n: boolean; node: string }>;
      inner: { v: number; node: string };
    };
    expect(results.out.map((r) => [r.v, r.n, r.node])).toEqual([
      [2, true, workerNode],
      [4, true, workerNode],
      [6, true, workerNode],
    ]);
    expect(results.inner).toEqual({ v: 10, node: workerNode });
    expect(logs).toMatch(/^driver true 42 from-env$/m);
    const info = await client.getJobInfo(id);
    expect(info).toMatchObject({
      submissionId: id,
      status: 'SUCCEEDED',
      driverExitCode: 0,
      metadata: { test: 'yes' },
    });
    expect(info.runtimeEnv.workingDir).toMatch(/^[0-9a-f]{64}$/);
    expect((await client.listJobs()).map((j) => j.submissionId)).toContain(id);
    // Followed after its end, the log comes whole and the stream ends.
    let tailed = '';
    for await (const text of client.tailJobLogs(id)) tailed += text;
    expect(tailed).toBe(logs);
  }, 150_000);

  test('a stopped job ends STOPPED, and its actor and task on the other node go with it', async () => {
    const id = await client.submitJob({
      entrypoint: ['node', 'long.mjs'],
      runtimeEnv: { workingDir: project, ...env() },
    });
    let seen = '';
    for await (const text of client.tailJobLogs(id)) {
      seen += text;
      if (/actor pid \d+/.test(seen) && /task pid \d+/.test(seen)) break;
    }
    const pid = Number(/actor pid (\d+)/.exec(seen)?.[1]);
    const taskPid = Number(/task pid (\d+)/.exec(seen)?.[1]);
    expect(isAlive(pid)).toBe(true);
    expect(isAlive(taskPid)).toBe(true);
    expect(await client.getJobStatus(id)).toBe('RUNNING');
    expect(await client.stopJob(id)).toBe(true);
    expect(await ended(id, 30_000)).toBe('STOPPED');
    await until(() => !isAlive(pid) && !isAlive(taskPid), 30_000);
    expect(await client.stopJob(id)).toBe(false);
  }, 120_000);

  test('a request without the token, or with a wrong one, is refused (401) before its body is read', async () => {
    const send = (headers: Record<string, string>, body: string, method = 'POST', path = '/api/jobs/') =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${url}${path}`, { method, headers }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    // Not even JSON: a parse would answer 400; the token is checked first.
    const none = await send({ 'content-type': 'application/json' }, '{not json');
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/cluster token/);
    const wrong = await send({ authorization: `Bearer ${'0'.repeat(64)}` }, '{not json');
    expect(wrong.status).toBe(401);
    expect((await send({}, '', 'GET', `/api/packages/${'a'.repeat(64)}`)).status).toBe(401);
    const right = await send({ authorization: `Bearer ${cluster.token}` }, '{not json');
    expect(right.status).toBe(400);
    await expect(new JobSubmissionClient(url, { token: 'x'.repeat(64) }).listJobs()).rejects.toMatchObject({
      code: 'SUNRAY_JOB_SERVER_ERROR',
      status: 401,
    });
    await expect(client.getJobInfo('no-such-job')).rejects.toMatchObject({ code: 'SUNRAY_JOB_NOT_FOUND' });
  });

  test('`sunray job` from a shell: submit and follow to the end, status, logs, list', async () => {
    const tokenFile = join(scratch, 'token');
    writeFileSync(tokenFile, `${cluster.token}\n`, { mode: 0o600 });
    const sh = (cmd: string) =>
      promisify(execFile)('/bin/sh', ['-c', cmd], {
        cwd: scratch,
        env: { ...process.env, SUNRAY_CLUSTER_TOKEN: '' },
      });
    const common = `--address ${url} --token-file ${tokenFile}`;
    const envJson = JSON.stringify({ npmDependencies: { 'is-number': '7.0.0' }, ...env() });
    const sub = await sh(
      `node ${CLI} job submit ${common} --working-dir ${project} --runtime-env-json '${envJson}' --submission-id cli-job-1 -- node main.mjs`,
    );
    expect(sub.stdout).toMatch(/job cli-job-1 submitted/);
    expect(sub.stdout).toMatch(/^driver true 42 from-env$/m);
    expect(sub.stdout).toMatch(/cli-job-1 SUCCEEDED/);
    expect((await sh(`node ${CLI} job status cli-job-1 ${common}`)).stdout).toMatch(/^cli-job-1 SUCCEEDED/);
    expect((await sh(`node ${CLI} job logs cli-job-1 ${common}`)).stdout).toMatch(/^results /m);
    expect((await sh(`node ${CLI} job list ${common}`)).stdout).toMatch(/cli-job-1 SUCCEEDED/);
    // The cluster's job table knows its driver as the submission's.
    const table = await promisify(execFile)(
      process.execPath,
      [CLI, 'list', 'jobs', '--detail', '--address', cluster.address],
      {
        env: { ...process.env, SUNRAY_CLUSTER_TOKEN: cluster.token },
      },
    );
    expect(table.stdout).toMatch(/SUBMISSION.*cli-job-1|cli-job-1.*SUBMISSION/);
    // No token at all: refused with what to do, exit code 2.
    const noToken = await sh(
      `HOME=${scratch} SUNRAY_SESSION_DIR=${join(scratch, 'no-session')} node ${CLI} job list --address ${url}`,
    ).catch((e: { code: number; stderr: string }) => e);
    expect(noToken).toMatchObject({ code: 2 });
    expect((noToken as { stderr: string }).stderr).toMatch(/--token-file/);
  }, 150_000);
});
