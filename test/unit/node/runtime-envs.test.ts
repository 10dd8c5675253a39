// A node's runtime envs without a cluster or npm: an env's setup starts on the first ask and
// answers 'pending' until it is done (then the node is told), working directories come from
// this process or the cluster's store and are unpacked once per hash, a failure is answered
// once and tried again after, and the cache goes when the node closes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RuntimeEnvSetupError } from '../../../lib/base/errors.js';
import { RuntimeEnvs } from '../../../lib/node/runtime-envs.js';
import { packDirectory } from '../../../lib/protocol/package-archive.js';
import { runtimeEnvText } from '../../../lib/protocol/runtime-env.js';
import { until } from '../../helpers.js';

let scratch = '';
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sunray-envs-unit-'));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function packed(name: string, text: string) {
  const dir = join(scratch, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'file.txt'), text);
  return { dir, ...packDirectory(dir) };
}

describe('runtime envs of a node', () => {
  test('pending until set up, then ready; a working directory is fetched and unpacked once per hash', async () => {
    const p = packed('wd', 'hello');
    const fetched: string[] = [];
    let changes = 0;
    const envs = new RuntimeEnvs(
      'ab'.repeat(16),
      async (hash) => {
        fetched.push(hash);
        return hash === p.hash ? p.gz : undefined;
      },
      () => changes++,
    );
    const a = runtimeEnvText({ workingDir: { hash: p.hash, source: p.dir }, envVars: { A: '1' } });
    const b = runtimeEnvText({ workingDir: { hash: p.hash, source: p.dir }, envVars: { A: '2' } });
    expect(envs.state(a)).toBe('pending');
    expect(envs.state(a)).toBe('pending'); // one setup, however often asked
    await until(() => envs.state(a) === 'ready');
    expect(changes).toBe(1);
    const ready = envs.prepared(a);
    expect(ready).toMatchObject({ envVars: { A: '1' }, source: p.dir, packages: undefined });
    expect(readFileSync(join(ready?.cwd ?? '', 'file.txt'), 'utf8')).toBe('hello');
    // Another env with the same directory: the same copy (fetched again, unpacked once).
    const other = await envs.prepare(b);
    expect(other.cwd).toBe(ready?.cwd);
    expect(fetched).toEqual([p.hash, p.hash]);
    const root = dirname(dirname(ready?.cwd ?? ''));
    expect(existsSync(join(root, 'node_modules', 'sunray', 'package.json'))).toBe(true);
    envs.close();
    expect(existsSync(root)).toBe(false);
  });

  test('an archive of this process is used without fetching; one nowhere fails once, then is tried again', async () => {
    const p = packed('local', 'local');
    let fetches = 0;
    const envs = new RuntimeEnvs(
      'cd'.repeat(16),
      async () => {
        fetches++;
        return undefined;
      },
      () => {},
    );
    envs.addPackage(p.hash, p.gz);
    expect(envs.hasPackage(p.hash)).toBe(true);
    await envs.prepare(runtimeEnvText({ workingDir: { hash: p.hash, source: p.dir } }));
    expect(fetches).toBe(0);
    const missing = runtimeEnvText({ workingDir: { hash: 'e'.repeat(64), source: '/x' } });
    expect(envs.state(missing)).toBe('pending');
    let answer: ReturnType<RuntimeEnvs['state']> = 'pending';
    await until(() => (answer = envs.state(missing)) !== 'pending');
    expect(answer).toBeInstanceOf(RuntimeEnvSetupError);
    expect((answer as unknown as Error).message).toMatch(/not in the cluster's package store/);
    expect(envs.state(missing)).toBe('pending'); // forgotten: tried again
    envs.close();
  });
});
