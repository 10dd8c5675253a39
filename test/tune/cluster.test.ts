// Trials on a two-node cluster: they spread over the nodes by their resources, and checkpoints
// made on a node travel to the driver's experiment directory and back to wherever a failed
// trial is retried.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import { Cluster } from 'sunray/testing';
import * as tune from 'sunray/tune';
import { afterAll, beforeAll, expect, test } from 'vitest';

let cluster: Cluster;
const dir = mkdtempSync(join(tmpdir(), 'sunray-tune-cluster-'));
beforeAll(async () => {
  cluster = new Cluster();
  await cluster.addNode({ numCpus: 1 });
  await cluster.addNode({ numCpus: 1 });
  await sunray.init({ address: cluster.address, token: cluster.token });
});
afterAll(async () => {
  await sunray.shutdown();
  await cluster.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('trials run on both nodes; a directory checkpoint follows a trial retried after its worker died', async () => {
  async function onNodes(config: { x: number }) {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const restored = tune.getCheckpoint();
    let step = restored ? Number(fs.readFileSync(path.join(restored.path!, 'step.txt'), 'utf8')) : 0;
    while (step < 3) {
      step++;
      await new Promise((r) => setTimeout(r, 150));
      const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sunray-tune-ck-'));
      fs.writeFileSync(path.join(d, 'step.txt'), String(step));
      await tune.report({ step, x: config.x }, { checkpoint: tune.Checkpoint.fromDirectory(d) });
      fs.rmSync(d, { recursive: true, force: true });
      if (config.x === 1 && step === 2 && !restored) process.exit(1);
    }
  }
  const analysis = await tune.run(onNodes, {
    config: { x: tune.gridSearch([1, 2, 3, 4]) },
    metric: 'step',
    mode: 'max',
    maxFailures: 1,
    storagePath: dir,
    verbose: 0,
  });
  expect(analysis.trials.every((t) => t.status === 'TERMINATED')).toBe(true);
  const nodesUsed = new Set(
    analysis.trials.flatMap((t) => analysis.trialResults(t).map((r) => r.node_id as string)),
  );
  // One CPU per node and one per trial: the two slots are one on each node.
  expect(nodesUsed).toEqual(new Set(cluster.nodes.map((n) => n.nodeId)));
  const crashed = analysis.trials.find((t) => t.config.x === 1)!;
  expect(crashed.numFailures).toBe(1);
  expect(analysis.trialResults(crashed).map((r) => r.step)).toEqual([1, 2, 3]);
  expect(analysis.trialResults(crashed).map((r) => r.training_iteration)).toEqual([1, 2, 3]);
  // The checkpoints live in the driver's experiment directory.
  for (const t of analysis.trials) {
    const ckpts = readdirSync(t.path).filter((f) => f.startsWith('checkpoint_'));
    expect(ckpts.length).toBe(3);
    expect(existsSync(join(t.path, ckpts[2]!, 'step.txt'))).toBe(true);
  }
});
