// Checkpoints: a trial's saved state, as a directory of files (Ray's Checkpoint) or a value
// (`fromDict`, stored as one v8-serialized file). A checkpoint travels between the worker that
// made it and the driver, which keeps it in the trial's directory (checkpoint_000003/), as its
// files' bytes: nodes need not share a file system.
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { InvalidArgumentError } from '../index.js';

/** The file a dict checkpoint is stored in. */
export const DICT_FILE = 'dict_checkpoint.v8';

const BRAND = Symbol.for('sunray.tune.checkpoint');

/** A checkpoint's files, as they cross processes: relative path and bytes. */
export interface CheckpointPayload {
  files: [string, Uint8Array][];
}

/** A trial's saved state: a directory of files, or a value (fromDict). */
export class Checkpoint {
  /** The directory holding the checkpoint's files (undefined for one made by fromDict). */
  readonly path: string | undefined;
  private readonly data: { value: unknown } | undefined;

  private constructor(path: string | undefined, data: { value: unknown } | undefined) {
    this.path = path;
    this.data = data;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** A checkpoint of the files in dir (read when it is reported or saved, so dir may change afterwards). */
  static fromDirectory(dir: string): Checkpoint {
    if (typeof dir !== 'string' || dir === '')
      throw new InvalidArgumentError('Checkpoint.fromDirectory() takes a path');
    return new Checkpoint(dir, undefined);
  }

  /** A checkpoint of a value (anything sunray can send: objects, typed arrays, Maps...). */
  static fromDict(value: unknown): Checkpoint {
    return new Checkpoint(undefined, { value });
  }

  /** The value of a checkpoint made by fromDict (also after it was written to a directory and read back). */
  toDict<T = unknown>(): T {
    // Either data or path is set (the constructors give one): no path means a value.
    if (this.data || this.path === undefined) return this.data?.value as T;
    const file = join(this.path, DICT_FILE);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new InvalidArgumentError(
        `checkpoint ${this.path} holds no value (${DICT_FILE} missing): it was made from a directory; read its files at checkpoint.path`,
        { cause: err },
      );
    }
    return deserialize(bytes) as T;
  }

  /**
   * A directory holding the checkpoint's files: its own for a directory checkpoint, else (or
   * with dir given) the files written into dir, by default a new private temporary directory.
   */
  toDirectory(dir?: string): string {
    if (dir === undefined && this.path !== undefined) return this.path;
    const target = dir ?? mkdtempSync(join(tmpdir(), 'sunray-tune-ckpt-'));
    writePayload(target, checkpointPayload(this));
    return target;
  }

  /** 'Checkpoint(<path>)', or 'Checkpoint(dict)' for one held in memory. */
  toString(): string {
    return this.path ? `Checkpoint(${this.path})` : 'Checkpoint(dict)';
  }
}

/** Whether x is a Checkpoint from any copy of this module (the driver and a worker may load it twice). */
export function isCheckpoint(x: unknown): x is Checkpoint {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
}

/** The files of a checkpoint, read now. */
export function checkpointPayload(c: Checkpoint): CheckpointPayload {
  const data = (c as unknown as { data: { value: unknown } | undefined }).data;
  if (data || c.path === undefined) return { files: [[DICT_FILE, serialize(data?.value)]] };
  return { files: readTree(c.path) };
}

/** The regular files under dir (recursively), as relative paths and bytes. Symbolic links are refused. */
export function readTree(dir: string): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const walk = (rel: string): void => {
    const abs = rel ? join(dir, rel) : dir;
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push([r, readFileSync(join(dir, r))]);
      else if (e.isSymbolicLink()) {
        throw new InvalidArgumentError(
          `checkpoint directory ${dir} holds a symbolic link (${r}): copy the file it points to into the checkpoint`,
        );
      }
    }
  };
  try {
    if (!lstatSync(dir).isDirectory()) throw new InvalidArgumentError(`checkpoint ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError(`checkpoint directory ${dir} cannot be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  walk('');
  return out;
}

/** Checks a relative path from a payload stays inside its directory. */
function safeRelative(rel: string): string {
  const parts = rel.split('/');
  if (
    rel === '' ||
    rel.includes('\0') ||
    rel.startsWith('/') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new InvalidArgumentError(
      `refusing checkpoint file name ${JSON.stringify(rel)}: not a plain relative path`,
    );
  }
  return parts.join(sep);
}

/**
 * Writes a payload's files under dir (created 0700 if missing). Each file is created new
 * (O_EXCL, no symbolic links followed): a checkpoint never writes through a link or over a file.
 */
export function writePayload(dir: string, payload: CheckpointPayload): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [rel, bytes] of payload.files) {
    const safe = safeRelative(rel);
    const i = safe.lastIndexOf(sep);
    if (i > 0) mkdirSync(join(dir, safe.slice(0, i)), { recursive: true, mode: 0o700 });
    const fd = openSync(
      join(dir, safe),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    } finally {
      closeSync(fd);
    }
  }
}
