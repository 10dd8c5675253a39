// The dashboard's decisions (lib/dashboard/auth.ts) with a fake clock: the token check,
// sessions and their expiry, the limit on failed logins, the Host (DNS rebinding) and
// Origin (cross-site post) checks, and the session cookie.
import { describe, expect, test } from 'vitest';
import {
  cookieValue,
  hostAllowed,
  hostName,
  isLoopback,
  LoginLimiter,
  SessionStore,
  sameOrigin,
  sessionCookie,
  tokenMatches,
} from '../../lib/dashboard/auth.js';

/** A clock the test moves. */
function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('the token', () => {
  test('only the very token opens, whatever the length given', () => {
    const token = 'a'.repeat(64);
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(token, `${'a'.repeat(63)}b`)).toBe(false);
    expect(tokenMatches(token, 'a')).toBe(false);
    expect(tokenMatches(token, `${token}a`)).toBe(false);
    expect(tokenMatches(token, '')).toBe(false);
    expect(tokenMatches('', '')).toBe(false);
  });
});

describe('sessions', () => {
  const limits = { idleMs: 1000, maxAgeMs: 5000, maxSessions: 3 };

  test('ids are 32 random bytes (hex), each valid until it ends', () => {
    const s = new SessionStore(limits, clock().now);
    const a = s.create();
    const b = s.create();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
    expect(s.valid(a)).toBe(true);
    expect(s.valid(b)).toBe(true);
    s.end(a);
    expect(s.valid(a)).toBe(false);
    expect(s.valid(b)).toBe(true);
    expect(s.valid(undefined)).toBe(false);
    expect(s.valid('')).toBe(false);
    expect(s.valid(b.toUpperCase())).toBe(false);
    expect(s.valid(`${b}0`)).toBe(false);
  });

  test('a session unused for idleMs ends; use keeps it; none outlives maxAgeMs', () => {
    const c = clock();
    const s = new SessionStore(limits, c.now);
    const idle = s.create();
    const busy = s.create();
    for (let i = 0; i < 4; i++) {
      c.advance(900);
      expect(s.valid(busy)).toBe(true);
    }
    expect(s.valid(idle)).toBe(false); // 3600 ms unused
    c.advance(900); // 4500 ms old, used 900 ms ago
    expect(s.valid(busy)).toBe(true);
    c.advance(600); // 5100 ms old
    expect(s.valid(busy)).toBe(false);
    expect(s.size).toBe(0);
    expect(s.cookieMaxAge).toBe(5);
  });

  test('past maxSessions, the least recently used one ends', () => {
    const c = clock();
    const s = new SessionStore(limits, c.now);
    const [a, b, d] = [s.create(), s.create(), s.create()];
    c.advance(10);
    expect(s.valid(a)).toBe(true); // a is now the most recently used
    const e = s.create();
    expect(s.valid(b)).toBe(false);
    expect([a, d, e].map((x) => s.valid(x))).toEqual([true, true, true]);
    expect(s.size).toBe(3);
  });
});

describe('failed logins', () => {
  const limits = { perClient: 3, overall: 5, windowMs: 10_000, maxClients: 2 };

  test('a client that failed perClient times in the window waits until its oldest failure leaves it', () => {
    const c = clock();
    const l = new LoginLimiter(limits, c.now);
    expect(l.waitMs('a')).toBe(0);
    l.failed('a');
    c.advance(1000);
    l.failed('a');
    expect(l.waitMs('a')).toBe(0);
    l.failed('a');
    expect(l.waitMs('a')).toBe(9000);
    expect(l.waitMs('b')).toBe(0); // others are not held back
    c.advance(8999);
    expect(l.waitMs('a')).toBe(1);
    c.advance(1);
    expect(l.waitMs('a')).toBe(0); // the first failure left the window
  });

  test('a success forgets the failures of its client', () => {
    const l = new LoginLimiter(limits, clock().now);
    l.failed('a');
    l.failed('a');
    l.succeeded('a');
    l.failed('a');
    l.failed('a');
    expect(l.waitMs('a')).toBe(0);
  });

  test('failures from many clients hold every login back past the overall limit', () => {
    const c = clock();
    const l = new LoginLimiter(limits, c.now);
    for (const who of ['a', 'b', 'c', 'd', 'e']) {
      l.failed(who);
      c.advance(100);
    }
    expect(l.waitMs('someone-new')).toBe(10_000 - 500);
    c.advance(10_000);
    expect(l.waitMs('someone-new')).toBe(0);
  });
});

describe('hosts and origins', () => {
  test('loopback names and addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'app.localhost', '::1', '[::1]'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', 'evil.example', '::', 'localhost.evil.example'])
      expect(isLoopback(h), h).toBe(false);
  });

  test('Host headers: their name without the port; junk is no name', () => {
    expect(hostName('127.0.0.1:8265')).toBe('127.0.0.1');
    expect(hostName('[::1]:8265')).toBe('[::1]');
    expect(hostName('localhost')).toBe('localhost');
    expect(hostName(undefined)).toBeUndefined();
    expect(hostName('a b:1')).toBeUndefined();
    expect(hostName('x:y:z')).toBeUndefined();
  });

  test('bound to loopback, a rebinding name is refused; bound elsewhere, any name passes', () => {
    expect(hostAllowed('127.0.0.1', '127.0.0.1:8265')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'localhost:8265')).toBe(true);
    expect(hostAllowed('127.0.0.1', '[::1]:8265')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'evil.example:8265')).toBe(false);
    expect(hostAllowed('127.0.0.1', undefined)).toBe(false);
    expect(hostAllowed('0.0.0.0', 'head.internal:8265')).toBe(true);
    expect(hostAllowed('0.0.0.0', undefined)).toBe(false);
  });

  test('a post counts as our page only with our Origin (or no browser headers at all)', () => {
    const host = '127.0.0.1:8265';
    expect(sameOrigin(host, 'http://127.0.0.1:8265', 'same-origin')).toBe(true);
    expect(sameOrigin(host, undefined, undefined)).toBe(true); // curl, a script: no CSRF
    expect(sameOrigin(host, 'http://evil.example', 'cross-site')).toBe(false);
    expect(sameOrigin(host, 'http://evil.example', undefined)).toBe(false);
    expect(sameOrigin(host, 'null', 'same-origin')).toBe(false);
    expect(sameOrigin(host, 'http://127.0.0.1:9999', 'same-site')).toBe(false);
    expect(sameOrigin(host, undefined, 'cross-site')).toBe(false);
    expect(sameOrigin(undefined, 'http://127.0.0.1:8265', undefined)).toBe(false);
  });

  test('the session cookie: HttpOnly, SameSite=Strict, the whole site, a lifetime', () => {
    expect(sessionCookie('s_1', 'abc', 60)).toBe('s_1=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60');
    expect(cookieValue('a=1; s_1=abc; b=2', 's_1')).toBe('abc');
    expect(cookieValue('s_10=x', 's_1')).toBeUndefined();
    expect(cookieValue(undefined, 's_1')).toBeUndefined();
  });
});
