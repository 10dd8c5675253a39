// The experiment on disk, in Ray's layout: storagePath/name/ holds tuner.json (the settings,
// to restore), experiment_state.jsonl (a journal of trials created, checkpointed and ended:
// appended line by line, so a driver killed at any moment leaves an exact record), and one
// directory per trial with params.json, result.json (JSON lines), progress.csv, error.txt and
// checkpoint_NNNNNN/ directories. Directories are created 0700, files O_EXCL|O_NOFOLLOW.
// Journal lines and result lines are kept in memory until flush(): the controller writes them
// after the turn's calls to the trial actors have gone out, so an actor never waits on a disk
// write to start its next trial (creating a file on a busy ext4 disk took up to ~1 ms here).
import {
  closeSync,
  constants,
  cpSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UnsafeDirectoryError } from '../index.js';
import { type CheckpointPayload, readTree, writePayload } from './checkpoint.js';
import { TuneError } from './errors.js';
import type { TrialResult } from './result.js';
import { flatten } from './variants.js';

/** Where experiments go by default: ~/sunray_results (Ray: ~/ray_results). */
export function defaultStoragePath(): string {
  return join(homedir(), 'sunray_results');
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW;

function writeAll(fd: number, s: string): void {
  const b = Buffer.from(s);
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

/** Writes a new file (never through a link, never over a file). */
export function writeNewFile(path: string, text: string): void {
  const fd = openSync(path, CREATE, 0o600);
  try {
    writeAll(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Replaces a file atomically: a new temporary file renamed over it. */
export function replaceFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  writeNewFile(tmp, text);
  renameSync(tmp, path);
}

/** Checks a directory we will keep results in: ours, not a link, not writable by others. */
function checkPrivateDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? -1;
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new UnsafeDirectoryError(
      `experiment directory ${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
      dir,
    );
  }
  if (uid >= 0 && st.uid !== uid) {
    throw new UnsafeDirectoryError(
      `experiment directory ${dir} belongs to another user (uid ${st.uid})`,
      dir,
    );
  }
  if (st.mode & 0o022) {
    throw new UnsafeDirectoryError(
      `experiment directory ${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}): chmod 700 it`,
      dir,
    );
  }
}

/** Checks the storage root: a directory that others cannot rename our directories in (0700-ish, or sticky like /tmp). */
function checkRoot(root: string): void {
  const st = statSync(root);
  if (!st.isDirectory()) throw new UnsafeDirectoryError(`storagePath ${root} is not a directory`, root);
  if (st.mode & 0o022 && !(st.mode & 0o1000)) {
    throw new UnsafeDirectoryError(
      `storagePath ${root} is writable by group or others without the sticky bit: another user could swap ` +
        'experiment directories in it; use a private directory',
      root,
    );
  }
}

/** One line of experiment_state.jsonl. */
export type JournalEvent =
  | { e: 'trial'; id: string; index: number; config: unknown; dir: string }
  | { e: 'ckpt'; id: string; name: string; iteration: number; timeTotal: number }
  | { e: 'ckpt-del'; id: string; name: string }
  | { e: 'config'; id: string; config: unknown }
  | { e: 'status'; id: string; status: string; failures: number; error?: string }
  | { e: 'resume'; at: string }
  | { e: 'done'; at: string };

/** An experiment's directory. */
export class ExperimentStorage {
  /** storagePath/name. */
  readonly path: string;
  private journalFd: number | undefined;
  /** Journal lines logged since the last flush. */
  private journal = '';

  private constructor(path: string) {
    this.path = path;
  }

  /** A new experiment directory (refused if it exists: pass resume, or another name). */
  static create(storagePath: string, name: string): ExperimentStorage {
    const root = resolve(storagePath);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    checkRoot(root);
    const path = join(root, name);
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new TuneError(
          `experiment directory ${path} exists: pass resume: 'AUTO' (tune.run) or use Tuner.restore() to continue it, or give another name`,
        );
      }
      throw err;
    }
    checkPrivateDir(path);
    const s = new ExperimentStorage(path);
    s.journalFd = openSync(join(path, 'experiment_state.jsonl'), CREATE, 0o600);
    return s;
  }

  /** An existing experiment directory, to restore (checked as private). */
  static open(path: string): ExperimentStorage {
    const abs = resolve(path);
    if (!existsSync(join(abs, 'tuner.json'))) {
      throw new TuneError(
        `${abs} is not a sunray/tune experiment directory (no tuner.json): nothing to restore`,
      );
    }
    checkPrivateDir(abs);
    const s = new ExperimentStorage(abs);
    s.journalFd = openAppend(join(abs, 'experiment_state.jsonl'));
    return s;
  }

  /** Whether path holds an experiment that Tuner.restore can continue. */
  static exists(path: string): boolean {
    return existsSync(join(resolve(path), 'tuner.json'));
  }

  writeSettings(settings: unknown): void {
    writeNewFile(join(this.path, 'tuner.json'), `${JSON.stringify(settings, null, 2)}\n`);
  }

  readSettings(): unknown {
    return JSON.parse(readFileSync(join(this.path, 'tuner.json'), 'utf8'));
  }

  /** Adds a journal line, written by the next flush() (or close()). */
  log(ev: JournalEvent): void {
    if (this.journalFd !== undefined) this.journal += `${JSON.stringify(ev)}\n`;
  }

  /** Appends the lines logged since the last flush (one write: a killed driver tears at most the last). */
  flush(): void {
    if (this.journal === '' || this.journalFd === undefined) return;
    const text = this.journal;
    this.journal = '';
    writeAll(this.journalFd, text);
  }

  /** The journal's events, a torn last line left out. */
  readJournal(): JournalEvent[] {
    const text = readFileSync(join(this.path, 'experiment_state.jsonl'), 'utf8');
    const out: JournalEvent[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        // a line cut by a kill: the event did not happen
      }
    }
    return out;
  }

  /**
   * A new trial directory (0700). One that is there already was left by a driver killed after
   * making it and before its trial's journal line was flushed (a turn after the trial's call
   * went out), so nothing it holds counts: it is replaced. It is inside our own checked
   * directory, so it is ours.
   */
  makeTrialDir(dirName: string): string {
    const dir = join(this.path, dirName);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { mode: 0o700 });
    }
    return dir;
  }

  /**
   * Stores a checkpoint's files as trialDir/name, complete or not at all: written under a
   * temporary name, then renamed.
   */
  saveCheckpoint(trialDir: string, name: string, payload: CheckpointPayload): string {
    const final = join(trialDir, name);
    const tmp = join(trialDir, `.${name}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    writePayload(tmp, payload);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    return final;
  }

  /** Copies a checkpoint directory (PBT's exploit: the donor's checkpoint into this trial's directory). */
  copyCheckpoint(from: string, trialDir: string, name: string): string {
    const final = join(trialDir, name);
    const tmp = join(trialDir, `.${name}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    cpSync(from, tmp, { recursive: true, verbatimSymlinks: true });
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    return final;
  }

  /** A checkpoint's files, to send to the actor restoring from it. */
  readCheckpoint(path: string): CheckpointPayload {
    return { files: readTree(path) };
  }

  close(): void {
    this.flush();
    if (this.journalFd !== undefined) closeSync(this.journalFd);
    this.journalFd = undefined;
  }
}

/** Opens a file to append to; a line cut by a killed driver is ended first, so the next one stands alone. */
function openAppend(path: string): number {
  const fd = openSync(path, APPEND);
  const size = fstatSync(fd).size;
  if (size > 0) {
    const last = Buffer.alloc(1);
    const rfd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      readSync(rfd, last, 0, 1, size - 1);
    } finally {
      closeSync(rfd);
    }
    if (last[0] !== 0x0a) writeAll(fd, '\n');
  }
  return fd;
}

/** CSV field: quoted when it holds a comma, quote or line break. */
function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A trial's result files: params.json, result.json (JSON lines) and progress.csv (header from
 * the first result). What is written stays in memory until flush() (or close()).
 */
export class TrialLogger {
  /** result.json's and progress.csv's descriptors, once the first result opened them. */
  private fds: { json: number; csv: number } | undefined;
  private header: string[] | undefined;
  private params: string | undefined;
  /** Results written since the last flush. */
  private results: Record<string, unknown>[] = [];

  /** fresh: a new trial's directory, where no result file exists yet (saves the checks). */
  constructor(
    readonly dir: string,
    private readonly fresh = false,
  ) {}

  /** Writes params.json (the trial's config). */
  writeParams(config: unknown): void {
    this.params = `${JSON.stringify(config, null, 2)}\n`;
  }

  private open(): { json: number; csv: number } {
    const json = join(this.dir, 'result.json');
    const csv = join(this.dir, 'progress.csv');
    if (this.fresh) {
      this.fds = { json: openSync(json, CREATE, 0o600), csv: openSync(csv, CREATE, 0o600) };
      return this.fds;
    }
    const jsonFd = existsSync(json) ? openAppend(json) : openSync(json, CREATE, 0o600);
    let csvFd: number;
    if (existsSync(csv)) {
      const first = readFileSync(csv, 'utf8').split('\n', 1)[0] ?? '';
      this.header = first ? first.split(',') : undefined;
      csvFd = openAppend(csv);
    } else csvFd = openSync(csv, CREATE, 0o600);
    this.fds = { json: jsonFd, csv: csvFd };
    return this.fds;
  }

  /** Appends a result to result.json and progress.csv. */
  write(result: Record<string, unknown>): void {
    this.results.push(result);
  }

  /** Writes what was written since the last flush. */
  flush(): void {
    if (this.params !== undefined) {
      writeNewFile(join(this.dir, 'params.json'), this.params);
      this.params = undefined;
    }
    if (this.results.length === 0) return;
    const fds = this.fds ?? this.open();
    let json = '';
    let csv = '';
    for (const result of this.results) {
      json += `${JSON.stringify(result)}\n`;
      const flat = flatten(result);
      if (!this.header) {
        this.header = Object.keys(flat);
        csv += `${this.header.map(csvField).join(',')}\n`;
      }
      csv += `${this.header.map((k) => csvField(flat[k])).join(',')}\n`;
    }
    this.results = [];
    writeAll(fds.json, json);
    writeAll(fds.csv, csv);
  }

  /** Writes error.txt (the last error, with its stack). */
  writeError(text: string): void {
    const p = join(this.dir, 'error.txt');
    rmSync(p, { force: true });
    writeNewFile(p, `${text}\n`);
  }

  close(): void {
    this.flush();
    if (this.fds) {
      closeSync(this.fds.json);
      closeSync(this.fds.csv);
    }
    this.fds = undefined;
  }
}

/** Every result a trial wrote to result.json (a torn last line left out). */
export function readResults(trialDir: string): TrialResult[] {
  let text: string;
  try {
    text = readFileSync(join(trialDir, 'result.json'), 'utf8');
  } catch {
    return [];
  }
  const out: TrialResult[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // cut by a kill
    }
  }
  return out;
}
