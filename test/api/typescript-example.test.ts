// examples/typescript as a user builds and runs it: its own tsconfig type-checks it against the
// package's published types (`import * as sunray from 'sunray'`), tsc emits it, and node runs
// the output, whose printed lines are the results of its tasks, actor, ActorPool and streaming generator.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { repoRoot, runNode } from '../helpers.js';

const dir = join(repoRoot, 'examples', 'typescript');
afterAll(() => rmSync(join(dir, 'dist'), { recursive: true, force: true }));

test('the TypeScript example compiles with its tsconfig and prints its results', async () => {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  // Throws with tsc's diagnostics in the message if the example does not type-check.
  execFileSync(process.execPath, [tsc, '-p', dir], { cwd: repoRoot, encoding: 'utf8' });
  const r = await runNode(join(dir, 'dist', 'main.js'), [], { timeoutMs: 120_000 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n')).toEqual([
    'squares: 1 4 9 16',
    'sum of squares: 30',
    'counter: 7',
    'pool map: 10 20 30 40 50',
    'streamed: VALUES AS THEY COME',
  ]);
}, 150_000);
