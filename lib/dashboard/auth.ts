// Who may read the dashboard: the token check, login sessions (random ids in an HttpOnly,
// SameSite=Strict cookie, with idle and absolute expiry), the limit on failed logins, and
// the checks of a request's Host (DNS rebinding) and Origin (cross-site posts). Pure
// decisions over a clock the caller gives, so the unit tests drive them with a fake one;
// server.ts applies them to HTTP.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Whether `given` is the token, compared in constant time (both hashed first: lengths may differ). */
export function tokenMatches(token: string, given: string): boolean {
  const a = createHash('sha256').update(token, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b) && token.length > 0;
}

/** How long sessions live. */
export interface SessionLimits {
  /** Unused this long (ms), a session ends (default 2 h). */
  idleMs: number;
  /** Whatever its use, a session ends this long (ms) after its login (default 12 h). */
  maxAgeMs: number;
  /** Sessions kept at most; past it the least recently used one ends (default 256). */
  maxSessions: number;
}

/** The defaults of SessionLimits. */
export const SESSION_LIMITS: SessionLimits = {
  idleMs: 2 * 3600_000,
  maxAgeMs: 12 * 3600_000,
  maxSessions: 256,
};

interface Session {
  created: number;
  used: number;
}

/** Login sessions: 32 random bytes each (hex), kept by the sha-256 of the id, ended by time or logout. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly limits: SessionLimits = SESSION_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session's id (what the cookie carries). */
  create(): string {
    this.prune();
    while (this.sessions.size >= this.limits.maxSessions) {
      // Map order is use order (valid() moves a used session to the end): the first is the least used.
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('hex');
    const t = this.now();
    this.sessions.set(key(id), { created: t, used: t });
    return id;
  }

  /** Whether `id` is a live session (and marks it used); an expired one is forgotten. */
  valid(id: string | undefined): boolean {
    if (!id || !/^[0-9a-f]{64}$/.test(id)) return false;
    const k = key(id);
    const s = this.sessions.get(k);
    if (!s) return false;
    const t = this.now();
    if (this.expired(s, t)) {
      this.sessions.delete(k);
      return false;
    }
    s.used = t;
    this.sessions.delete(k);
    this.sessions.set(k, s);
    return true;
  }

  /** Ends a session (logout). */
  end(id: string | undefined): void {
    if (id) this.sessions.delete(key(id));
  }

  /** Live sessions now. */
  get size(): number {
    this.prune();
    return this.sessions.size;
  }

  /** Seconds a new session's cookie may live (its absolute limit). */
  get cookieMaxAge(): number {
    return Math.floor(this.limits.maxAgeMs / 1000);
  }

  private expired(s: Session, t: number): boolean {
    return t - s.used >= this.limits.idleMs || t - s.created >= this.limits.maxAgeMs;
  }

  private prune(): void {
    const t = this.now();
    for (const [k, s] of this.sessions) if (this.expired(s, t)) this.sessions.delete(k);
  }
}

/** The store keeps hashes: a heap dump or a timing probe of the map does not give a live id. */
function key(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** How many failed logins are let through. */
export interface LoginLimits {
  /** Failures from one client address within windowMs before it must wait (default 5). */
  perClient: number;
  /** Failures from all clients within windowMs before every login must wait (default 100). */
  overall: number;
  /** The window (ms, default 60 s): a client waits until its oldest counted failure is this old. */
  windowMs: number;
  /** Client addresses tracked at most (default 4096); past it the oldest is forgotten. */
  maxClients: number;
}

/** The defaults of LoginLimits. */
export const LOGIN_LIMITS: LoginLimits = { perClient: 5, overall: 100, windowMs: 60_000, maxClients: 4096 };

/** Failed logins per client address and in all, in a sliding window (see LoginLimits). */
export class LoginLimiter {
  private readonly clients = new Map<string, number[]>();
  private readonly all: number[] = [];

  constructor(
    private readonly limits: LoginLimits = LOGIN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when `client` may try now, else the ms it must wait. */
  waitMs(client: string): number {
    const t = this.now();
    const mine = this.recent(this.clients.get(client), t);
    const all = this.recent(this.all, t);
    let wait = 0;
    if (mine.length >= this.limits.perClient) wait = (mine[0] ?? t) + this.limits.windowMs - t;
    if (all.length >= this.limits.overall)
      wait = Math.max(wait, (all[all.length - this.limits.overall] ?? t) + this.limits.windowMs - t);
    return Math.max(0, wait);
  }

  /** A login from `client` failed. */
  failed(client: string): void {
    const t = this.now();
    const mine = this.recent(this.clients.get(client), t);
    mine.push(t);
    this.clients.delete(client);
    this.clients.set(client, mine);
    if (this.clients.size > this.limits.maxClients) {
      const oldest = this.clients.keys().next().value;
      if (oldest !== undefined) this.clients.delete(oldest);
    }
    const all = this.recent(this.all, t);
    all.push(t);
    this.all.splice(0, this.all.length, ...all.slice(-this.limits.overall));
  }

  /** A login from `client` succeeded: its failures are forgotten. */
  succeeded(client: string): void {
    this.clients.delete(client);
  }

  /** The failures of a list that are still within the window. */
  private recent(list: number[] | undefined, t: number): number[] {
    return (list ?? []).filter((at) => t - at < this.limits.windowMs);
  }
}

/** Whether an address (a bound host, or a Host header's name) is this machine's loopback. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** The name of a Host header (no port); undefined when it is not one. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+)(?::(\d{1,5}))?$/.exec(header.trim());
  return m ? m[1] : undefined;
}

/**
 * Whether a request's Host header may be answered. A dashboard bound to loopback answers
 * only loopback names: a DNS-rebinding page (evil.example resolving to 127.0.0.1) sends its
 * own name and is refused. Bound elsewhere, any name is fine (the token still guards it).
 */
export function hostAllowed(boundHost: string, header: string | undefined): boolean {
  const name = hostName(header);
  if (name === undefined) return false;
  return !isLoopback(boundHost) || isLoopback(name);
}

/**
 * Whether a state-changing request (POST) comes from the dashboard's own pages: its Origin,
 * when the browser sends one, is this server's; and Sec-Fetch-Site, when sent, is not
 * cross-site. A request with neither (curl, scripts) is not a browser's, so no CSRF.
 */
export function sameOrigin(
  host: string | undefined,
  origin: string | undefined,
  fetchSite: string | undefined,
  scheme: 'http' | 'https' = 'http',
): boolean {
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return false;
  if (origin === undefined) return true;
  return host !== undefined && origin === `${scheme}://${host}`;
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value for a session (maxAgeSeconds 0: clears it); `secure` over HTTPS. */
export function sessionCookie(name: string, id: string, maxAgeSeconds: number, secure = false): string {
  return `${name}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}
