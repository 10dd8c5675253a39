// The dashboard's HTTP server (lib/dashboard/server.ts) and JSON API (api.ts) over a fake
// source (no node, no processes): without a session only the login page and its
// stylesheet answer, the API says 401; logins are checked for Origin and Host and limited;
// every answer carries the security headers; the API filters tasks and finds one by id,
// lists log files and reads one (a tail, or from an offset), refusing bad parameters.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DashboardSource } from '../../lib/dashboard/api.js';
import { DashboardServer } from '../../lib/dashboard/server.js';
import type { LogFileRow, LogRead } from '../../lib/protocol/log-lines.js';
import type { NodeUsageRow } from '../../lib/protocol/state-rows.js';
import { newTaskRow, type TaskStateRow } from '../../lib/protocol/task-events.js';

const TOKEN = 'the-right-token-0123456789abcdef';

function task(taskId: string, name: string, state: TaskStateRow['state'], t: number): TaskStateRow {
  const row: TaskStateRow = { ...newTaskRow(taskId), name, state, creationTimeMs: t, nodeId: 'n1' };
  if (state === 'FINISHED' || state === 'FAILED') {
    Object.assign(row, { startTimeMs: t + 1, endTimeMs: t + 2, workerPid: 42 });
  }
  if (state === 'FAILED')
    Object.assign(row, { errorType: 'RangeError', errorMessage: 'no', errorStack: 'at f' });
  return row;
}

const TASKS = [
  task('aa01', 'square', 'FINISHED', 1),
  task('aa02', 'square', 'FAILED', 2),
  task('aa03', 'Counter.incr', 'FINISHED', 3),
  task('aa04', 'cube', 'RUNNING', 4),
];

const usage: NodeUsageRow = {
  nodeId: 'n1',
  timeMs: 1,
  resourcesTotal: { CPU: 2 },
  resourcesAvailable: { CPU: 1 },
  store: { capacity: 100, used: 10, objects: 1, pinned: 0, spilledObjects: 0, spilledBytes: 0 },
  tasksEnded: 3,
  tasksFailed: 1,
  tasksNow: { RUNNING: 1 },
  workers: { IDLE: 1 },
  cpus: 2,
  load1: 0.5,
  memTotal: 1000,
  memAvailable: 500,
};

const NODE_A = 'a1'.repeat(16);
const NODE_B = 'b2'.repeat(16);
const LOG_FILES: LogFileRow[] = [
  { nodeId: NODE_A, pid: 41, stream: 'out', size: 29, alive: true },
  { nodeId: NODE_A, pid: 41, stream: 'err', size: 0, alive: true },
  { nodeId: NODE_B, pid: 52, stream: 'out', size: 12, alive: false },
];
/** Worker 41's stdout on node A: 3 lines. */
const LOG_TEXT = 'line one\nline two\nline three\n';
/** The reads the source was asked for. */
const reads: LogRead[] = [];

/** Answers as a node would, tasks filtered by id when asked. */
const source: DashboardSource = {
  nodeId: 'n1',
  async state(kind, sel) {
    if (kind === 'tasks') {
      const id = sel?.filters?.find((f) => f[0] === 'taskId')?.[2];
      return { rows: TASKS.filter((t) => id === undefined || t.taskId === id), unreachable: [] };
    }
    if (kind === 'nodes') {
      const node = { nodeId: 'n1', address: '', state: 'ALIVE', isHead: true, isDriver: false };
      return { rows: [{ ...node, resourcesTotal: { CPU: 2 }, labels: {} }], unreachable: [] };
    }
    if (kind === 'actors')
      return { rows: [{ actorId: 'x', className: 'Counter', state: 'ALIVE' }], unreachable: [] };
    return { rows: [], unreachable: [] };
  },
  async usage() {
    return { rows: [usage], unreachable: [] };
  },
  async logFiles() {
    return { rows: LOG_FILES, unreachable: ['c3'.repeat(16)] };
  },
  async readLog(req) {
    reads.push(req);
    if (req.nodeId === NODE_B) throw new Error(`node ${NODE_B} did not answer within 5000 ms`);
    if (req.nodeId !== NODE_A || req.pid !== 41 || req.stream !== 'out') return { text: '', size: -1 };
    const size = Buffer.byteLength(LOG_TEXT);
    const from = req.offset < 0 ? Math.max(0, size + req.offset) : Math.min(req.offset, size);
    const text = Buffer.from(LOG_TEXT)
      .subarray(from, from + req.maxBytes)
      .toString('utf8');
    return { text, size: from + Buffer.byteLength(text) };
  },
};

let server: DashboardServer;
let port = 0;
const lines: string[] = [];

beforeAll(async () => {
  server = await DashboardServer.start({
    port: 0,
    host: '127.0.0.1',
    token: TOKEN,
    source,
    log: (l) => lines.push(l),
    logins: { perClient: 3, overall: 100, windowMs: 60_000, maxClients: 10 },
  });
  port = Number(server.address.split(':')[1]);
});
afterAll(() => server.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request (node's http: fetch would not let the test set Host and Origin). */
function ask(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const ours = () => ({ ...form, origin: `http://127.0.0.1:${port}` });

async function login(): Promise<string> {
  const r = await ask('POST', '/login', ours(), `token=${TOKEN}`);
  expect(r.status).toBe(303);
  const cookie = String(r.headers['set-cookie']).split(';')[0] ?? '';
  expect(cookie).toMatch(new RegExp(`^sunray_session_${port}=[0-9a-f]{64}$`));
  return cookie;
}

/** GET /api/<path> with a session: its status and JSON body. */
function apiGetter(cookie: string) {
  return async (path: string) => {
    const r = await ask('GET', `/api/${path}`, { cookie });
    return { status: r.status, body: JSON.parse(r.body) };
  };
}

describe('the dashboard server', () => {
  test('without a session: only the login page and its stylesheet; the page, its code and the API refuse', async () => {
    const root = await ask('GET', '/');
    expect(root.status).toBe(303);
    expect(root.headers.location).toBe('/login');
    const page = await ask('GET', '/login');
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="token"');
    expect(page.body).not.toContain(TOKEN);
    expect((await ask('GET', '/static/style.css')).status).toBe(200);
    for (const path of ['/static/app.js', '/static/index.html', '/static/views/tasks.js'])
      expect((await ask('GET', path)).status, path).toBe(401);
    for (const path of [
      '/api/cluster',
      '/api/tasks',
      '/api/tasks/aa02',
      '/api/timeline.json',
      '/api/logs',
      `/api/logs/file?node=${NODE_A}&pid=41&stream=out`,
    ]) {
      const r = await ask('GET', path);
      expect(r.status, path).toBe(401);
      expect(r.body).not.toContain('square');
      expect(r.body).not.toContain('line');
    }
    expect(reads).toEqual([]);
    const forged = await ask('GET', '/api/cluster', { cookie: `sunray_session_${port}=${'0'.repeat(64)}` });
    expect(forged.status).toBe(401);
  });

  test('every answer says: our own scripts only, no framing, no sniffing', async () => {
    for (const r of [
      await ask('GET', '/login'),
      await ask('GET', '/api/cluster'),
      await ask('GET', '/nope'),
    ]) {
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  test('a name other than a loopback one is refused (DNS rebinding)', async () => {
    const r = await ask('GET', '/login', { host: `evil.example:${port}` });
    expect(r.status).toBe(421);
    const post = await ask('POST', '/login', { ...ours(), host: `evil.example:${port}` }, `token=${TOKEN}`);
    expect(post.status).toBe(421);
    expect(post.headers['set-cookie']).toBeUndefined();
  });

  test('a login posted from another site is refused, the right token or not', async () => {
    const r = await ask('POST', '/login', { ...form, origin: 'http://evil.example' }, `token=${TOKEN}`);
    expect(r.status).toBe(403);
    expect(r.headers['set-cookie']).toBeUndefined();
    const big = await ask('POST', '/login', ours(), `token=${'x'.repeat(10_000)}`);
    expect(big.status).toBe(413);
  });

  test('with the token: a session cookie, then the page, its code and the API', async () => {
    const cookie = await login();
    const page = await ask('GET', '/', { cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain('/static/app.js');
    expect(page.body).not.toMatch(/<script>/); // no inline script: all of it from files
    expect((await ask('GET', '/static/app.js', { cookie })).status).toBe(200);
    const cluster = JSON.parse((await ask('GET', '/api/cluster', { cookie })).body);
    expect(cluster.nodes[0]).toMatchObject({ nodeId: 'n1', usage: { tasksEnded: 3 } });
    expect(cluster.actors).toEqual({ ALIVE: 1 });
    expect((await ask('GET', '/login', { cookie })).status).toBe(303);
  });

  test('tasks: counts by state, then a state and a part of the name, newest first; one by id with its error', async () => {
    const cookie = await login();
    const get = apiGetter(cookie);
    const all = (await get('tasks')).body;
    expect(all.byState).toEqual({ FINISHED: 2, FAILED: 1, RUNNING: 1 });
    expect(all.rows.map((t: TaskStateRow) => t.taskId)).toEqual(['aa04', 'aa03', 'aa02', 'aa01']);
    expect((await get('tasks?state=FAILED')).body.rows.map((t: TaskStateRow) => t.taskId)).toEqual(['aa02']);
    expect((await get('tasks?name=SQU')).body.rows.map((t: TaskStateRow) => t.taskId)).toEqual([
      'aa02',
      'aa01',
    ]);
    expect((await get('tasks?name=squ&state=FINISHED')).body).toMatchObject({ matched: 1, total: 4 });
    expect((await get('tasks?limit=1')).body.rows).toHaveLength(1);
    const one = await get('tasks/aa02');
    expect(one.body).toMatchObject({ errorType: 'RangeError', errorMessage: 'no', errorStack: 'at f' });
    expect((await get('tasks/ffff')).status).toBe(404);
    expect((await get('nope')).status).toBe(404);
    const trace = (await get('timeline?limit=1')).body;
    expect(trace.filter((e: { ph: string }) => e.ph === 'X').map((e: { name: string }) => e.name)).toEqual([
      'Counter.incr',
    ]);
    const file = await ask('GET', '/api/timeline.json', { cookie });
    expect(file.headers['content-disposition']).toBe('attachment; filename="timeline.json"');
    expect(JSON.parse(file.body).filter((e: { ph: string }) => e.ph === 'X')).toHaveLength(3);
  });

  test('logs: every file, by node; a tail of lines or what follows an offset; 404 when not there', async () => {
    const get = apiGetter(await login());
    const all = (await get('logs')).body;
    expect(all).toEqual({ rows: LOG_FILES, unreachable: ['c3'.repeat(16)] });
    expect((await get(`logs?node=${NODE_B}`)).body.rows).toEqual([LOG_FILES[2]]);
    expect((await get('logs?node=a1a1')).body.rows).toHaveLength(2);

    const file = `logs/file?node=${NODE_A}&pid=41`;
    // Default: stdout, its last 1000 lines, read from the end of the file.
    expect((await get(file)).body).toEqual({
      nodeId: NODE_A,
      pid: 41,
      stream: 'out',
      text: LOG_TEXT,
      offset: 29,
    });
    expect(reads.at(-1)).toMatchObject({ nodeId: NODE_A, pid: 41, stream: 'out', offset: -(1 << 20) });
    expect((await get(`${file}&stream=out&tail=2`)).body.text).toBe('line two\nline three\n');
    expect((await get(`${file}&tail=0`)).body).toMatchObject({ text: '', offset: 29 });
    // Following: from an offset; at the end, nothing and the same offset; past it (rotated), the size.
    expect((await get(`${file}&offset=9`)).body).toMatchObject({
      text: 'line two\nline three\n',
      offset: 29,
    });
    expect(reads.at(-1)).toMatchObject({ offset: 9, maxBytes: 1 << 20 });
    expect((await get(`${file}&offset=29`)).body).toMatchObject({ text: '', offset: 29 });
    expect((await get(`${file}&offset=500`)).body).toMatchObject({ text: '', offset: 29 });

    const missing = await get(`logs/file?node=${NODE_A}&pid=41&stream=err`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('node a1a1a1a1 keeps no err log of worker 41');
    expect((await get(`logs/file?node=${NODE_A}&pid=7`)).status).toBe(404);
    const silent = await get(`logs/file?node=${NODE_B}&pid=52`);
    expect(silent.status).toBe(502);
    expect(silent.body.error).toContain('did not answer');
  });

  test('logs: a bad parameter answers 400 saying what is wrong, and asks no node', async () => {
    const cookie = await login();
    const before = reads.length;
    const cases: Array<[string, RegExp]> = [
      ['logs?node=xyz', /^node is a node id in hex/],
      ['logs?node=', /^node is a node id in hex/],
      ['logs/file?pid=41', /^node is a node id \(32 hex digits\), got nothing/],
      ['logs/file?node=a1a1&pid=41', /^node is a node id \(32 hex digits\)/],
      [`logs/file?node=${NODE_A.toUpperCase()}&pid=41`, /^node is a node id/],
      [`logs/file?node=../../etc&pid=41`, /^node is a node id/],
      [`logs/file?node=${NODE_A}`, /^pid is a process id, got nothing/],
      [`logs/file?node=${NODE_A}&pid=4.5`, /^pid is a process id, got "4.5"/],
      [`logs/file?node=${NODE_A}&pid=-1`, /^pid is a process id/],
      [`logs/file?node=${NODE_A}&pid=0`, /^pid is a process id/],
      [`logs/file?node=${NODE_A}&pid=1e3`, /^pid is a process id/],
      [`logs/file?node=${NODE_A}&pid=99999999999`, /^pid is a process id/],
      [`logs/file?node=${NODE_A}&pid=41&stream=in`, /^stream is out or err, got "in"/],
      [`logs/file?node=${NODE_A}&pid=41&tail=-5`, /^tail is a number of lines from 0 to 10000/],
      [`logs/file?node=${NODE_A}&pid=41&tail=10001`, /^tail is a number of lines/],
      [`logs/file?node=${NODE_A}&pid=41&tail=lots`, /^tail is a number of lines/],
      [`logs/file?node=${NODE_A}&pid=41&tail=`, /^tail is a number of lines/],
      [`logs/file?node=${NODE_A}&pid=41&offset=-3`, /^offset is a byte offset >= 0/],
      [`logs/file?node=${NODE_A}&pid=41&offset=${2 ** 60}`, /^offset is a byte offset/],
      [`logs/file?node=${NODE_A}&pid=41&offset=0&tail=5`, /^give tail or offset, not both$/],
    ];
    for (const [path, error] of cases) {
      const r = await ask('GET', `/api/${path}`, { cookie });
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body).error, path).toMatch(error);
    }
    expect(reads.length).toBe(before);
  });

  test('logout ends the session', async () => {
    const cookie = await login();
    const out = await ask('POST', '/logout', { cookie, origin: `http://127.0.0.1:${port}` });
    expect(out.status).toBe(303);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await ask('GET', '/api/cluster', { cookie })).status).toBe(401);
  });

  test('wrong tokens: refused, logged once a second at most, then the client waits', async () => {
    const client = { ...ours() };
    for (let i = 0; i < 3; i++) {
      const r = await ask('POST', '/login', client, 'token=wrong-token-wrong-token');
      expect(r.status).toBe(401);
      expect(r.body).toContain('That is not the token.');
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    const held = await ask('POST', '/login', client, `token=${TOKEN}`);
    expect(held.status).toBe(429);
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(0);
    expect(held.headers['set-cookie']).toBeUndefined();
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThan(3);
    expect(lines[0]).toMatch(/refused a login from 127\.0\.0\.1/);
    expect(lines.join('\n')).not.toContain('wrong-token');
  });
});
