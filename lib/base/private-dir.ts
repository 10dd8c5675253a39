// Directories only this user can change. sunray keeps its cluster token, node records,
// sockets and spilled objects in them, so another local user must not be able to plant
// one in advance, swap a level of its path for a symbolic link, or write into it.
//
// A directory is trusted when it and every level above it is a real directory that
// belongs to root or to us and that others cannot write into; a level others may write
// into needs the sticky bit, as /tmp has (others may add entries there, but not rename
// or remove ours). Levels created here are made 0700, and levels above created ones
// need no check. The store uses this as well as the cluster code, so it imports nothing
// of either.
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, realpathSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, parse, resolve, sep } from 'node:path';
import { UnsafeDirectoryError } from './errors.js';

/** How ensureTrustedDir treats the directory it was given. */
export interface TrustedDirOptions {
  /** Names the directory in errors, e.g. 'the session directory'. */
  what: string;
  /** What the user can do about a refusal, appended to the message. */
  hint: string;
  /**
   * true: the directory must end up 0700 (sunray's own: a mode that only lets group/others
   * read is tightened, since nobody else could have written in it). false: it must be ours
   * and not writable by group or others, and its mode is left alone (a directory the user chose).
   */
  private: boolean;
}

function myUid(): number {
  return process.getuid?.() ?? -1;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/**
 * Makes sure `path` is a directory only this user can change: creates missing levels with
 * mode 0700 and checks every level it did not create (see the file comment). Returns the
 * absolute path; throws UnsafeDirectoryError, naming the level at fault, otherwise.
 */
export function ensureTrustedDir(path: string, opts: TrustedDirOptions): string {
  const abs = resolve(path);
  const fail = (level: string, why: string): never => {
    throw new UnsafeDirectoryError(
      `${opts.what} ${abs} is not safe to use: ${level} ${why}; ${opts.hint}`,
      level,
    );
  };
  const parts = abs.split(sep).filter((p) => p.length > 0);
  let cur = parse(abs).root;
  checkChain(cur, fail);
  let created = false;
  for (const [i, part] of parts.entries()) {
    const next = join(cur, part);
    const last = i === parts.length - 1;
    if (!created) {
      let st = tryLstat(next);
      if (!st && makePrivateDir(next)) created = true;
      else {
        st ??= lstatSync(next); // someone made it between our look and our mkdir: check it
        if (st.isSymbolicLink()) {
          if (last) fail(next, 'is a symbolic link');
          // The link sits in a level checked above, so only its owner (root or us) can change it;
          // where it points is checked level by level.
          if (!trustedOwner(st.uid)) fail(next, `is a symbolic link that belongs to user ${st.uid}`);
          cur = realpathSync(next);
          checkChain(cur, fail);
          continue;
        }
        checkLevel(next, st, last, opts, fail);
      }
    } else makePrivateDir(next);
    cur = next;
  }
  return abs;
}

/**
 * Creates a fresh directory `<parent>/<prefix>-<16 random hex digits>` with mode 0700 and
 * returns its path; parent must be trusted (ensureTrustedDir). mkdir fails rather than
 * reuse anything that is already there.
 */
export function makeFreshDir(parent: string, prefix: string): string {
  const dir = join(parent, `${prefix}-${randomBytes(8).toString('hex')}`);
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700); // the umask may have taken bits away, never added any; be exact
  return dir;
}

/**
 * The per-user session directory: $SUNRAY_SESSION_DIR, or <tmp>/sunray-<uid>. Created 0700
 * and checked on every call (it holds the cluster token and the sockets of running drivers).
 */
export function privateSessionDir(): string {
  const dir = process.env.SUNRAY_SESSION_DIR ?? join(tmpdir(), `sunray-${process.getuid?.() ?? 'user'}`);
  return ensureTrustedDir(dir, {
    what: 'the sunray session directory',
    hint: 'remove it if you did not make it, or set SUNRAY_SESSION_DIR to a directory only you can write to',
    private: true,
  });
}

function tryLstat(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** mkdir with mode 0700; false if the path exists already. */
function makePrivateDir(path: string): boolean {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  chmodSync(path, 0o700);
  return true;
}

function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === myUid();
}

/** Checks every level of a path without symbolic links (a realpath), as levels above ours. */
function checkChain(real: string, fail: (level: string, why: string) => never): void {
  let cur = parse(real).root;
  const levels = [cur];
  for (const p of real.split(sep).filter((x) => x.length > 0)) {
    cur = join(cur, p);
    levels.push(cur);
  }
  for (const level of levels) {
    const st = lstatSync(level);
    if (st.isSymbolicLink()) fail(level, 'was replaced by a symbolic link while it was checked');
    checkAbove(level, st, fail);
  }
}

function checkAbove(level: string, st: Stats, fail: (level: string, why: string) => never): void {
  if (!st.isDirectory()) fail(level, 'is not a directory');
  if (!trustedOwner(st.uid)) fail(level, `belongs to user ${st.uid}`);
  if (st.mode & 0o022 && !(st.mode & 0o1000))
    fail(level, `can be written by group or others (mode ${octal(st.mode)}) and has no sticky bit`);
}

function checkLevel(
  level: string,
  st: Stats,
  last: boolean,
  opts: TrustedDirOptions,
  fail: (level: string, why: string) => never,
): void {
  if (!last) {
    checkAbove(level, st, fail);
    return;
  }
  if (!st.isDirectory()) fail(level, 'is not a directory');
  if (st.uid !== myUid()) fail(level, `belongs to user ${st.uid}, not to this user (${myUid()})`);
  if (st.mode & 0o022) fail(level, `can be written by group or others (mode ${octal(st.mode)})`);
  if (opts.private && st.mode & 0o077) chmodSync(level, 0o700);
}
