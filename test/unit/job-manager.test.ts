// The job server's supervisor (dashboard/job-manager.ts) on real child processes, with a
// fake node: statuses (SUCCEEDED, FAILED with why, STOPPED by SIGTERM or SIGKILL after the
// grace, FAILED when its env cannot be set up), the driver's 0600 config file (gone once
// the job ends), logs, and refused submissions.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { InvalidArgumentError, JobNotFoundError, RuntimeEnvSetupError } from '../../lib/base/errors.js';
import { JobManager } from '../../lib/dashboard/job-manager.js';
import type { NodeManager } from '../../lib/node/node-manager.js';
import type { SubmittedJobStatus } from '../../lib/protocol/job.js';
import { until } from '../helpers.js';

const TOKEN = 'f'.repeat(64);

function fakeNode(
  prepare: (text: string) => Promise<unknown> = async () => ({ cwd: undefined, envVars: {} }),
) {
  return {
    nodeId: 'ab'.repeat(16),
    envs: { prepare, hasPackage: () => false },
    cluster: undefined,
  } as unknown as NodeManager;
}

let managers: JobManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

function jobs(node = fakeNode()): JobManager {
  const m = new JobManager(node, '127.0.0.1:1', TOKEN);
  managers.push(m);
  return m;
}

async function ended(m: JobManager, id: string): Promise<SubmittedJobStatus> {
  await until(() => m.ended(id), 20_000);
  return m.get(id).status;
}

const node = (code: string) => ['node', '-e', code];

describe('the job supervisor', () => {
  test('a job that exits 0 SUCCEEDED; its log holds its output; its 0600 config is gone after', async () => {
    const m = jobs();
    const script =
      "const fs = require('node:fs'); const p = process.env.SUNRAY_JOB_CONFIG; const c = JSON.parse(fs.readFileSync(p, 'utf8'));" +
      "console.log('mode', (fs.statSync(p).mode & 0o777).toString(8), 'ns', c.namespace, 'addr', c.address, 'token', c.token.length);" +
      "console.error('to stderr'); console.log('config at', p);";
    const id = m.submit({
      entrypoint: node(script),
      runtimeEnv: { envVars: { A: '1' } },
      metadata: {},
      submissionId: 'ok-1',
    });
    expect(id).toBe('ok-1');
    expect(await ended(m, id)).toBe('SUCCEEDED');
    const log = m.readLog(id).text.toString();
    expect(log).toMatch(/^mode 600 ns ok-1 addr 127\.0\.0\.1:1 token 64$/m);
    expect(log).toMatch(/^to stderr$/m);
    const config = /config at (.*)$/m.exec(log)?.[1] ?? '';
    expect(existsSync(config)).toBe(false);
    expect(m.get(id)).toMatchObject({ driverExitCode: 0, namespace: 'ok-1', endTime: expect.any(Number) });
  });

  test('another exit code, or an entrypoint that cannot start, is FAILED saying why', async () => {
    const m = jobs();
    const bad = m.submit({ entrypoint: node('process.exit(3)'), runtimeEnv: {}, metadata: {} });
    expect(bad).toMatch(/^sunray_job_[0-9a-f]{16}$/);
    expect(await ended(m, bad)).toBe('FAILED');
    expect(m.get(bad)).toMatchObject({ driverExitCode: 3, message: 'its driver exited with code 3' });
    const missing = m.submit({ entrypoint: ['/no/such/program'], runtimeEnv: {}, metadata: {} });
    expect(await ended(m, missing)).toBe('FAILED');
    expect(m.get(missing).message).toMatch(/could not start: .*ENOENT/);
  });

  test('stop: SIGTERM, then SIGKILL after the grace for a driver that ignores it; STOPPED either way', async () => {
    const m = jobs();
    const polite = m.submit({
      entrypoint: node('setInterval(() => {}, 1000)'),
      runtimeEnv: {},
      metadata: {},
    });
    await until(() => m.get(polite).status === 'RUNNING', 10_000);
    expect(m.stop(polite)).toBe(true);
    expect(await ended(m, polite)).toBe('STOPPED');
    expect(m.stop(polite)).toBe(false);
    const stubborn = m.submit({
      entrypoint: node(
        "process.on('SIGTERM', () => console.log('ignored')); console.log('up'); setInterval(() => {}, 1000)",
      ),
      runtimeEnv: {},
      metadata: {},
    });
    await until(() => m.readLog(stubborn).text.includes('up'), 10_000);
    const t0 = Date.now();
    m.stop(stubborn, 300);
    expect(await ended(m, stubborn)).toBe('STOPPED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(m.readLog(stubborn).text.toString()).toMatch(/ignored/);
  });

  test('an env that cannot be set up fails the job before anything runs', async () => {
    const m = jobs(
      fakeNode(async () => {
        throw new RuntimeEnvSetupError('npm install failed (test)');
      }),
    );
    const id = m.submit({ entrypoint: node('0'), runtimeEnv: { npmDependencies: { x: '1' } }, metadata: {} });
    expect(await ended(m, id)).toBe('FAILED');
    expect(m.get(id)).toMatchObject({
      driverPid: null,
      message: expect.stringMatching(/runtime env could not be set up: npm/),
    });
  });

  test('refused: a taken submission id, a workingDir never uploaded, an unknown id', () => {
    const m = jobs();
    m.submit({ entrypoint: node('0'), runtimeEnv: {}, metadata: {}, submissionId: 'dup' });
    expect(() =>
      m.submit({ entrypoint: node('0'), runtimeEnv: {}, metadata: {}, submissionId: 'dup' }),
    ).toThrow(InvalidArgumentError);
    const wd = { workingDir: { hash: 'a'.repeat(64), source: '' } };
    expect(() => m.submit({ entrypoint: node('0'), runtimeEnv: wd, metadata: {} })).toThrow(
      /was not uploaded/,
    );
    expect(() => m.get('nope')).toThrow(JobNotFoundError);
  });
});
