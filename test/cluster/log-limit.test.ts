// What a hostile peer can make a node log: a flood of bad connections gives at
// most a line a second per cause, each naming the real peer (not
// "undefined:undefined"), with a count of the lines left out; and the limiter's
// decisions with a fake clock.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { newNonce } from '../../lib/cluster/auth.js';
import { Conn } from '../../lib/cluster/connection.js';
import { causeOf, LogLimiter } from '../../lib/cluster/log-limiter.js';
import { encodeMessage } from '../../lib/cluster/messages.js';
import { until } from '../helpers.js';

/** How many events a logged line stands for: itself and the ones it says were left out. */
function events(line: string): number {
  return 1 + Number(/\(and (\d+) more like it/.exec(line)?.[1] ?? 0);
}

describe('LogLimiter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('logs a cause at most once a second and counts what it left out', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const l = new LogLimiter((x) => lines.push(x));
    for (let i = 0; i < 100; i++) l.line('bad', `bad ${i}`);
    l.line('other', 'other 0'); // another cause has its own allowance
    expect(lines).toEqual(['bad 0', 'other 0']);
    vi.advanceTimersByTime(1000); // the count comes on its own, with the latest line
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('bad 99 (and 98 more like it, not logged: at most one line a second per cause)');
    l.line('bad', 'bad 100');
    expect(lines).toHaveLength(3); // within a second of that summary
    vi.advanceTimersByTime(1000);
    expect(lines[3]).toBe('bad 100');
    vi.advanceTimersByTime(5000); // quiet: forgotten, so the next line is logged at once
    l.line('bad', 'bad 101');
    expect(lines[4]).toBe('bad 101');
    expect(lines.reduce((n, x) => n + events(x), 0)).toBe(103);
    l.close();
  });

  test('a line after a quiet second carries the count at once', () => {
    let now = 0;
    const lines: string[] = [];
    const l = new LogLimiter(
      (x) => lines.push(x),
      1000,
      () => now,
    );
    l.line('c', 'a');
    l.line('c', 'b');
    now = 1500;
    l.line('c', 'c');
    expect(lines).toEqual(['a', 'c (and 1 more like it, not logged: at most one line a second per cause)']);
    l.close();
  });

  test('causes do not depend on numbers or addresses', () => {
    expect(causeOf('frame of 1723396295 bytes is outside 8..4096')).toBe(
      causeOf('frame of 12 bytes is outside 8..4096'),
    );
    expect(causeOf('protocol version 7, this node speaks 2')).toBe(
      causeOf('protocol version 99, this node speaks 2'),
    );
    expect(causeOf('handshake refused: bad nonce')).not.toBe(causeOf('the peer left during the handshake'));
  });
  test('a timer that fires late never lets two lines of a cause out within a second', () => {
    // A loaded machine runs timers late: a line logged on time must not be followed at once by
    // the late timer's summary, nor by a line logged as new because that timer forgot the cause.
    vi.useFakeTimers();
    let now = 0;
    const at: number[] = [];
    const lines: string[] = [];
    const l = new LogLimiter(
      (x) => {
        at.push(now);
        lines.push(x);
      },
      1000,
      () => now,
    );
    l.line('c', 'a'); // logged at 0
    l.line('c', 'b'); // held; its summary is due at 1000
    now = 1000;
    vi.advanceTimersByTime(1000); // the summary (b), at 1000; the next check is due at 2000
    now = 2000;
    l.line('c', 'c'); // logged on time, before the late timer runs
    now = 2001;
    vi.advanceTimersByTime(1000); // the late timer: nothing was held since c
    now = 2002;
    l.line('c', 'd'); // within a second of c: held
    now = 2003;
    vi.advanceTimersByTime(1); // (no timer of the old schedule may flush d now)
    expect(lines).toEqual(['a', 'b', 'c']);
    now = 3000;
    vi.advanceTimersByTime(1000); // d's summary, a second after c
    expect(lines).toEqual(['a', 'b', 'c', 'd']);
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(1000);
    l.close();
  });

  test('a late timer does not flush a count early', () => {
    vi.useFakeTimers();
    let now = 0;
    const at: number[] = [];
    const l = new LogLimiter(
      () => at.push(now),
      1000,
      () => now,
    );
    l.line('c', 'a');
    l.line('c', 'b');
    now = 1000;
    vi.advanceTimersByTime(1000); // b's summary; next check due at 2000
    now = 2000;
    l.line('c', 'c'); // logged on time
    now = 2001;
    l.line('c', 'd'); // held
    now = 2002;
    vi.advanceTimersByTime(1000); // the old timer, late: d must wait until 3000
    expect(at).toEqual([0, 1000, 2000]);
    now = 3000;
    vi.advanceTimersByTime(1000);
    expect(at).toEqual([0, 1000, 2000, 3000]);
    l.close();
  });
});

describe('a listener flooded with bad hellos', () => {
  test('logs a bounded number of lines, each naming 127.0.0.1, and counts the rest', async () => {
    const lines: string[] = [];
    const opened: Conn[] = [];
    const log = (l: string) => lines.push(l);
    const server = net.createServer((s) =>
      Conn.server(s, { token: 'k'.repeat(64), nodeId: randomBytes(16), log, onMessage: () => {} }, (c) =>
        opened.push(c),
      ),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const total = 2000;
    const started = Date.now();
    const badHello = encodeMessage({ t: 'hello', version: 99, nodeId: randomBytes(16), nonce: newNonce() });
    const goodHello = encodeMessage({ t: 'hello', version: 2, nodeId: randomBytes(16), nonce: newNonce() });
    const one = (i: number) =>
      new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.resume(); // read what the listener sends (a challenge), or its close is never seen
        s.on('close', () => resolve());
        s.on('connect', () => {
          // Three kinds: another protocol version, a hello and gone, garbage.
          if (i % 3 === 0) s.write(badHello);
          else if (i % 3 === 1) s.end(goodHello);
          else s.write(randomBytes(64));
        });
      });
    for (let i = 0; i < total; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => one(i + k)));
    const seconds = (Date.now() - started) / 1000;
    // Every connection is accounted for once the last summaries are out (a second after the flood).
    await until(() => lines.reduce((n, x) => n + events(x), 0) >= total, 5000, 'the summaries');
    expect(lines.reduce((n, x) => n + events(x), 0)).toBe(total);
    const reasons = lines.map((l) =>
      l.replace(/^closing connection with [^ ]+: /, '').replace(/ \(and \d+ more.*$/, ''),
    );
    const causes = new Set(reasons.map(causeOf)).size;
    expect(causes).toBeLessThanOrEqual(4);
    expect(lines.length).toBeLessThanOrEqual(causes * (Math.ceil(seconds) + 2));
    for (const l of lines) expect(l).toMatch(/^closing connection with 127\.0\.0\.1:\d+: /);
    expect(lines.some((l) => /protocol version 99/.test(l))).toBe(true);
    expect(lines.some((l) => /more like it/.test(l))).toBe(true);
    expect(opened).toHaveLength(0);
    await new Promise((r) => server.close(r));
  });
});
