// The serve example runs as a user runs it: a model behind HTTP, its class shipped by source
// with `serve.batch` in it, and concurrent requests reach the model in batches.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

test('examples/serve-model: a batched model behind an HTTP endpoint', async () => {
  const r = await runNode(join(repoRoot, 'examples', 'serve-model', 'model.mjs'), ['--demo'], {
    timeoutMs: 90_000,
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^0\.9\d\d {2}a great and lovely day$/m);
  expect(r.stdout).toMatch(/^0\.0\d\d {2}terrible, awful service$/m);
  const sizes = JSON.parse(/batch sizes the model saw: (\[.*\])/.exec(r.stdout)![1]!) as number[];
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(16);
  expect(Math.max(...sizes)).toBeGreaterThan(1); // requests that came together went as one batch
  expect(Math.max(...sizes)).toBeLessThanOrEqual(8); // maxBatchSize
});
