// `sunray memory`: what keeps objects alive in the running sunray programs of
// this user, like `ray memory`. It asks each live driver over its session
// socket (lib/runtime/ownership/session-socket.ts); the driver gathers the
// rows of its own process and of every worker and actor of its node.
import { connect } from 'node:net';
import { liveSessionPids, sessionSocketPath, sessionsDir } from '../session/session-socket.js';
import type { MemoryRow } from '../worker/ownership/summary.js';
import { type Flags, parseFlags, stringFlag, UsageError, usage, type VerbSpec } from './args.js';

/** The flags of `sunray memory`. */
export const SPEC: VerbSpec = {
  name: 'memory',
  summary:
    "Lists the objects of running sunray drivers on this machine (by default all of this user's), grouped by owner, with why each is alive.",
  flags: {
    pid: { type: 'string', value: 'PID', help: 'ask only the driver with this pid' },
    json: { type: 'boolean', help: 'print JSON instead of tables' },
    timeout: { type: 'string', value: 'MS', help: 'how long to wait for each driver (default 5000)' },
  },
  details: `Why an object is alive:
  local      a handle (ObjectRef) in the owner's own code
  submitted  an argument of a task the owner submitted that has not finished
  borrowed   a ref another process received (row from that process)
  pinned     kept only for borrowers or objects that contain it
  spilled    its value was spilled to disk
  pending    its task has not finished`,
};

interface Report {
  rows: MemoryRow[];
  store: { capacity: number; used: number; objects: number; spilledObjects: number } | null;
  workers: number;
  workersAnswered: number;
}

function positiveWhole(f: Flags, name: string): number | undefined {
  const v = stringFlag(f, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${name} needs a positive whole number, got '${v}'`);
  return n;
}

export async function memoryCommand(argv: string[]): Promise<number> {
  const f = parseFlags(SPEC, argv);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const pid = positiveWhole(f, 'pid');
  const timeoutMs = positiveWhole(f, 'timeout') ?? 5000;
  const json = f.json === true;
  const pids = pid !== undefined ? [pid] : liveSessionPids();
  if (pids.length === 0) {
    console.error(
      `sunray memory: no running sunray driver of this user found (looked in ${sessionsDir()}); ` +
        'start one with sunray.init(), or give --pid',
    );
    return 1;
  }
  const results: Array<{ pid: number; report: Report }> = [];
  let failed = 0;
  for (const p of pids) {
    try {
      results.push({ pid: p, report: await query(p, timeoutMs) });
    } catch (err) {
      failed++;
      console.error(`sunray memory: driver ${p}: ${(err as Error).message}`);
    }
  }
  if (json) console.log(JSON.stringify(results, null, 2));
  else for (const r of results) console.log(render(r.pid, r.report));
  return failed > 0 && results.length === 0 ? 1 : 0;
}

function query(pid: number, timeoutMs: number): Promise<Report> {
  return new Promise((resolve, reject) => {
    const sock = connect(sessionSocketPath(pid));
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (is it busy in synchronous code?)`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write('memory\n'));
    sock.on('data', (d: string) => {
      buf += d;
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to ${sessionSocketPath(pid)}: ${err.message}`));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        const msg = JSON.parse(buf) as { ok: boolean; value?: Report; error?: string };
        if (msg.ok && msg.value) resolve(msg.value);
        else reject(new Error(msg.error ?? 'empty answer'));
      } catch {
        reject(new Error('the driver sent an answer that is not JSON'));
      }
    });
  });
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function render(pid: number, r: Report): string {
  const lines: string[] = [];
  lines.push(`=== sunray driver pid ${pid} ===`);
  if (r.store) {
    lines.push(
      `object store: ${bytes(r.store.used)} used of ${bytes(r.store.capacity)}, ${r.store.objects} object(s), ` +
        `${r.store.spilledObjects} spilled`,
    );
  }
  if (r.workersAnswered < r.workers) {
    lines.push(`(${r.workers - r.workersAnswered} of ${r.workers} worker(s) did not answer in time)`);
  }
  const byOwner = new Map<string, MemoryRow[]>();
  for (const row of r.rows) {
    let list = byOwner.get(row.owner);
    if (!list) byOwner.set(row.owner, (list = []));
    list.push(row);
  }
  const kinds = new Map<string, { n: number; size: number }>();
  for (const [owner, rows] of byOwner) {
    const ownerPid = rows.find((x) => x.kind !== 'borrowed')?.pid;
    lines.push('');
    lines.push(
      `--- owner ${owner}${ownerPid !== undefined ? ` (pid ${ownerPid})` : ' (not answering: dead or busy)'} ---`,
    );
    lines.push(
      `${'PID'.padEnd(8)}${'KIND'.padEnd(11)}${'SIZE'.padStart(11)}  ${'STATE'.padEnd(9)}OBJECT ID  CALL SITE`,
    );
    for (const row of rows) {
      const k = kinds.get(row.kind) ?? { n: 0, size: 0 };
      k.n++;
      k.size += row.size;
      kinds.set(row.kind, k);
      lines.push(
        `${String(row.pid).padEnd(8)}${row.kind.padEnd(11)}${bytes(row.size).padStart(11)}  ${row.state.padEnd(9)}` +
          `${row.id}  ${row.callSite || '(call sites off: init({ recordCallSites: true }))'}`,
      );
    }
  }
  lines.push('');
  lines.push(
    `totals: ${r.rows.length} ref(s); ${[...kinds].map(([k, v]) => `${k} ${v.n} (${bytes(v.size)})`).join(', ') || 'none'}`,
  );
  return lines.join('\n');
}
