// The head's directory on disk, so a head killed and started again on the same port
// carries on where it was (as Ray's GCS does with an external store). Each table the
// head keeps registers itself once with persist(name, get, set) and calls changed()
// after each change; saves are debounced and atomic (a fresh 0600 file opened
// O_EXCL|O_NOFOLLOW, fsynced, renamed over the last), in a 0700 directory of the
// private session directory. The file is small versioned JSON:
//   { "version": 1, "token": "...", "savedAt": ms, "tables": { "<name>": <get()> } }
// The token is in it because nodes that outlived the head rejoin with the one they have.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { HeadStateError, SunrayError } from '../base/errors.js';
import { ensureTrustedDir } from '../base/private-dir.js';
import { sessionDir } from '../session/session-dir.js';

/** The format this code writes; a file of a later version is not read (it could be misread). */
export const HEAD_STATE_VERSION = 1;
/** Changes are saved this long after the first one (a burst of changes makes one write). */
export const HEAD_STATE_DEBOUNCE_MS = 100;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The file as saved. */
export interface HeadStateFile {
  version: number;
  /** The cluster token the head ran with. */
  token: string;
  savedAt: number;
  tables: Record<string, unknown>;
}

/** One persisted table: what to save, and how to take a saved state back. */
interface Table {
  get: () => unknown;
  set: (saved: unknown) => void;
}

/** The head's persisted tables (see the file comment); one per head process. */
export class HeadState {
  private readonly tables = new Map<string, Table>();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  /**
   * @param file  the state file (headStateFile(port) for `sunray start --head`)
   * @param token the cluster token, saved with the tables
   * @param log   where failures to save go (once, until a save works again)
   */
  constructor(
    readonly file: string,
    private readonly token: string,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Registers a table under `name` (unique): `get()` answers its state as JSON-able data,
   * `set(saved)` takes back what `get()` answered in the process that saved it (called by
   * load(), before the head serves). Call changed() after each change of the table.
   */
  persist(name: string, get: () => unknown, set: (saved: unknown) => void): void {
    if (this.tables.has(name)) throw new SunrayError(`head state: table '${name}' registered twice`);
    this.tables.set(name, { get, set });
  }

  /** A table changed: it is saved within HEAD_STATE_DEBOUNCE_MS. */
  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save();
    }, HEAD_STATE_DEBOUNCE_MS);
    this.timer.unref();
  }

  /**
   * Gives every registered table its saved state, if the file holds one; answers the names
   * restored (none: no file). A table whose set() throws is logged and left as it was.
   */
  load(): string[] {
    const saved = readHeadState(this.file);
    if (!saved) return [];
    const restored: string[] = [];
    for (const [name, t] of this.tables) {
      if (!(name in saved.tables)) continue;
      try {
        t.set(saved.tables[name]);
        restored.push(name);
      } catch (err) {
        this.log(`head state: could not restore '${name}' from ${this.file}: ${(err as Error).message}`);
      }
    }
    return restored;
  }

  /** Saves now (and cancels a pending save): at shutdown. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.save();
  }

  /** Writes the file atomically; a failure is logged and the head runs on. */
  private save(): void {
    const tables: Record<string, unknown> = {};
    for (const [name, t] of this.tables) tables[name] = t.get();
    const body: HeadStateFile = {
      version: HEAD_STATE_VERSION,
      token: this.token,
      savedAt: Date.now(),
      tables,
    };
    const tmp = `${this.file}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      const fd = openSync(tmp, CREATE, 0o600);
      try {
        writeSync(fd, JSON.stringify(body));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      this.failing = false;
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {}
      if (!this.failing) this.log(`head state: could not save ${this.file}: ${(err as Error).message}`);
      this.failing = true;
    }
  }
}

/**
 * The saved state in `file`, or undefined when there is none. A file that is not ours, is
 * readable by others, is not JSON or is of a later version throws: the head must not start
 * on a state someone else could have written, nor quietly lose one.
 */
export function readHeadState(file: string): HeadStateFile | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HeadStateError(`cannot read the head's saved state ${file}: ${(err as Error).message}`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if ((uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0 || !st.isFile())
      throw new HeadStateError(
        `the head's saved state ${file} is not a private file of this user: remove it`,
      );
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let v: HeadStateFile;
  try {
    v = JSON.parse(text) as HeadStateFile;
  } catch {
    throw new HeadStateError(`the head's saved state ${file} is not JSON: remove it to start a new cluster`);
  }
  if (typeof v !== 'object' || v === null || typeof v.version !== 'number' || typeof v.token !== 'string')
    throw new HeadStateError(`the head's saved state ${file} is not a sunray head state: remove it`);
  if (v.version > HEAD_STATE_VERSION)
    throw new HeadStateError(
      `the head's saved state ${file} is of version ${v.version}, newer than this sunray's ${HEAD_STATE_VERSION}`,
    );
  if (typeof v.tables !== 'object' || v.tables === null) v.tables = {};
  return v;
}

/** The directory of the saved state of the head that listens on `port`, made 0700. */
function headStateDir(port: number): string {
  return ensureTrustedDir(join(sessionDir(), `head-${port}`), {
    what: "the head's state directory",
    hint: 'remove it if you did not make it',
    private: true,
  });
}

/** The state file of the head started by `sunray start --head` on `port` (this user's session). */
export function headStateFile(port: number): string {
  return join(headStateDir(port), 'directory.json');
}

/** Forgets every saved head state of this session (`sunray stop`: the cluster ended). */
export function forgetHeadStates(): void {
  const dir = sessionDir();
  for (const port of savedHeadPorts(dir)) rmSync(join(dir, `head-${port}`), { recursive: true, force: true });
}

function savedHeadPorts(dir: string): number[] {
  try {
    return readdirSync(dir)
      .map((n) => /^head-(\d+)$/.exec(n)?.[1])
      .filter((p): p is string => p !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}
