// The seed's example, examples/tune-random-forest, run with node as a user would, on a smaller
// grid: it finds a random forest config whose accuracy on the held-out iris split is >= 0.9.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sunray-tune-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the random forest grid search finds a config with held-out accuracy >= 0.9', async () => {
  const main = join(repoRoot, 'examples', 'tune-random-forest', 'main.mjs');
  const out = await runNode(
    main,
    ['--quick', '--num-cpus', '2', '--storage-path', dir, '--num-samples', '2'],
    {
      timeoutMs: 120_000,
    },
  );
  expect(out.code, out.stderr).toBe(0);
  // Its last lines: analysis.bestConfig, then analysis.bestResult.accuracy.
  const accuracy = Number(out.stdout.trim().split(/\s+/).pop());
  expect(accuracy).toBeGreaterThanOrEqual(0.9);
  expect(out.stdout).toMatch(/nEstimators: (10|50)/);
  expect(out.stdout).toMatch(/8 TERMINATED, 0 ERROR, 0 PENDING of 8/);
  // 2 x 2 configs x numSamples 2, each in its own trial directory.
  const [experiment] = readdirSync(dir);
  const trials = readdirSync(join(dir, experiment!)).filter((d) => d.startsWith('trainRf_'));
  expect(trials).toHaveLength(8);
});
