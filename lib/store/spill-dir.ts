// The spill directory of one store arena: a fresh directory the creating process makes
// itself (mode 0700, a random name) inside a trusted parent: the private session
// directory by default, or the directory the user chose (objectSpillingDir), which must
// be theirs and not writable by others (lib/core/private-dir.ts). The native store opens
// its files there with O_EXCL | O_NOFOLLOW; the creator removes the directory on close.
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../base/errors.js';
import { ensureTrustedDir, makeFreshDir, privateSessionDir } from '../base/private-dir.js';

const PREFIX = 'spill';
const NAME = /^spill-(\d+)-[0-9a-f]{16}$/;

/**
 * Makes this process's spill directory inside `parent` (default: the session directory)
 * and returns its path. Throws UnsafeDirectoryError when the parent fails its check.
 */
export function makeSpillDir(parent?: string): string {
  if (parent === undefined) {
    const session = privateSessionDir();
    removeStaleSpillDirs(session);
    return makeFreshDir(session, `${PREFIX}-${process.pid}`);
  }
  return makeFreshDir(checkSpillParent(parent), `${PREFIX}-${process.pid}`);
}

/**
 * Checks (creating it 0700 if missing) a directory the user chose to spill into; returns its
 * absolute path or throws UnsafeDirectoryError. `sunray start` calls it before it starts a daemon.
 */
export function checkSpillParent(parent: string): string {
  return ensureTrustedDir(parent, {
    what: 'the object spilling directory',
    hint: 'give objectSpillingDir (or --object-spilling-dir) a directory of yours that group and others cannot write to, or leave it unset to spill into the private session directory',
    private: false,
  });
}

/**
 * Checks an objectSpillingLimit (`what` names where it came from): a whole number of bytes,
 * 0 meaning no limit. Returns it, or throws InvalidArgumentError.
 */
export function checkSpillLimit(bytes: number, what: string): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new InvalidArgumentError(`${what} is a whole number of bytes >= 0 (0: no limit), got ${bytes}`);
  return bytes;
}

/** Removes a spill directory this process made (with what is left in it). */
export function removeSpillDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort: shutdown goes on
  }
}

/**
 * Spill directories of processes that died without closing their store (SIGKILL) would stay
 * forever: in the session directory, which is this machine's and this user's alone, those of
 * pids that are gone are removed. (Not in a user-chosen directory: it may be shared by machines.)
 */
function removeStaleSpillDirs(session: string): void {
  let names: string[];
  try {
    names = readdirSync(session);
  } catch {
    return;
  }
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const path = join(session, name);
    try {
      if (lstatSync(path).isDirectory()) rmSync(path, { recursive: true, force: true });
    } catch {
      // another process removed it first
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
