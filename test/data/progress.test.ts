// Progress while a dataset runs: plain lines per operator (rows, blocks, bytes, elapsed) when
// stderr is not a TTY, redrawn bars on a TTY.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DataContext } from '../../dist/data/context.js';
import { Progress } from '../../dist/data/progress.js';
import { runNode } from '../helpers.js';

describe('progress', () => {
  test('a pipeline writes a line per operator with rows, blocks, bytes and elapsed time', async () => {
    const r = await runNode(join(import.meta.dirname, 'fixtures', 'progress.mjs'), [], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('count 4000');
    expect(r.stderr).toMatch(
      /^sunray\.data ReadRange->MapBatches\(fn\): [\d,]+ rows, \d+(\/\d+)? blocks, [\d.]+ (B|KiB|MiB), [\d.]+ s$/m,
    );
  }, 90_000);

  test('on a TTY, bars are redrawn in place', () => {
    const writes: string[] = [];
    const out = {
      isTTY: true,
      columns: 80,
      write: (s: string) => writes.push(s),
    } as unknown as NodeJS.WriteStream;
    const ctx = new DataContext();
    ctx.progressIntervalMs = 0;
    const stats = [{ name: 'Read', rows: 10, blocks: 1, bytes: 2048 }];
    const p = new Progress(
      ctx,
      () => stats as never,
      () => [4],
      out,
    );
    p.tick();
    stats[0]!.blocks = 4;
    p.end();
    expect(writes[0]).toContain('█████░░░░░░░░░░░░░░░ Read: 10 rows, 1/4 blocks, 2.0 KiB');
    expect(writes[1]?.startsWith(`\x1b[1A\x1b[2K${'█'.repeat(20)} Read: 10 rows, 4/4 blocks`)).toBe(true);
  });
});
