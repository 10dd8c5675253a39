// The types of sunray/tune make mistakes compile errors: a trainable whose config type does
// not accept the search space, a misspelled metric, a result used as the wrong type. tsc runs
// on a fixture and its errors must be exactly the marked lines.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot } from '../helpers.js';

test('search space types flow into the trainable; wrong calls fail to compile', () => {
  const dir = join(repoRoot, 'test', 'tune', 'fixtures');
  const file = join(dir, 'typed-tune.ts');
  let output = '';
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
      encoding: 'utf8',
      cwd: repoRoot,
    });
  } catch (err) {
    output = String((err as { stdout?: string }).stdout ?? '');
  }
  const errors = [...output.matchAll(/typed-tune\.ts\((\d+),\d+\): error (TS\d+)/g)].map(
    (m) => `${m[1]}:${m[2]}`,
  );
  const expected = readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      const m = /\/\/ error (TS\d+)/.exec(line);
      return m ? [`${i + 1}:${m[1]}`] : [];
    });
  expect(expected.length).toBeGreaterThan(8);
  expect(errors.sort(), output).toEqual(expected.sort());
});
