// kill -9 of a node: the head declares it dead, its tasks are retried
// elsewhere, its actors restart elsewhere or die, its objects are lost; a new
// node joins in its place.
import * as sunray from 'sunray';
import { Cluster, type NodeHandle } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isAlive, until } from '../helpers.js';

class Tally {
  n = 0;
  bump() {
    return ++this.n;
  }
  node() {
    return process.env.SUNRAY_TEST_NODE ?? '';
  }
}

describe('a node killed with SIGKILL', () => {
  let cluster: Cluster;
  let survivor: NodeHandle;
  let victim: NodeHandle;
  beforeAll(async () => {
    cluster = new Cluster();
    survivor = await cluster.addNode({ numCpus: 3 });
    victim = await cluster.addNode({ numCpus: 4 });
    await sunray.init({ address: cluster.address, token: cluster.token });
  });
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
  });

  test('its tasks retry elsewhere, its actors restart or die, its objects are lost', async () => {
    const onVictim = { schedulingStrategy: { nodeId: victim.nodeId, soft: true } } as const;
    // On the victim it runs until the node is killed (however slow the machine); a retry
    // elsewhere answers at once.
    const slow = sunray.remote(async (victimId: string) => {
      const here = (await import('sunray')).getRuntimeContext().nodeId;
      if (here === victimId) await new Promise(() => setInterval(() => {}, 1000));
      return here;
    });
    const retried = slow.options({ ...onVictim, maxRetries: 1 }).remote(victim.nodeId);
    const notRetried = slow.options({ ...onVictim, maxRetries: 0 }).remote(victim.nodeId);
    const restartable = sunray.remote(Tally, { ...onVictim, maxRestarts: 1 }).remote();
    const mortal = sunray.remote(Tally, { ...onVictim, maxRestarts: 0 }).remote();
    expect(await sunray.get([restartable.bump.remote(), mortal.bump.remote()])).toEqual([1, 1]);
    // An object owned by a worker of the victim node, borrowed by the driver.
    const maker = sunray.remote(
      async () => {
        const s = await import('sunray');
        return { ref: s.put(Buffer.alloc(200_000, 3)) };
      },
      { ...onVictim, maxRetries: 0 },
    );
    const box = await sunray.get(maker.remote());
    await new Promise((r) => setTimeout(r, 800)); // the slow tasks are running now (or queued there)

    const killedAt = Date.now();
    victim.process.kill('SIGKILL');
    await until(
      async () => (await cluster.nodeTable()).some((n) => n.nodeId === victim.nodeId && !n.alive),
      5000,
      'the head to declare the node dead',
    );
    expect(Date.now() - killedAt).toBeLessThan(2000 + 1000);

    expect(await sunray.get(retried)).toBe(survivor.nodeId);
    await expect(sunray.get(notRetried)).rejects.toThrow(sunray.WorkerCrashedError);
    // The restarted actor starts afresh on the surviving node.
    expect(await sunray.get(restartable.bump.remote())).toBe(1);
    await expect(sunray.get(mortal.bump.remote())).rejects.toThrow(sunray.ActorDiedError);
    // Its owner (a worker of the victim) died with the node.
    await expect(sunray.get(box.ref)).rejects.toThrow(sunray.OwnerDiedError);
    await until(() => !isAlive(victim.pid), 5000, 'the victim process to be gone');
  });

  test('a new node joins and takes work', async () => {
    const fresh = await cluster.addNode({ numCpus: 1, resources: { fresh: 1 } });
    const f = sunray.remote(async () => (await import('sunray')).getRuntimeContext().nodeId, {
      resources: { fresh: 1 },
    });
    expect(await sunray.get(f.remote())).toBe(fresh.nodeId);
  });
});
