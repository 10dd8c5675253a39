// listJobs and `sunray list jobs` over a cluster: every driver program that joined is a job,
// RUNNING while it runs, SUCCEEDED when it shut down or exited with code 0, FAILED when it
// exited with another code or was killed (its node's link to the head closed).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');
const DRIVER = join(repoRoot, 'test', 'cluster', 'fixtures', 'driver-job.mjs');

describe('jobs across a cluster', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1 });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  const env = () => ({ SUNRAY_CLUSTER_TOKEN: cluster.token });
  const jobOf = (stdout: string) => /^job ([0-9a-f]{8})$/m.exec(stdout)?.[1] ?? '';

  test('each driver is a job that ends as its program ends; listed by the API and `sunray list jobs`', async () => {
    const ends: Record<string, { code: number | null; job: string }> = {};
    for (const how of ['shutdown', 'exit', 'throw']) {
      const r = await runNode(DRIVER, [cluster.address, how], { env: env() });
      ends[how] = { code: r.code, job: jobOf(r.stdout) };
      expect(ends[how]?.job, `${how}: ${r.stderr}`).not.toBe('');
    }
    expect([ends.shutdown?.code, ends.exit?.code, ends.throw?.code]).toEqual([0, 0, 1]);

    // One that runs until it is killed: RUNNING, then FAILED.
    const waiting = spawn(process.execPath, [DRIVER, cluster.address, 'wait'], {
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    waiting.stdout.on('data', (d) => {
      out += d;
    });
    await until(() => jobOf(out) !== '', 30_000);
    const waitingJob = jobOf(out);
    const mine = sunray.getRuntimeContext().jobId ?? '';
    const running = await sunray.listJobs({ filters: [['status', '=', 'RUNNING']], detail: true });
    expect(running.map((j) => j.jobId)).toEqual(expect.arrayContaining([mine, waitingJob]));
    expect(running.find((j) => j.jobId === waitingJob)).toMatchObject({
      type: 'DRIVER',
      driverPid: waiting.pid,
      namespace: 'default',
      endTime: null,
    });
    expect(running.find((j) => j.jobId === waitingJob)?.entrypoint).toMatch(
      /^node.* .*driver-job\.mjs .* wait$/,
    );
    waiting.kill('SIGKILL');
    await until(async () => {
      const [j] = await sunray.listJobs({ filters: [['jobId', '=', waitingJob]], detail: true });
      return j?.status === 'FAILED';
    }, 30_000);

    const jobs = await sunray.listJobs({ detail: true });
    const byId = new Map(jobs.map((j) => [j.jobId, j]));
    expect(byId.get(ends.shutdown?.job ?? '')).toMatchObject({
      status: 'SUCCEEDED',
      message: 'the driver shut down',
    });
    expect(byId.get(ends.exit?.job ?? '')).toMatchObject({
      status: 'SUCCEEDED',
      message: 'the driver exited',
    });
    expect(byId.get(ends.throw?.job ?? '')).toMatchObject({
      status: 'FAILED',
      message: 'the driver exited with code 1',
    });
    expect(byId.get(waitingJob)?.message).toMatch(/^the driver's node died: /);
    for (const j of jobs.filter((j) => j.status !== 'RUNNING')) {
      expect(j.endTime).toBeGreaterThanOrEqual(j.startTime ?? Number.POSITIVE_INFINITY);
    }
    // Default columns without detail.
    const [brief] = await sunray.listJobs({ filters: [['jobId', '=', mine]] });
    expect(Object.keys(brief ?? {}).sort()).toEqual([
      'endTime',
      'entrypoint',
      'jobId',
      'startTime',
      'status',
      'type',
    ]);

    const flags = ['--address', cluster.address];
    const listed = await runNode(CLI, ['list', 'jobs', ...flags, '--filter', 'status=FAILED', '--json'], {
      env: env(),
    });
    expect(listed.code, listed.stderr).toBe(0);
    const failed = (JSON.parse(listed.stdout) as Array<{ jobId: string }>).map((j) => j.jobId);
    expect(failed.sort()).toEqual([ends.throw?.job, waitingJob].sort());
    const text = await runNode(CLI, ['list', 'jobs', ...flags], { env: env() });
    expect(text.stdout).toMatch(/^jobId\s+type\s+status\s+entrypoint\s+startTime\s+endTime$/m);
    expect(text.stdout).toContain(mine);
  });
});
