// Lets `sunray memory` reach a running driver: each driver with an embedded
// node listens on a Unix socket in a per-user directory only that user can
// enter (0700), named by its pid. A client sends one request line ("memory")
// and reads one JSON line back. A request is at most MAX_REQUEST_BYTES and must
// come within REQUEST_TIMEOUT_MS, else the connection is closed: a client must
// not make the driver buffer without limit. The socket is removed on shutdown
// and on exit.
import { chmodSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { sessionDir } from './session-dir.js';

/** <session dir>/sessions: the sunray session directory (private to this user, see cluster/session.ts). */
export function sessionsDir(): string {
  return join(sessionDir(), 'sessions');
}

export function sessionSocketPath(pid: number): string {
  return join(sessionsDir(), `${pid}.sock`);
}

/** The longest request line taken (requests are a word); longer ones close the connection. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** How long a connection may take to send its request line. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface SessionHandlers {
  memory(): Promise<unknown>;
}

export class SessionSocket {
  private readonly path: string;
  private readonly server: Server;
  private readonly onExit = () => this.unlink();

  constructor(handlers: SessionHandlers) {
    const dir = sessionsDir(); // sessionDir() checks the parent is ours and private
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Private: another user must not connect, nor plant sockets for our CLI.
    chmodSync(dir, 0o700);
    this.path = sessionSocketPath(process.pid);
    this.unlink(); // a stale socket of an earlier process with our pid
    liveSessionPids(); // removes those of drivers that were killed (no exit handler ran)
    this.server = createServer((conn) => {
      const chunks: Buffer[] = [];
      let size = 0;
      conn.on('error', () => {});
      conn.setTimeout(REQUEST_TIMEOUT_MS, () => conn.destroy());
      const onData = (chunk: Buffer) => {
        const nl = chunk.indexOf(0x0a);
        if (nl < 0) {
          size += chunk.length;
          if (size > MAX_REQUEST_BYTES)
            conn.destroy(); // no request is this long
          else chunks.push(chunk);
          return;
        }
        if (size + nl > MAX_REQUEST_BYTES) {
          conn.destroy();
          return;
        }
        // One request per connection: anything sent after it closes the connection.
        conn.off('data', onData);
        conn.on('data', () => conn.destroy());
        conn.setTimeout(0);
        chunks.push(chunk.subarray(0, nl));
        const req = Buffer.concat(chunks).toString('utf8').trim();
        const answer =
          req === 'memory'
            ? handlers.memory().then((v) => ({ ok: true, pid: process.pid, value: v }))
            : Promise.resolve({ ok: false, error: `unknown request '${req.slice(0, 100)}'` });
        answer
          .catch((err: Error) => ({ ok: false, error: err.message }))
          .then((v) => conn.end(`${JSON.stringify(v)}\n`));
      };
      conn.on('data', onData);
    });
    this.server.on('error', () => {});
    this.server.listen(this.path);
    this.server.unref();
    process.once('exit', this.onExit);
  }

  close(): void {
    process.removeListener('exit', this.onExit);
    this.server.close();
    this.unlink();
  }

  private unlink(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // not there
    }
  }
}

/**
 * Pids with a session socket that a live driver serves, in order. Sockets of dead drivers
 * are removed (a killed driver runs no exit handler), and so are those whose pid was reused
 * by another process since: nobody listens on them.
 */
export function liveSessionPids(): number[] {
  const dir = sessionsDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: number[] = [];
  let listening: Set<string> | undefined | null = null; // read once, if needed
  for (const n of names) {
    const m = /^(\d+)\.sock$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (processAlive(pid)) {
      if (listening === null) listening = listeningSocketPaths();
      if (!listening || listening.has(join(dir, n))) {
        out.push(pid);
        continue;
      }
    }
    try {
      unlinkSync(join(dir, n));
    } catch {
      // someone else removed it
    }
  }
  return out.sort((a, b) => a - b);
}

/**
 * Paths of the listening unix sockets of this network namespace (/proc/net/unix), or
 * undefined when that cannot be read (then a live pid is taken as a live driver).
 */
function listeningSocketPaths(): Set<string> | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return undefined;
  }
  const out = new Set<string>();
  // Num RefCount Protocol Flags Type St Inode Path; Flags has __SO_ACCEPTCON (0x10000) when listening.
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || (Number.parseInt(f[3] ?? '0', 16) & 0x10000) === 0) continue;
    out.add(f.slice(7).join(' '));
  }
  return out;
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
