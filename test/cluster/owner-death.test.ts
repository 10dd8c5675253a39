// A driver that dies: refs it owned, borrowed by processes on other nodes,
// fail fast with OwnerDiedError there instead of hanging.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster, type NodeHandle } from 'sunray/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { fixtures, isAlive, repoRoot, until } from '../helpers.js';

let cluster: Cluster;
let node: NodeHandle;

beforeAll(async () => {
  cluster = new Cluster();
  await cluster.addNode({ numCpus: 1 });
  node = await cluster.addNode({ numCpus: 2 });
});

afterAll(async () => {
  await sunray.shutdown();
  await cluster.shutdown();
});

test('a dead driver’s refs held by an actor on another node give OwnerDiedError within seconds', async () => {
  const driver = spawn(
    process.execPath,
    [join(fixtures, 'driver-lends.mjs'), cluster.address, cluster.token, node.nodeId],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lent = await new Promise<{ lent: string; read: number }>((resolve, reject) => {
    let out = '';
    driver.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    let err = '';
    driver.stderr!.on('data', (d) => {
      err += d;
    });
    driver.once('exit', (code) => reject(new Error(`the lending driver exited early (${code}): ${err}`)));
  });
  expect(lent.read).toBe(300_000); // readable while its owner lives

  driver.kill('SIGKILL');
  await until(() => !isAlive(driver.pid!), 5000, 'the driver to be gone');
  const killedAt = Date.now();

  await sunray.init({ address: cluster.address, token: cluster.token });
  const keeper = await sunray.getActor('lender-keeper');
  const err = await (async () => {
    for (;;) {
      try {
        await sunray.get((keeper as any).read.remote());
      } catch (e) {
        return e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  expect(err).toBeInstanceOf(sunray.TaskError);
  expect(String((err as Error).message)).toContain('OwnerDiedError');
  expect(Date.now() - killedAt).toBeLessThan(10_000);
  sunray.kill(keeper);
});
