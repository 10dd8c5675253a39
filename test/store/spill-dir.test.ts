// Where spilled objects go, against another user of the machine: the store spills into a
// directory it makes itself (0700, a random name) inside a trusted parent, refuses a
// parent another user could have planted or can write to, writes its files 0600, and
// removes the directory when it closes or sunray shuts down.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as sunray from 'sunray';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnsafeDirectoryError } from '../../lib/base/errors.js';
import { ObjectId, ObjectStore } from '../../lib/store/index.js';

const MIB = 1024 * 1024;
let root: string;
let prevSession: string | undefined;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'sunray-spill-test-'));
  prevSession = process.env.SUNRAY_SESSION_DIR;
  process.env.SUNRAY_SESSION_DIR = join(root, 'session');
});
afterAll(() => {
  if (prevSession === undefined) delete process.env.SUNRAY_SESSION_DIR;
  else process.env.SUNRAY_SESSION_DIR = prevSession;
  rmSync(root, { recursive: true, force: true });
});
afterEach(async () => {
  await sunray.shutdown();
});

function mode(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

/** Fills a 4 MiB store past its size, so primaries spill. */
function overfill(s: ObjectStore): void {
  for (let i = 0; i < 30; i++) {
    const id = ObjectId.random();
    s.create(id, 300_000).fill(i);
    s.seal(id);
  }
  expect(s.stats().spilled).toBeGreaterThan(10);
}

describe('ObjectStore spill directory', () => {
  it('is a fresh 0700 directory in the session directory, its files 0600, gone after close', () => {
    const s = ObjectStore.create({ capacity: 4 * MIB });
    const dir = s.spillDir;
    expect(dirname(dir)).toBe(process.env.SUNRAY_SESSION_DIR);
    expect(dir).toMatch(new RegExp(`/spill-${process.pid}-[0-9a-f]{16}$`));
    expect(mode(dir)).toBe(0o700);
    expect(mode(dirname(dir))).toBe(0o700);
    overfill(s);
    const files = readdirSync(dir);
    expect(files.length).toBe(s.stats().spilledObjects);
    for (const f of files) {
      expect(f).toMatch(/^[0-9a-f]{32}-[0-9a-f]{56}\.\d+\.spill$/);
      expect(lstatSync(join(dir, f)).isFile()).toBe(true);
      expect(mode(join(dir, f))).toBe(0o600);
    }
    s.close();
    expect(existsSync(dir)).toBe(false);
  });

  it('gives every store its own directory, even in one process', () => {
    const a = ObjectStore.create({ capacity: 4 * MIB });
    const b = ObjectStore.create({ capacity: 4 * MIB });
    expect(a.spillDir).not.toBe(b.spillDir);
    a.close();
    b.close();
    expect(existsSync(a.spillDir) || existsSync(b.spillDir)).toBe(false);
  });

  it('removes the directories of dead processes from the session directory', () => {
    const session = process.env.SUNRAY_SESSION_DIR!;
    mkdirSync(session, { recursive: true, mode: 0o700 });
    const stale = join(session, 'spill-999999999-0123456789abcdef');
    mkdirSync(stale, { mode: 0o700 });
    const s = ObjectStore.create({ capacity: 4 * MIB });
    expect(existsSync(stale)).toBe(false);
    s.close();
  });

  it('refuses a directory others can write to, a symbolic link, and a planted session directory', () => {
    const open = join(root, 'world-writable');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => ObjectStore.create({ capacity: 4 * MIB, spillDir: open })).toThrow(UnsafeDirectoryError);
    expect(() => ObjectStore.create({ capacity: 4 * MIB, spillDir: open })).toThrow(
      /the object spilling directory .*world-writable.* can be written by group or others \(mode 0777\)/,
    );
    expect(readdirSync(open)).toEqual([]); // nothing was made in it

    const groupOnly = join(root, 'group-writable');
    mkdirSync(groupOnly);
    chmodSync(groupOnly, 0o770);
    expect(() => ObjectStore.create({ capacity: 4 * MIB, spillDir: groupOnly })).toThrow(
      UnsafeDirectoryError,
    );

    const real = join(root, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = join(root, 'link');
    symlinkSync(real, link);
    expect(() => ObjectStore.create({ capacity: 4 * MIB, spillDir: link })).toThrow(/is a symbolic link/);

    // A level above that others can write to, without the sticky bit, could be swapped.
    const shaky = join(root, 'shaky');
    mkdirSync(join(shaky, 'mine'), { recursive: true });
    chmodSync(shaky, 0o777);
    chmodSync(join(shaky, 'mine'), 0o700);
    const err = (() => {
      try {
        ObjectStore.create({ capacity: 4 * MIB, spillDir: join(shaky, 'mine') });
      } catch (e) {
        return e as UnsafeDirectoryError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect(err!.code).toBe('SUNRAY_UNSAFE_DIRECTORY');
    expect(err!.path).toBe(shaky);

    // The session directory planted with a mode that lets others in.
    const prev = process.env.SUNRAY_SESSION_DIR;
    const planted = join(root, 'planted-session');
    mkdirSync(planted);
    chmodSync(planted, 0o777);
    process.env.SUNRAY_SESSION_DIR = planted;
    try {
      expect(() => ObjectStore.create({ capacity: 4 * MIB })).toThrow(/the sunray session directory/);
    } finally {
      process.env.SUNRAY_SESSION_DIR = prev;
    }
  });

  it('makes its own directory in a directory the user chose, and leaves theirs', () => {
    const mine = join(root, 'chosen');
    mkdirSync(mine, { mode: 0o755 });
    chmodSync(mine, 0o755);
    const s = ObjectStore.create({ capacity: 4 * MIB, spillDir: mine });
    expect(dirname(s.spillDir)).toBe(mine);
    expect(mode(s.spillDir)).toBe(0o700);
    overfill(s);
    s.close();
    expect(readdirSync(mine)).toEqual([]);
    expect(mode(mine)).toBe(0o755);
  });
});

describe('init({ objectSpillingDir })', () => {
  it('refuses a planted directory with UnsafeDirectoryError and stays uninitialized', async () => {
    const open = join(root, 'init-open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await expect(sunray.init({ objectSpillingDir: open, objectStoreMemory: 64 * MIB })).rejects.toMatchObject(
      {
        name: 'UnsafeDirectoryError',
        code: 'SUNRAY_UNSAFE_DIRECTORY',
      },
    );
    expect(sunray.isInitialized()).toBe(false);
  });

  it('spills into a private directory of its own and removes it at shutdown', async () => {
    const chosen = join(root, 'init-chosen');
    mkdirSync(chosen, { mode: 0o700 });
    await sunray.init({ objectSpillingDir: chosen, objectStoreMemory: 64 * MIB, numCpus: 1 });
    const refs = [];
    for (let i = 0; i < 24; i++) refs.push(sunray.put(new Uint8Array(4 * MIB).fill(i)));
    const [dir] = readdirSync(chosen);
    expect(dir).toMatch(/^spill-\d+-[0-9a-f]{16}$/);
    expect(mode(join(chosen, dir!))).toBe(0o700);
    const files = readdirSync(join(chosen, dir!));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(mode(join(chosen, dir!, f))).toBe(0o600);
    expect((await sunray.get(refs[0]!))[5]).toBe(0); // read back from its spill file
    await sunray.shutdown();
    expect(readdirSync(chosen)).toEqual([]);
  });

  it('leaves no spill directory behind by default', async () => {
    await sunray.init({ objectStoreMemory: 64 * MIB, numCpus: 1 });
    await sunray.shutdown();
    const session = process.env.SUNRAY_SESSION_DIR!;
    expect(readdirSync(session).filter((n) => n.startsWith('spill-'))).toEqual([]);
    expect(existsSync(join(tmpdir(), `sunray-spill-${process.pid}`))).toBe(false);
  });
});
