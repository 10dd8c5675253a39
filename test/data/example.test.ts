// examples/data/pipeline.mjs runs as a user would run it, and prints what the README says.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

describe('the sunray/data example', () => {
  test('reads CSV, labels in an actor pool, aggregates, writes and reads back Parquet', async () => {
    const r = await runNode(join(repoRoot, 'examples', 'data', 'pipeline.mjs'), [], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hot: Bool');
    expect(r.stdout).toMatch(/city: 'Oslo', 'mean\(temp\)': 17\.4/);
    // 100,000 rows, temp in -5..34 by i % 40: those above 0 are 34 of every 40.
    expect(r.stdout).toContain('rows written: 85000 hot: 22500');
    expect(r.stdout).toContain('MapBatches(Labeler)');
  }, 150_000);
});
