// A worker killed mid-pipeline: its task is retried, and the output (read back from the files
// the pipeline wrote) holds every row exactly once.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import * as data from 'sunray/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

describe('sunray/data when a worker dies', () => {
  let dir: string;
  beforeAll(async () => {
    data.DataContext.getCurrent().progress = 'off';
    dir = mkdtempSync(join(tmpdir(), 'sunray-data-fail-'));
    await sunray.init({ numCpus: 2 });
  });
  afterAll(async () => {
    await sunray.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a worker killed mid-pipeline is retried; the output is complete and not duplicated', async () => {
    const N = 5000;
    const marker = join(dir, 'killed');
    const out = join(dir, 'out');
    // The marker's path travels in the rows: data functions are shipped as source.
    const rows = Array.from({ length: N }, (_, id) => ({ id, marker }));
    await data
      .fromItems(rows, { parallelism: 10 })
      .map(async (r) => {
        if (r.id === 2500) {
          const fs = await import('node:fs');
          if (!fs.existsSync(r.marker)) {
            fs.writeFileSync(r.marker, String(process.pid));
            process.kill(process.pid, 'SIGKILL');
          }
        }
        return { id: r.id, twice: r.id * 2 };
      })
      .writeJson(out);
    const killed = Number(readFileSync(marker, 'utf8'));
    expect(killed).toBeGreaterThan(0);
    expect(killed).not.toBe(process.pid);
    const got = readdirSync(out)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as { id: number; twice: number });
    expect(got.length).toBe(N);
    expect(got.map((r) => r.id).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(got.every((r) => r.twice === r.id * 2)).toBe(true);
    // No temporary files left by the killed attempt are visible as output.
    expect(readdirSync(out).filter((f) => !f.endsWith('.json') && !f.startsWith('.'))).toEqual([]);
  }, 120_000);
});
