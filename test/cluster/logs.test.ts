// Worker logs over a cluster: lines a task or actor on another node prints reach the driver
// that owns them, prefixed with the task, pid and node; lines many processes print alike
// are folded ([repeated Nx across cluster]) unless logDedup: false; every worker's output
// is kept in files on its node, which getLog/listLogs and `sunray logs` read from anywhere.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, runNode, until } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');
const DRIVER = join(repoRoot, 'test', 'cluster', 'fixtures', 'driver-logs.mjs');

class Talker {
  say(line: string, err = false) {
    if (err) console.error(line);
    else console.log(line);
    return process.pid;
  }
}

describe('logs across nodes', () => {
  let cluster: Cluster;
  let nodeB = '';
  beforeAll(async () => {
    cluster = new Cluster();
    await cluster.addNode({ numCpus: 1 });
    await cluster.addNode({ numCpus: 1 });
    nodeB = cluster.nodes[1]?.nodeId ?? '';
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  const env = () => ({ SUNRAY_CLUSTER_TOKEN: cluster.token });

  test("a task's and actors' lines on another node reach their driver, folded when many print alike", async () => {
    const r = await runNode(DRIVER, [cluster.address, nodeB], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const taskPid = /^task pid (\d+)$/m.exec(r.stdout)?.[1];
    const at = `node=${nodeB.slice(0, 8)}`;
    expect(r.stdout).toContain(`(anonymous pid=${taskPid}, ${at}) hello from a task on another node\n`);
    expect(r.stderr).toContain(`(anonymous pid=${taskPid}, ${at}) a warning from there\n`);
    const steps = r.stdout.split('\n').filter((l) => l.includes('Stepper.step'));
    // The first printed at once; the two copies from other processes folded into one line.
    expect(steps).toHaveLength(2);
    expect(steps[0]).toMatch(
      new RegExp(`^\\(Stepper\\.step pid=\\d+, ${at}\\) step \\d finished in \\d+ ms$`),
    );
    expect(steps[1]).toMatch(/step \d finished in \d+ ms \[repeated 2x across cluster\]$/);

    const all = await runNode(DRIVER, [cluster.address, nodeB, 'nodedup'], { env: env() });
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.split('\n').filter((l) => l.includes('Stepper.step'));
    expect(lines.map((l) => /step (\d) finished/.exec(l)?.[1]).sort()).toEqual(['0', '1', '2']);
    expect(all.stdout).not.toContain('repeated');
  });

  test("each worker's output is kept on its node: getLog, listLogs and `sunray logs` read it from anywhere", async () => {
    const on = { schedulingStrategy: { nodeId: nodeB, soft: false } } as const;
    const talker = sunray.remote(Talker).options(on).remote();
    const pid = await sunray.get(talker.say.remote('first words'));
    await sunray.get(talker.say.remote('on stderr', true));
    const ran = sunray.remote((n: number) => {
      console.log(`task line ${n}`);
      return process.pid;
    }, on);
    const taskRef = ran.remote(7);
    const taskPid = await sunray.get(taskRef);

    expect(await sunray.getLog({ actorId: talker.actorId })).toMatch(
      /^:task_name:Talker\.say\nfirst words\n$/m,
    );
    expect(await sunray.getLog({ actorId: talker.actorId, err: true })).toContain('on stderr\n');
    expect(await sunray.getLog({ nodeId: nodeB, pid, tail: 1 })).toBe('first words\n');
    await until(async () => (await sunray.getTask(taskRef.taskId))?.workerPid === taskPid, 10_000);
    expect(await sunray.getLog({ taskId: taskRef.taskId })).toContain('task line 7\n');
    const files = await sunray.listLogs({ nodeId: nodeB });
    expect(files).toEqual(
      expect.arrayContaining([
        { nodeId: nodeB, pid, stream: 'out', size: expect.any(Number), alive: true },
        { nodeId: nodeB, pid, stream: 'err', size: expect.any(Number), alive: true },
      ]),
    );
    await expect(sunray.getLog({ nodeId: nodeB, pid: 1 })).rejects.toBeInstanceOf(sunray.LogNotFoundError);
    await expect(sunray.getLog({ actorId: 'ab'.repeat(16) })).rejects.toMatchObject({
      code: 'SUNRAY_LOG_NOT_FOUND',
    });
    await expect(sunray.getLog({})).rejects.toBeInstanceOf(sunray.InvalidArgumentError);

    const flags = ['--address', cluster.address];
    const byActor = await runNode(CLI, ['logs', ...flags, '--actor', talker.actorId], { env: env() });
    expect(byActor.code, byActor.stderr).toBe(0);
    expect(byActor.stdout).toContain('first words\n');
    const byWorker = await runNode(
      CLI,
      ['logs', ...flags, '--node', nodeB.slice(0, 8), '--worker', String(pid), '--err'],
      {
        env: env(),
      },
    );
    expect(byWorker.stdout).toBe(':task_name:Talker.say\non stderr\n');
    const byTask = await runNode(CLI, ['logs', ...flags, '--task', taskRef.taskId], { env: env() });
    expect(byTask.stdout).toContain('task line 7\n');
    const listed = await runNode(CLI, ['logs', ...flags, '--json'], { env: env() });
    expect(JSON.parse(listed.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ nodeId: nodeB, pid })]),
    );
    const missing = await runNode(CLI, ['logs', ...flags, '--actor', 'cd'.repeat(16)], { env: env() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no actor/);

    // --follow prints what the worker writes from now on.
    let followed = '';
    const follower: ChildProcess = spawn(
      process.execPath,
      [CLI, 'logs', ...flags, '--actor', talker.actorId, '--follow', '--tail', '0'],
      { env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    follower.stdout?.on('data', (d) => {
      followed += d;
    });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(followed).toBe('');
      await sunray.get(talker.say.remote('said later'));
      await until(() => followed.includes('said later\n'), 10_000);
      expect(followed).not.toContain('first words');
    } finally {
      follower.kill('SIGINT');
      await new Promise((r) => follower.once('exit', r));
    }
  });
});
