// The API reference (`npm run docs`, typedoc.json): it builds with no warning, so every export of
// the package's entry points has its JSDoc and every type it refers to is documented or known to
// be internal. And the check bites: the same options on a file with an undocumented export fail.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../helpers.js';

const typedoc = join(repoRoot, 'node_modules', 'typedoc', 'bin', 'typedoc');
const work = mkdtempSync(join(tmpdir(), 'sunray-docs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(options: string, args: string[]): { code: number | null; output: string } {
  const r = spawnSync(process.execPath, [typedoc, '--options', options, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    timeout: 240_000,
  });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('the typedoc API reference', () => {
  test('builds for every entry point with no warnings', () => {
    const out = join(work, 'api');
    const r = run(join(repoRoot, 'typedoc.json'), ['--out', out]);
    expect(r.output).not.toMatch(/\[warning\]|\[error\]/);
    expect(r.code, r.output).toBe(0);
    // One page per entry point of package.json's exports.
    expect(readdirSync(join(out, 'modules')).sort()).toEqual([
      'sunray.html',
      'sunray_data.html',
      'sunray_job.html',
      'sunray_metrics.html',
      'sunray_serve.html',
      'sunray_store.html',
      'sunray_testing.html',
      'sunray_tune.html',
    ]);
  }, 300_000);

  test('fails on an export without JSDoc', () => {
    const dir = join(work, 'bad');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'bad.ts'),
      '/** Documented. */\nexport function good(): void {}\nexport function bare(): void {}\n',
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, types: [] }, files: ['bad.ts'] }),
    );
    // The project's options, on this file instead of the package's entry points.
    writeFileSync(
      join(dir, 'typedoc.json'),
      JSON.stringify({
        extends: [join(repoRoot, 'typedoc.json')],
        entryPoints: ['bad.ts'],
        tsconfig: 'tsconfig.json',
        out: 'out',
        intentionallyNotExported: [],
      }),
    );
    const r = run(join(dir, 'typedoc.json'), []);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/bare.*does not have any documentation/);
    expect(r.output).not.toMatch(/good.*does not have any documentation/);
  }, 120_000);
});
