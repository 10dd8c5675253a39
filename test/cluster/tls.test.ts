// A cluster whose every connection runs over mutually verified TLS (--tls-cert/--tls-key/
// --tls-ca), certificates made at test time by openssl for the nodes' loopback addresses:
// tasks and object transfers work; a peer whose certificate the CA did not sign, one with
// no certificate and one speaking plain TCP are refused; the dashboard serves HTTPS.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import * as sunray from 'sunray';
import { Cluster, makeTestCertificates, type TestCertificates } from 'sunray/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Conn } from '../../lib/cluster/connection.js';
import { splitAddress } from '../../lib/cluster/peers.js';
import { loadTls, type TlsFiles, tlsServerOptions } from '../../lib/cluster/tls.js';
import { repoRoot, runNode } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Dials the head as a node would, with these TLS files (none: plain TCP) and the right token. */
async function dialHead(address: string, token: string, files: TlsFiles | undefined): Promise<Conn> {
  const [host, port] = splitAddress(address);
  const opts = { token, nodeId: randomBytes(16), log: () => {}, onMessage: () => {} };
  return Conn.dial(host, port, { ...opts, tls: files ? loadTls(files) : undefined }, 'the head');
}

/** GET url with https (trusting the cluster's CA) or http; the status, or the error's message. */
function get(url: string, ca?: Buffer): Promise<number | string> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? https : http).get(url, { ca, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => resolve(e.message));
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

describe('a TLS cluster', () => {
  let dir: string;
  let certs: TestCertificates;
  let cluster: Cluster;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-tls-test-')); // 0700: the keys go here
    certs = makeTestCertificates(dir);
    cluster = new Cluster({ tls: certs.node });
    await cluster.addNode({ numCpus: 1, ownLoopback: true, resources: { a: 4 }, dashboardPort: 0 });
    await cluster.addNode({ numCpus: 1, ownLoopback: true, resources: { b: 4 } });
    await sunray.init({
      address: cluster.address,
      token: cluster.token,
      bind: '127.0.0.9',
      tlsCert: certs.node.cert,
      tlsKey: certs.node.key,
      tlsCa: certs.node.ca,
    });
  }, 60_000);
  afterAll(async () => {
    await sunray.shutdown();
    await cluster.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('tasks run and objects move between nodes and the driver', { timeout: 120_000 }, async () => {
    const onB = sunray.remote(
      async (x: Uint8Array) => {
        const { createHash } = await import('node:crypto');
        return createHash('sha256').update(x).digest('hex');
      },
      { resources: { b: 1 } },
    );
    const mine = new Uint8Array(24 * MiB).fill(3);
    expect(await sunray.get(onB.remote(sunray.put(mine)))).toBe(sha(mine));
    // Made on node a, read on node b (a pull between the two nodes) and by the driver.
    const make = sunray.remote((n: number) => new Uint8Array(n).fill(5), { resources: { a: 1 } });
    const big = make.remote(32 * MiB);
    const expected = sha(new Uint8Array(32 * MiB).fill(5));
    expect(await sunray.get(onB.remote(big))).toBe(expected);
    expect(sha((await sunray.get(big)) as Uint8Array)).toBe(expected);
  });

  test('a node with the CA-signed certificate and the token is let in', { timeout: 30_000 }, async () => {
    const c = await dialHead(cluster.address, cluster.token, certs.node);
    expect(c.open).toBe(true);
    c.close('done', false);
  });

  test(
    'a peer whose certificate another CA signed is refused, token or not',
    { timeout: 30_000 },
    async () => {
      // It trusts the cluster's CA, so it would go on: the head refuses its certificate.
      const stranger = { ...certs.stranger, ca: certs.node.ca };
      await expect(dialHead(cluster.address, cluster.token, stranger)).rejects.toThrow(
        /TLS|socket|closed|reset/i,
      );
      // A node started with it does not join.
      await expect(cluster.addNode({ numCpus: 1, ownLoopback: true, tls: stranger })).rejects.toThrow(
        /exited at start/,
      );
    },
  );

  test('a peer with no certificate, or speaking plain TCP, is refused', { timeout: 30_000 }, async () => {
    const [host, port] = splitAddress(cluster.address);
    const noCert = await new Promise<string>((resolve) => {
      const s = tls.connect({ host, port, ca: readFileSync(certs.node.ca), minVersion: 'TLSv1.3' });
      s.on('error', (e) => resolve(`error: ${e.message}`));
      s.on('close', () => resolve('closed'));
      s.on('secureConnect', () => s.write('hello')); // TLS 1.3: the refusal comes after
    });
    expect(noCert).toMatch(/error|closed/);
    await expect(dialHead(cluster.address, cluster.token, undefined)).rejects.toThrow();
  });

  test(
    'a listener whose certificate does not name the address dialed is refused',
    { timeout: 30_000 },
    async () => {
      const only = join(dir, 'only-127.0.0.1');
      mkdirSync(only, { mode: 0o700 });
      const m = loadTls(makeTestCertificates(only, ['127.0.0.1']).node);
      const server = tls.createServer(tlsServerOptions(m), (s) => s.end());
      await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
      try {
        const { port } = server.address() as { port: number };
        const opts = {
          token: cluster.token,
          nodeId: randomBytes(16),
          log: () => {},
          onMessage: () => {},
          tls: m,
        };
        await expect(Conn.dial('127.0.0.2', port, opts, 'a node')).rejects.toThrow(
          /127\.0\.0\.2 is not in the cert/,
        );
      } finally {
        server.close();
      }
    },
  );

  test('the dashboard serves HTTPS only', { timeout: 30_000 }, async () => {
    const head = cluster.nodes[0]!;
    expect(head.dashboardAddress).toBeDefined();
    const ca = readFileSync(certs.node.ca);
    expect(await get(`https://${head.dashboardAddress}/api/cluster`, ca)).toBe(401); // behind the token
    expect(await get(`https://${head.dashboardAddress}/`, ca)).toBe(303); // to the login page
    expect(await get(`http://${head.dashboardAddress}/`)).not.toBe(303);
    // Logging in over HTTPS gives a cookie the browser sends over HTTPS only.
    const cookie = await new Promise<string>((resolve, reject) => {
      const body = new URLSearchParams({ token: cluster.token }).toString();
      const req = https.request(
        `https://${head.dashboardAddress}/login`,
        { method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        (res) => {
          res.resume();
          resolve(String(res.headers['set-cookie'] ?? ''));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(cookie).toContain('; Secure');
    // A client that does not trust the cluster's CA refuses the certificate.
    expect(String(await get(`https://${head.dashboardAddress}/`))).toMatch(/certificate/i);
  });
});

describe('sunray start --tls-cert/--tls-key/--tls-ca', () => {
  let dir: string;
  let certs: TestCertificates;
  let prev: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sunray-tls-cli-test-'));
    certs = makeTestCertificates(dir);
    prev = process.env.SUNRAY_SESSION_DIR;
    process.env.SUNRAY_SESSION_DIR = join(dir, 'session'); // the CLI's children inherit it
  });
  afterAll(async () => {
    await runNode(CLI, ['stop', '--grace-period-ms', '5000']);
    if (prev === undefined) delete process.env.SUNRAY_SESSION_DIR;
    else process.env.SUNRAY_SESSION_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test(
    "a TLS head and node start; status reaches them with the local head's files",
    { timeout: 60_000 },
    async () => {
      const tlsArgs = ['--tls-cert', certs.node.cert, '--tls-key', certs.node.key, '--tls-ca', certs.node.ca];
      const common = [
        '--num-cpus',
        '1',
        '--object-store-memory',
        String(64 << 20),
        '--object-store-warm-ahead',
        '0',
      ];
      const head = await runNode(CLI, [
        'start',
        '--head',
        '--port',
        '0',
        '--bind',
        '127.0.0.31',
        '--dashboard-port',
        '0',
        ...tlsArgs,
        ...common,
      ]);
      expect(head.stderr).toBe('');
      expect(head.stdout).toMatch(/dashboard: https:\/\/127\.0\.0\.1:\d+\//);
      // A node on this machine joins with the head's files (`--address auto`).
      const node = await runNode(CLI, ['start', '--bind', '127.0.0.32', ...common]);
      expect(node.stderr).toBe('');
      const status = await runNode(CLI, ['status', '--json']);
      expect(status.code).toBe(0);
      const nodes = (JSON.parse(status.stdout) as { nodes: { alive: boolean }[] }).nodes;
      expect(nodes.filter((n) => n.alive)).toHaveLength(2);
    },
  );

  test(
    'TLS files are all three or none, and a key others can read is refused',
    { timeout: 30_000 },
    async () => {
      const one = await runNode(CLI, ['start', '--head', '--port', '0', '--tls-cert', certs.node.cert]);
      expect(one.code).not.toBe(0);
      expect(one.stderr).toContain('TLS needs all of --tls-cert, --tls-key and --tls-ca');
      const open = join(dir, 'open.key');
      copyFileSync(certs.node.key, open);
      chmodSync(open, 0o644);
      const r = await runNode(CLI, [
        'start',
        '--head',
        '--port',
        '0',
        '--tls-cert',
        certs.node.cert,
        '--tls-key',
        open,
        '--tls-ca',
        certs.node.ca,
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('readable by every user');
    },
  );
});
