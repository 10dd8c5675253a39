// The per-user session directory of the nodes started on this machine by
// `sunray start`: the cluster token (mode 0600, for init({ address: 'auto' })
// and `sunray status`), the head's address, and one file per daemon with its
// pid, so `sunray stop` can stop them.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { privateSessionDir } from '../base/private-dir.js';

export interface DaemonRecord {
  pid: number;
  nodeId: string;
  address: string;
  head: boolean;
  log: string;
  /** When its process started (/proc/<pid>/stat): a later process that reuses the pid is not it. */
  started?: string;
  /** host:port of its /metrics endpoint, when it serves one (`--metrics-port`). */
  metricsAddress?: string;
  /** host:port of its dashboard, when it serves one (`--dashboard-port`). */
  dashboardAddress?: string;
}

/** When process `pid` started (clock ticks since boot, /proc/<pid>/stat), or undefined if it is gone. */
export function processStarted(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses); starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the daemon of a record still runs: its pid is alive and is the same process. */
export function daemonRunning(d: DaemonRecord): boolean {
  const started = processStarted(d.pid);
  return started !== undefined && (d.started === undefined || started === d.started);
}

/**
 * /tmp/sunray-<uid> (or $SUNRAY_SESSION_DIR), private to this user: created 0700, or checked
 * level by level (lib/core/private-dir.ts); an UnsafeDirectoryError if another user could change it.
 */
export function sessionDir(): string {
  const dir = privateSessionDir();
  mkdirSync(join(dir, 'nodes'), { mode: 0o700, recursive: true });
  return dir;
}

export function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode on write
}

/** Paths of TLS files (lib/cluster/tls.ts's TlsFiles). */
export interface SessionTlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** Records the local head: its address, the token (0600) and the paths of its TLS files, if any. */
export function saveHead(address: string, token: string, tls?: SessionTlsFiles): void {
  const dir = sessionDir();
  writeSecret(join(dir, 'token'), `${token}\n`);
  writeFileSync(join(dir, 'head_address'), `${address}\n`);
  if (tls) writeFileSync(join(dir, 'head_tls.json'), JSON.stringify(tls), { mode: 0o600 });
  else rmSync(join(dir, 'head_tls.json'), { force: true });
}

/**
 * The head address and token recorded by `sunray start` on this machine, if any, with the
 * paths of the TLS files it was started with (the local CLI and drivers use them too).
 */
export function loadHead(): { address: string; token: string; tls?: SessionTlsFiles } | undefined {
  const dir = sessionDir();
  try {
    const head = {
      address: readFileSync(join(dir, 'head_address'), 'utf8').trim(),
      token: readFileSync(join(dir, 'token'), 'utf8').trim(),
    };
    let tls: SessionTlsFiles | undefined;
    try {
      tls = JSON.parse(readFileSync(join(dir, 'head_tls.json'), 'utf8')) as SessionTlsFiles;
    } catch {
      tls = undefined;
    }
    return tls ? { ...head, tls } : head;
  } catch {
    return undefined;
  }
}

export function recordDaemon(rec: DaemonRecord): void {
  const started = rec.started ?? processStarted(rec.pid);
  const full = started === undefined ? rec : { ...rec, started };
  writeFileSync(join(sessionDir(), 'nodes', `${rec.pid}.json`), JSON.stringify(full));
}

export function daemons(): DaemonRecord[] {
  const dir = join(sessionDir(), 'nodes');
  const out: DaemonRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as DaemonRecord);
    } catch {
      // half-written: skip
    }
  }
  return out;
}

export function forgetDaemon(pid: number): void {
  rmSync(join(sessionDir(), 'nodes', `${pid}.json`), { force: true });
}

export function clearHead(): void {
  const dir = sessionDir();
  rmSync(join(dir, 'head_address'), { force: true });
  rmSync(join(dir, 'token'), { force: true });
  rmSync(join(dir, 'head_tls.json'), { force: true });
}
