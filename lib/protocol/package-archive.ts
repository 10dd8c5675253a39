// A working directory as one deterministic archive: its regular files, sorted by path, each
// with its bytes and whether it is executable (no times, owners or modes beyond that), then
// gzipped. The same files give the same bytes, so the sha256 of the (uncompressed) archive
// names its contents: a directory is uploaded into the cluster once however often it is
// used, and a node unpacks each hash once. Unpacking trusts nothing in the archive: the
// hash is checked first, every path must stay inside the new directory, files are created
// O_EXCL|O_NOFOLLOW in a fresh private directory that is renamed into place when complete.
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { InvalidArgumentError, RuntimeEnvSetupError, RuntimeEnvTooLargeError } from '../base/errors.js';
import { makeFreshDir } from '../base/private-dir.js';
import { type ZipFile, zipEntries } from './zip-entries.js';

/** The most bytes of files one working directory may hold (Ray's limit is of this order too). */
export const MAX_WORKING_DIR_BYTES = 100 * 1024 * 1024;
/** Directories never packed. */
const SKIPPED = new Set(['.git']);
const MAGIC = Buffer.from('SUNRAYPKG1\n');

/** A packed directory: its content hash, the gzipped archive, and what it holds. */
export interface PackedArchive {
  /** sha256 (hex) of the uncompressed archive: names its contents. */
  hash: string;
  /** The archive, gzipped: what is uploaded. */
  gz: Buffer;
  /** Regular files packed. */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** Symbolic links and other non-regular entries left out (their paths, relative). */
  skipped: string[];
}

interface Entry {
  path: string;
  abs: string;
  executable: boolean;
  size: number;
}

/**
 * Packs the regular files under dir (symbolic links are left out), or those of a .zip file
 * (zip-entries.ts); RuntimeEnvTooLargeError past maxBytes.
 */
export function packDirectory(dir: string, maxBytes = MAX_WORKING_DIR_BYTES): PackedArchive {
  const root = resolve(dir);
  const st = statOrUndefined(root);
  if (st?.isFile() && root.endsWith('.zip')) {
    const { files, skipped } = zipEntries(root, maxBytes);
    return archiveOf(files, skipped);
  }
  if (!st?.isDirectory()) {
    throw new InvalidArgumentError(
      `runtimeEnv.workingDir '${dir}' is not a directory or a .zip (resolved: ${root})`,
    );
  }
  const entries: Entry[] = [];
  const skipped: string[] = [];
  let bytes = 0;
  const walk = (absDir: string, rel: string): void => {
    for (const name of readdirSync(absDir).sort()) {
      const abs = join(absDir, name);
      const path = rel === '' ? name : `${rel}/${name}`;
      const s = lstatSync(abs);
      if (s.isDirectory()) {
        if (!SKIPPED.has(name)) walk(abs, path);
      } else if (s.isFile()) {
        bytes += s.size;
        if (bytes > maxBytes) {
          throw new RuntimeEnvTooLargeError(
            `runtimeEnv.workingDir '${dir}' holds more than ${maxBytes} bytes of files (at ${path}): ` +
              'leave large data out of it (put it in the object store, or read it from shared storage), and ' +
              'list packages in runtimeEnv.npmDependencies rather than shipping node_modules',
          );
        }
        entries.push({ path, abs, executable: (s.mode & 0o100) !== 0, size: s.size });
      } else skipped.push(path);
    }
  };
  walk(root, '');
  const files = entries.map((e) => ({ path: e.path, data: readFileSync(e.abs), executable: e.executable }));
  return archiveOf(files, skipped);
}

/** The archive of these files: sorted by path, each with its bytes and whether it is executable. */
function archiveOf(files: ZipFile[], skipped: string[]): PackedArchive {
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [MAGIC];
  let bytes = 0;
  for (const e of files) {
    const { data } = e;
    if (e.path.split('/').some((p) => p === '' || p === '.' || p === '..') || e.path.includes('\\')) {
      throw new InvalidArgumentError(
        `runtimeEnv.workingDir holds a file whose path cannot be shipped ('..', '.', '\\' or empty parts): '${e.path}'`,
      );
    }
    bytes += data.length;
    const path = Buffer.from(e.path, 'utf8');
    const head = Buffer.alloc(4 + path.length + 1 + 8);
    let at = head.writeUInt32LE(path.length, 0);
    at += path.copy(head, at);
    at = head.writeUInt8(e.executable ? 1 : 0, at);
    head.writeBigUInt64LE(BigInt(data.length), at);
    parts.push(head, data);
  }
  const raw = Buffer.concat(parts);
  return {
    hash: createHash('sha256').update(raw).digest('hex'),
    gz: gzipSync(raw, { level: 6 }),
    files: files.length,
    bytes,
    skipped,
  };
}

/**
 * Unpacks an archive whose hash must be `hash` into `<parent>/<hash>` (made once: an
 * existing one is the same contents) and returns that directory. parent must be a trusted
 * private directory. RuntimeEnvSetupError when the archive is not what its hash says.
 */
export function unpackArchive(
  gz: Buffer,
  hash: string,
  parent: string,
  maxBytes = MAX_WORKING_DIR_BYTES,
): string {
  const final = join(parent, hash);
  if (existsSync(final)) return final;
  let raw: Buffer;
  try {
    raw = gunzipSync(gz, { maxOutputLength: maxBytes + 64 * 1024 * 1024 });
  } catch (err) {
    throw new RuntimeEnvSetupError(
      `the working directory ${hash.slice(0, 12)} could not be read: ${(err as Error).message}`,
    );
  }
  if (createHash('sha256').update(raw).digest('hex') !== hash) {
    throw new RuntimeEnvSetupError(
      `the working directory ${hash.slice(0, 12)} does not match its hash: refused`,
    );
  }
  const tmp = makeFreshDir(parent, 'unpacking');
  try {
    writeEntries(raw, tmp, hash);
    try {
      renameSync(tmp, final);
    } catch (err) {
      // Another unpacking of the same hash won the race: its copy is the same.
      if (!existsSync(final)) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return final;
}

function writeEntries(raw: Buffer, into: string, hash: string): void {
  const bad = (why: string) =>
    new RuntimeEnvSetupError(`the working directory ${hash.slice(0, 12)} is malformed (${why}): refused`);
  if (raw.length < MAGIC.length || !raw.subarray(0, MAGIC.length).equals(MAGIC))
    throw bad('not a sunray package');
  let at = MAGIC.length;
  while (at < raw.length) {
    if (at + 4 > raw.length) throw bad('truncated');
    const len = raw.readUInt32LE(at);
    at += 4;
    if (at + len + 9 > raw.length) throw bad('truncated');
    const path = raw.toString('utf8', at, at + len);
    at += len;
    const executable = raw[at] === 1;
    at += 1;
    const size = Number(raw.readBigUInt64LE(at));
    at += 8;
    if (at + size > raw.length) throw bad('truncated');
    const parts = path.split('/');
    if (
      path.includes('\0') ||
      path.includes('\\') ||
      parts.some((p) => p === '' || p === '.' || p === '..')
    ) {
      throw bad(`path '${path}'`);
    }
    const dest = join(into, ...parts);
    if (!dest.startsWith(into + sep)) throw bad(`path '${path}'`);
    // Every directory below `into` is made here, by us: none can be a planted link.
    if (parts.length > 1) mkdirSync(join(into, ...parts.slice(0, -1)), { recursive: true, mode: 0o700 });
    const fd = openSync(
      dest,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      executable ? 0o700 : 0o600,
    );
    try {
      let off = 0;
      while (off < size) off += writeSync(fd, raw, at + off, size - off);
    } finally {
      closeSync(fd);
    }
    at += size;
  }
}

/** The directory itself may be reached through a link (its contents' links are left out). */
function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Archives this process packed, by hash: its driver uploads each into the cluster once (node/env-publisher.ts). */
const packedHere = new Map<string, Buffer>();

/** Keeps an archive this process packed until its driver uploads it. */
export function rememberPacked(hash: string, gz: Buffer): void {
  packedHere.set(hash, gz);
}

/** An archive this process packed (undefined: it did not: an env it inherited, uploaded by another). */
export function packedArchive(hash: string): Buffer | undefined {
  return packedHere.get(hash);
}

/** The content hash of a gzipped archive someone uploaded (RuntimeEnvSetupError if it is none). */
export function archiveHash(gz: Buffer, maxBytes = MAX_WORKING_DIR_BYTES): string {
  let raw: Buffer;
  try {
    raw = gunzipSync(gz, { maxOutputLength: maxBytes + 64 * 1024 * 1024 });
  } catch (err) {
    throw new RuntimeEnvSetupError(
      `an uploaded working directory could not be read: ${(err as Error).message}`,
    );
  }
  if (raw.length < MAGIC.length || !raw.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new RuntimeEnvSetupError(
      'an uploaded working directory is not a sunray package (packWorkingDir makes one)',
    );
  }
  return createHash('sha256').update(raw).digest('hex');
}
