// Runtime envs' deciding parts without processes: checking what a program gives, Ray's merge
// rule, the canonical text specs carry, the archive of a working directory (deterministic,
// checked when unpacked, refusing paths that leave it), and the worker pool keyed by env.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  InvalidArgumentError,
  RuntimeEnvSetupError,
  RuntimeEnvTooLargeError,
} from '../../lib/base/errors.js';
import { WorkerPool } from '../../lib/node/worker-pool.js';
import { packDirectory, unpackArchive } from '../../lib/protocol/package-archive.js';
import {
  checkRuntimeEnv,
  effectiveEnvText,
  mergeRuntimeEnv,
  npmDependenciesKey,
  parseRuntimeEnvText,
  runtimeEnvText,
} from '../../lib/protocol/runtime-env.js';
import { packageOf } from '../../lib/worker/package-fallback.js';
import { FakeSpawner, type FakeWorker } from './node/fakes.js';

let scratch = '';
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sunray-renv-unit-'));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('runtime env values', () => {
  test('bad input is refused with InvalidArgumentError naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      ['x', /must be an object/],
      [{ envVar: {} }, /no field 'envVar'/],
      [{ envVars: { A: 1 } }, /envVars\['A'\] must be a string/],
      [{ envVars: { 'A=B': 'x' } }, /invalid variable name/],
      [{ envVars: { SUNRAY_WORKER_CONFIG: 'x' } }, /may not set SUNRAY_WORKER_CONFIG/],
      [{ workingDir: '' }, /workingDir must be the path/],
      [{ npmDependencies: { 'Bad Name': '1' } }, /not an npm package name/],
      [{ npmDependencies: { 'is-number': '7 || --x' } }, /must be a version or range/],
    ];
    for (const [env, msg] of bad) {
      expect(() => checkRuntimeEnv(env, 'test()')).toThrow(InvalidArgumentError);
      expect(() => checkRuntimeEnv(env, 'test()')).toThrow(msg);
    }
    expect(checkRuntimeEnv({ npmDependencies: { '@scope/pkg': '^1.2.3' } }, 'test()')).toBeTruthy();
  });

  test("a task's fields replace the job's; envVars merge name by name, the task's winning", () => {
    const job = { envVars: { A: 'job', B: 'job' }, npmDependencies: { x: '1' } };
    const task = { envVars: { B: 'task', C: 'task' } };
    expect(mergeRuntimeEnv(job, task)).toEqual({
      envVars: { A: 'job', B: 'task', C: 'task' },
      npmDependencies: { x: '1' },
    });
    expect(mergeRuntimeEnv(job, { npmDependencies: { y: '2' } }).npmDependencies).toEqual({ y: '2' });
    const jobText = runtimeEnvText(job);
    expect(effectiveEnvText('', jobText)).toBe(jobText);
    expect(effectiveEnvText(jobText, '')).toBe(jobText);
    expect(parseRuntimeEnvText(effectiveEnvText(runtimeEnvText(task), jobText))).toEqual(
      mergeRuntimeEnv(job, task),
    );
  });

  test('the text is canonical: equal envs give equal strings; the empty env is the empty string', () => {
    const a = runtimeEnvText({ envVars: { B: '2', A: '1' }, npmDependencies: { y: '1', x: '2' } });
    const b = runtimeEnvText({ npmDependencies: { x: '2', y: '1' }, envVars: { A: '1', B: '2' } });
    expect(a).toBe(b);
    expect(runtimeEnvText({})).toBe('');
    expect(runtimeEnvText({ envVars: {} })).toBe('');
    expect(npmDependenciesKey({ a: '1', b: '2' })).toBe(npmDependenciesKey({ b: '2', a: '1' }));
    const wd = { hash: 'a'.repeat(64), source: '/p' };
    expect(parseRuntimeEnvText(runtimeEnvText({ workingDir: wd }))).toEqual({ workingDir: wd });
    expect(() => parseRuntimeEnvText('{"workingDir":{"hash":"../x","source":"/p"}}')).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('working directory archives', () => {
  const tree = (root: string) => {
    mkdirSync(join(root, 'sub', '.git'), { recursive: true });
    writeFileSync(join(root, 'a.mjs'), 'export const a = 1;\n');
    writeFileSync(join(root, 'sub', 'b.txt'), 'b\n');
    writeFileSync(join(root, 'sub', '.git', 'HEAD'), 'left out\n');
    writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  };

  test('the same files give the same hash, whatever their times; a changed byte another', () => {
    const [one, two] = [join(scratch, 'one'), join(scratch, 'two')];
    tree(one);
    tree(two);
    utimesSync(join(two, 'a.mjs'), 1000, 1000);
    const p1 = packDirectory(one);
    const p2 = packDirectory(two);
    expect(p1.hash).toBe(p2.hash);
    expect(p1.gz.equals(p2.gz)).toBe(true);
    expect([p1.files, p1.skipped]).toEqual([3, []]);
    writeFileSync(join(two, 'sub', 'b.txt'), 'c\n');
    expect(packDirectory(two).hash).not.toBe(p1.hash);
  });

  test('unpacked once into <parent>/<hash>, files private, executables kept executable', () => {
    const src = join(scratch, 'src');
    tree(src);
    const packed = packDirectory(src);
    const parent = join(scratch, 'cache');
    mkdirSync(parent, { mode: 0o700 });
    const dir = unpackArchive(packed.gz, packed.hash, parent);
    expect(dir).toBe(join(parent, packed.hash));
    expect(readFileSync(join(dir, 'sub', 'b.txt'), 'utf8')).toBe('b\n');
    expect(statSync(join(dir, 'a.mjs')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'run.sh')).mode & 0o777).toBe(0o700);
    expect(() => statSync(join(dir, 'sub', '.git'))).toThrow();
    expect(unpackArchive(packed.gz, packed.hash, parent)).toBe(dir); // once
  });

  test('an archive that is not what its hash says, or whose paths leave it, is refused', () => {
    const parent = join(scratch, 'cache');
    mkdirSync(parent, { mode: 0o700 });
    const src = join(scratch, 'src');
    tree(src);
    const packed = packDirectory(src);
    expect(() => unpackArchive(packed.gz, 'b'.repeat(64), parent)).toThrow(RuntimeEnvSetupError);
    // A hand-made archive whose one path climbs out of the directory.
    const magic = Buffer.from('SUNRAYPKG1\n');
    const path = Buffer.from('../escaped.txt');
    const head = Buffer.alloc(4 + path.length + 1 + 8);
    let at = head.writeUInt32LE(path.length, 0);
    at += path.copy(head, at);
    at = head.writeUInt8(0, at);
    head.writeBigUInt64LE(2n, at);
    const raw = Buffer.concat([magic, head, Buffer.from('x\n')]);
    const hash = createHash('sha256').update(raw).digest('hex');
    expect(() => unpackArchive(gzipSync(raw), hash, parent)).toThrow(
      /malformed \(path '\.\.\/escaped\.txt'\)/,
    );
    expect(() => statSync(join(scratch, 'escaped.txt'))).toThrow();
  });

  test('a .zip is read as the directory it holds: the same files give the same hash as the directory', () => {
    const src = join(scratch, 'src');
    tree(src);
    const fromDir = packDirectory(src);
    // `zip -r src.zip src/`: one top-level directory, deflated and stored entries, a link.
    const zip = makeZip([
      { name: 'src/', data: Buffer.alloc(0), mode: 0o40755 },
      { name: 'src/a.mjs', data: Buffer.from('export const a = 1;\n'), mode: 0o100644, deflate: true },
      { name: 'src/run.sh', data: Buffer.from('#!/bin/sh\n'), mode: 0o100755 },
      { name: 'src/sub/b.txt', data: Buffer.from('b\n'), mode: 0o100644, deflate: true },
      { name: 'src/link', data: Buffer.from('a.mjs'), mode: 0o120777 },
    ]);
    writeFileSync(join(scratch, 'src.zip'), zip);
    const fromZip = packDirectory(join(scratch, 'src.zip'));
    expect(fromZip.hash).toBe(fromDir.hash);
    expect(fromZip.skipped).toEqual(['src/link']);
    writeFileSync(join(scratch, 'bad.zip'), 'not a zip at all');
    expect(() => packDirectory(join(scratch, 'bad.zip'))).toThrow(/cannot be read as a zip/);
    const evil = makeZip([
      { name: 'ok.txt', data: Buffer.from('x'), mode: 0o100644 },
      { name: '../evil.txt', data: Buffer.from('x'), mode: 0o100644 },
    ]);
    writeFileSync(join(scratch, 'evil.zip'), evil);
    expect(() => packDirectory(join(scratch, 'evil.zip'))).toThrow(/cannot be shipped/);
  });

  test('a directory over the limit is refused with RuntimeEnvTooLargeError saying what to do', () => {
    const src = join(scratch, 'big');
    mkdirSync(src);
    writeFileSync(join(src, 'data.bin'), Buffer.alloc(4096));
    expect(() => packDirectory(src, 1000)).toThrow(RuntimeEnvTooLargeError);
    expect(() => packDirectory(src, 1000)).toThrow(/npmDependencies rather than shipping node_modules/);
    expect(() => packDirectory(join(scratch, 'none'))).toThrow(InvalidArgumentError);
  });
});

describe('which imports an env without a working directory takes from its packages', () => {
  test('the package a bare specifier names; paths and URLs name none', () => {
    expect(packageOf('is-number')).toBe('is-number');
    expect(packageOf('lodash/fp/map')).toBe('lodash');
    expect(packageOf('@scope/pkg/sub/x.js')).toBe('@scope/pkg');
    for (const s of ['./x.mjs', '../x', '/abs/x', 'node:fs', 'file:///x.mjs'])
      expect(packageOf(s)).toBeUndefined();
  });
});

describe('the worker pool keyed by env', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = (maxWorkers = 10) => {
    const spawner = new FakeSpawner();
    const pool: WorkerPool<FakeWorker> = new WorkerPool(
      spawner,
      { numCpus: 1, idleWorkerTimeoutMs: 1000, maxWorkers },
      {
        started: () => {},
        exited: (w) => pool.forget(w),
        mayStartAgain: () => {},
        hasWork: () => true,
      },
    );
    return { pool, spawner };
  };

  test('an idle worker serves only work of its own env; env workers are reaped whatever their number', () => {
    const { pool } = setup();
    const plain = pool.spawn();
    const a = pool.spawn('envA');
    for (const w of [plain, a]) pool.ready(w.index, undefined);
    expect(pool.takeIdle('envB')).toBeUndefined();
    expect(pool.takeIdle('envA')).toBe(a);
    expect(pool.takeIdle()).toBe(plain);
    expect(pool.hostWarm('ab'.repeat(16), 'envB')).toBeUndefined();
    vi.advanceTimersByTime(2500);
    // One idle worker per CPU is kept: the plain one; the env's goes.
    expect([plain.state, a.state]).toEqual(['idle', 'dead']);
    pool.close();
  });

  test('at the cap, work of one env stops the longest idle worker of another to make room', () => {
    const { pool } = setup(2);
    const a1 = pool.spawn('envA');
    const a2 = pool.spawn('envA');
    pool.ready(a1.index, undefined);
    vi.advanceTimersByTime(10);
    pool.ready(a2.index, undefined);
    expect(pool.mayStart('envB')).toBe(false);
    expect([a1.state, a2.state]).toEqual(['dead', 'idle']);
    a1.exit(0);
    expect(pool.mayStart('envB')).toBe(true);
    pool.close();
  });
});

/** A zip of these entries (stored, or deflated), with unix modes, as `zip` writes them. */
function makeZip(entries: Array<{ name: string; data: Buffer; mode: number; deflate?: boolean }>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(e.deflate ? 8 : 0, 10);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE((e.mode << 16) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    central.push(cd, name);
    offset += local.length + name.length + body.length;
  }
  const cdBytes = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBytes, eocd]);
}
