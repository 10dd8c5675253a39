// The dashboard's HTTP server: the login page, the page and its static files (plain HTML,
// CSS and ES modules from lib/dashboard/static/, shipped in the npm package, read once at
// start), and the JSON API (api.ts). Nothing but the login page and its stylesheet
// answers without a session: a session comes from POST /login with the token (the
// cluster's, or an embedded node's own), checked in constant time, with failed logins
// limited (auth.ts). Every answer carries a strict Content-Security-Policy (no inline
// script or style, nothing from elsewhere) and refuses framing. A node's job server
// (job-api.ts) answers /api/jobs/ and /api/packages/ here, each request with the token.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../base/errors.js';
import { LogLimiter } from '../cluster/log-limiter.js';
import { answer, type DashboardSource } from './api.js';
import {
  cookieValue,
  hostAllowed,
  LoginLimiter,
  type LoginLimits,
  type SessionLimits,
  SessionStore,
  sameOrigin,
  sessionCookie,
  tokenMatches,
} from './auth.js';
import { isJobApiPath } from './job-api.js';
import { readBody } from './request-body.js';

/** Where the page's files are: lib/dashboard/static/, from dist/dashboard/ and from lib/dashboard/ alike. */
const STATIC_DIR = fileURLToPath(new URL('../../lib/dashboard/static/', import.meta.url));

/** Files anyone may fetch: the login page's stylesheet (no data in it). */
const PUBLIC_FILES = new Set(['/static/style.css']);

/** The most bytes of a login form read. */
const MAX_LOGIN_BODY = 4096;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Headers on every answer: nothing runs or loads but our own files, no framing, no sniffing. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer a browser's form posts say `Origin: null`.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Options of DashboardServer.start(). */
export interface DashboardServerOptions {
  /** Port to listen on (0: any free one). */
  port: number;
  /** Address to listen on (127.0.0.1 unless told otherwise). */
  host: string;
  /** What logging in takes. */
  token: string;
  /** Where the data comes from. */
  source: DashboardSource;
  /** The job server (a daemon's): /api/jobs/ and /api/packages/, guarded by the token on each request. */
  jobs?: { handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> };
  /** Where refused logins are logged (at most a line a second per cause). */
  log?: (line: string) => void;
  /** Serve HTTPS with this certificate and key (PEM), as the cluster's TLS does; none: HTTP. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Session and login limits, and the clock (tests pass their own). */
  sessions?: SessionLimits;
  logins?: LoginLimits;
  now?: () => number;
}

/** A static file, read at start. */
interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** A listening dashboard. */
export class DashboardServer {
  private readonly sessions: SessionStore;
  private readonly logins: LoginLimiter;
  private readonly limiter: LogLimiter;
  private readonly assets: Map<string, Asset>;
  /** The session cookie's name: one per port, as cookies are shared by every port of a host. */
  private cookie = 'sunray_session';
  private server: Server | undefined;
  /** host:port it listens on. */
  address = '';

  private constructor(private readonly opts: DashboardServerOptions) {
    const now = opts.now ?? Date.now;
    this.sessions = new SessionStore(opts.sessions, now);
    this.logins = new LoginLimiter(opts.logins, now);
    this.limiter = new LogLimiter(opts.log ?? (() => {}), 1000, now);
    this.assets = loadAssets(STATIC_DIR);
  }

  /** Listens on host:port; rejects (EADDRINUSE...) when it cannot. */
  static async start(opts: DashboardServerOptions): Promise<DashboardServer> {
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw new InvalidArgumentError(
        `the dashboard port must be a port number 0-65535, got ${String(opts.port)}`,
      );
    }
    if (opts.token.length === 0) throw new InvalidArgumentError('the dashboard needs a token to guard it');
    const d = new DashboardServer(opts);
    const handle = (req: IncomingMessage, res: ServerResponse) => d.handle(req, res);
    const server: Server = opts.tls
      ? createHttpsServer(
          // A client that stalls its handshake holds a socket: 10 s, not Node's 120.
          { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 },
          handle,
        )
      : createServer(handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : opts.port;
    d.server = server;
    d.address = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
    d.cookie = `sunray_session_${port}`;
    return d;
  }

  /** http://host:port/, or https:// when it serves TLS. */
  get url(): string {
    return `${this.scheme}://${this.address}/`;
  }

  private get scheme(): 'http' | 'https' {
    return this.opts.tls ? 'https' : 'http';
  }

  /** Stops listening and ends every session. */
  async close(): Promise<void> {
    this.limiter.close();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await Promise.all(this.closers.splice(0).map((fn) => fn()));
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** fn runs (and is awaited) when the server closes: the job server stops its jobs. */
  onClose(fn: () => Promise<void>): void {
    this.closers.push(fn);
  }
  private readonly closers: Array<() => Promise<void>> = [];

  private handle(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    this.route(req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: err.message }));
      else res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(this.opts.host, req.headers.host)) {
      send(res, 421, 'text/plain', 'this dashboard answers to its own address only\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (this.opts.jobs && isJobApiPath(path)) return this.opts.jobs.handle(req, res, url);
    const session = cookieValue(req.headers.cookie, this.cookie);
    const loggedIn = this.sessions.valid(session);
    if (path === '/login' && method === 'POST') return this.login(req, res);
    if (path === '/logout' && method === 'POST') {
      if (!this.fromOurPage(req)) return send(res, 403, 'text/plain', 'cross-site request refused\n');
      this.sessions.end(session);
      res.setHeader('set-cookie', sessionCookie(this.cookie, '', 0, this.scheme === 'https'));
      return redirect(res, '/login');
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD, POST');
      return send(res, 405, 'text/plain', 'method not allowed\n');
    }
    if (path === '/login') return loggedIn ? redirect(res, '/') : this.loginPage(res, 200, '');
    if (PUBLIC_FILES.has(path)) return this.file(req, res, path);
    if (!loggedIn) {
      if (path.startsWith('/api/'))
        return json(res, 401, { error: 'log in first: POST /login with the token' });
      if (path === '/' || !path.includes('.')) return redirect(res, '/login');
      return send(res, 401, 'text/plain', 'log in first\n');
    }
    if (path.startsWith('/api/')) {
      const a = await answer(this.opts.source, path.slice('/api/'.length), url.searchParams);
      if (a.download) res.setHeader('content-disposition', `attachment; filename="${a.download}"`);
      return json(res, a.status, a.body);
    }
    if (path === '/' || path === '/index.html') return this.file(req, res, '/static/index.html');
    if (this.assets.has(path)) return this.file(req, res, path);
    send(res, 404, 'text/plain', 'not found\n');
  }

  /** POST /login: the token, from a form of our own page, within the limit of failed tries. */
  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = req.socket.remoteAddress ?? '';
    if (!this.fromOurPage(req)) return send(res, 403, 'text/plain', 'cross-site login refused\n');
    const wait = this.logins.waitMs(client);
    if (wait > 0) {
      const s = Math.ceil(wait / 1000);
      res.setHeader('retry-after', String(s));
      return this.loginPage(res, 429, `Too many failed logins: try again in ${s} s.`);
    }
    const body = await readBody(req, MAX_LOGIN_BODY);
    if (body === undefined) {
      res.setHeader('connection', 'close');
      return send(res, 413, 'text/plain', 'a login is a token, not more\n');
    }
    const token = new URLSearchParams(body.toString('utf8')).get('token') ?? '';
    if (!tokenMatches(this.opts.token, token.trim())) {
      this.logins.failed(client);
      this.limiter.line('login', `sunray dashboard: refused a login from ${client} (wrong token)`);
      return this.loginPage(res, 401, 'That is not the token.');
    }
    this.logins.succeeded(client);
    const id = this.sessions.create();
    res.setHeader(
      'set-cookie',
      sessionCookie(this.cookie, id, this.sessions.cookieMaxAge, this.scheme === 'https'),
    );
    redirect(res, '/');
  }

  private fromOurPage(req: IncomingMessage): boolean {
    const h = req.headers;
    return sameOrigin(h.host, h.origin, h['sec-fetch-site'] as string | undefined, this.scheme);
  }

  private loginPage(res: ServerResponse, status: number, message: string): void {
    const page = this.assets.get('/static/login.html');
    if (!page) {
      send(res, 500, 'text/plain', 'the dashboard was installed without its pages\n');
      return;
    }
    // Only our own fixed messages go in, escaped all the same.
    const html = page.body.toString('utf8').replace('<!--message-->', escapeHtml(message));
    res.setHeader('cache-control', 'no-store');
    send(res, status, page.type, html);
  }

  private file(req: IncomingMessage, res: ServerResponse, path: string): void {
    const a = this.assets.get(path);
    if (!a) {
      send(res, 404, 'text/plain', 'not found\n');
      return;
    }
    res.setHeader('etag', a.etag);
    res.setHeader('cache-control', path.endsWith('.html') ? 'no-store' : 'no-cache');
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304).end();
      return;
    }
    send(res, 200, a.type, req.method === 'HEAD' ? '' : a.body);
  }
}

/** Every file under dir, by its URL (/static/...), read now: a handful of small files. */
function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const type = TYPES[extname(name)];
        if (!type) continue;
        const body = readFileSync(p);
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
        out.set(`/static/${relative(dir, p).split(sep).join('/')}`, { body, type, etag });
      }
    }
  };
  walk(dir);
  return out;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type }).end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.setHeader('cache-control', 'no-store');
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(303, { location: to }).end();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
