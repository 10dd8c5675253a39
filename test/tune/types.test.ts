// The types of sunray/tune make mistakes compile errors: a trainable whose config type does
// not accept the search space, a misspelled metric, a result used as the wrong type. tsc runs
// on a fixture and its errors must be exactly the marked lines.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot, typeErrors } from '../helpers.js';

test('search space types flow into the trainable; wrong calls fail to compile', () => {
  const dir = join(repoRoot, 'test', 'tune', 'fixtures');
  const { errors, expected, output } = typeErrors(dir, 'typed-tune.ts');
  expect(expected.length).toBeGreaterThan(8);
  expect(errors.sort(), output).toEqual(expected.sort());
});
