// The handle types make mistakes compile errors: a misspelled method, a wrong
// argument type, a result used as the wrong type. tsc runs on a fixture and
// its errors must be exactly the marked lines.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot, typeErrors } from '../helpers.js';

test('wrong calls to remote functions and actor methods fail to compile; results are typed', () => {
  const dir = join(repoRoot, 'test', 'types', 'fixtures');
  const { errors, expected } = typeErrors(dir, 'typed-handles.ts');
  expect(expected.length).toBeGreaterThan(5);
  expect(errors.sort()).toEqual(expected.sort());
});

test('`await using` takes what init() returns, `using` an ObjectStore; asCompleted yields typed refs', () => {
  const dir = join(repoRoot, 'test', 'types', 'fixtures');
  const { errors, expected, output } = typeErrors(dir, 'disposable.ts');
  expect(expected.length).toBe(2);
  expect(errors.sort(), output).toEqual(expected.sort());
});

test("a call's concurrencyGroup must be one its actor class declared, or it fails to compile", () => {
  const dir = join(repoRoot, 'test', 'types', 'fixtures');
  const { errors, expected, output } = typeErrors(dir, 'concurrency-groups.ts');
  expect(expected.length).toBe(3);
  expect(errors.sort(), output).toEqual(expected.sort());
});

test('remote() of a generator gives a typed ObjectRefGenerator of what it yields', () => {
  const dir = join(repoRoot, 'test', 'types', 'fixtures');
  const { errors, expected, output } = typeErrors(dir, 'generators.ts');
  expect(expected.length).toBe(5);
  expect(errors.sort(), output).toEqual(expected.sort());
});
