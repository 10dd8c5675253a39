// The package as users get it: `npm pack` (whose prepack builds what the
// tarball needs), then installed into an empty
// project. Once with install scripts blocked (npm 12's default), where the
// prebuilt binary shipped in the tarball must be enough; once with scripts
// and no prebuild, where it must compile from source.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
let work: string;
let tarball: string;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      ...env,
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

// What a user would run first: a task through the scheduler, the dashboard's page (its files
// ship in the package), a small search with sunray/tune, and the store API.
const USER_SCRIPT = `
import * as sunray from 'sunray';
import { ObjectStore, ObjectId } from 'sunray/store';
import * as tune from 'sunray/tune';
await sunray.init({ numCpus: 1, objectStoreMemory: 64 * 1024 * 1024, dashboard: { port: 0 } });
const add = sunray.remote((a, b) => a + b);
const sum = await sunray.get(add.remote(5, 10));
const url = sunray.dashboardUrl();
const login = await fetch(url + 'login', {
  method: 'POST', body: new URLSearchParams({ token: sunray.dashboardToken() }), redirect: 'manual',
});
const cookie = login.headers.get('set-cookie').split(';')[0];
const dashboard = [];
for (const path of ['', 'static/app.js', 'static/views/tasks.js', 'api/cluster'])
  dashboard.push((await fetch(url + path, { headers: { cookie } })).status);
const analysis = await tune.run((c) => ({ v: c.a * 2 }), {
  config: { a: tune.gridSearch([1, 2, 3]) }, metric: 'v', mode: 'max', verbose: 0, storagePath: 'results',
});
const best = analysis.bestResult.v;
await sunray.shutdown();
const store = ObjectStore.create({ capacity: 16 * 1024 * 1024 });
const id = ObjectId.random();
store.create(id, 5).set(Buffer.from('hello'));
store.seal(id);
const got = store.tryGet(id);
const text = got.data.toString();
got.release();
store.close();
console.log(JSON.stringify({ sum, best, text, dashboard }));
`;

function makeApp(name: string, allowScripts = false): string {
  const dir = join(work, name);
  mkdirSync(dir);
  // npm 11.19+ blocks dependencies' install scripts unless package.json allows them.
  const pkg = {
    name,
    version: '1.0.0',
    private: true,
    type: 'module',
    ...(allowScripts ? { allowScripts: { sunray: true } } : {}),
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  writeFileSync(join(dir, 'main.mjs'), USER_SCRIPT);
  return dir;
}

let files: string[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sunray-pack-'));
  // No prebuild beforehand: the package's prepack must make (or find) one itself.
  rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
  const out = run('npm', ['pack', '--pack-destination', work, '--json'], root);
  const info = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, info[0]!.filename);
  files = info[0]!.files.map((f) => f.path);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  // prebuildify rebuilt build/ and moved the binary into prebuilds/: put it back where a
  // development checkout loads it from, then remove prebuilds/ (it is not committed).
  const built = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'sunray.node');
  if (existsSync(built)) {
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    copyFileSync(built, join(root, 'build', 'Release', 'sunray.node'));
  }
  rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
});

describe('the packed tarball', () => {
  test('carries the prebuilt binary, the code, and the sources its maps point at', () => {
    expect(
      files.some(
        (f) => f.startsWith(`prebuilds/${process.platform}-${process.arch}/`) && f.endsWith('.node'),
      ),
    ).toBe(true);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('binding.gyp');
    expect(files).toContain('LICENSE');
    // The dashboard's page is served from lib/dashboard/static/ (no build step at install).
    for (const f of ['index.html', 'login.html', 'style.css', 'app.js', 'views.js', 'views/tasks.js'])
      expect(files).toContain(`lib/dashboard/static/${f}`);
    const unpack = join(work, 'maps');
    mkdirSync(unpack);
    run('tar', ['-xzf', tarball, '-C', unpack], work);
    const maps = files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(unpack, 'package', m), 'utf8')) as { sources: string[] };
      for (const src of map.sources) {
        const at = resolve(dirname(join(unpack, 'package', m)), src);
        if (!existsSync(at)) missing.push(`${m} -> ${src}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('installs with install scripts blocked and loads its prebuilt binary', () => {
    const app = makeApp('app-prebuilt');
    run('npm', ['install', '--ignore-scripts', tarball], app);
    const pkg = join(app, 'node_modules', 'sunray');
    // Nothing was compiled: the binary came from the tarball.
    expect(existsSync(join(pkg, 'build'))).toBe(false);
    expect(
      readdirSync(join(pkg, 'prebuilds', `${process.platform}-${process.arch}`)).some((f) =>
        f.endsWith('.node'),
      ),
    ).toBe(true);
    const result = JSON.parse(run(process.execPath, ['main.mjs'], app).trim().split('\n').pop()!);
    expect(result).toEqual({ sum: 15, best: 6, text: 'hello', dashboard: [200, 200, 200, 200] });
  });

  test('without a prebuild, installing with scripts compiles the addon from source', () => {
    // Repack without prebuilds/.
    const unpack = join(work, 'unpacked');
    mkdirSync(unpack);
    run('tar', ['-xzf', tarball, '-C', unpack], work);
    rmSync(join(unpack, 'package', 'prebuilds'), { recursive: true, force: true });
    const bare = join(work, 'sunray-source.tgz');
    run('tar', ['-czf', bare, '-C', unpack, 'package'], work);
    const app = makeApp('app-source', true);
    run('npm', ['install', '--foreground-scripts', bare], app);
    const pkg = join(app, 'node_modules', 'sunray');
    expect(existsSync(join(pkg, 'prebuilds'))).toBe(false);
    expect(existsSync(join(pkg, 'build', 'Release', 'sunray.node'))).toBe(true);
    const result = JSON.parse(run(process.execPath, ['main.mjs'], app).trim().split('\n').pop()!);
    expect(result).toEqual({ sum: 15, best: 6, text: 'hello', dashboard: [200, 200, 200, 200] });
  });
});
