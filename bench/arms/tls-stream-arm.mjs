// The physical peer of the TLS transfer row (bench/suites/tls.ts): a TLS 1.3 stream between
// two node processes on loopback, mutually verified as sunray's nodes are, with no sunray.
// This process sends 256 MiB in 8 MiB writes (two untimed rounds, then argv[2] timed ones);
// a child (argv[2] 'sink') reads each into a buffer of its own, as a pull lands in the arena,
// and acks. Prints {"gbps": [...]}.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { makeTestCertificates } from 'sunray/testing';

const SIZE = 256 * 1024 * 1024;
const CHUNK = 8 * 1024 * 1024;
const [, self, mode, arg] = process.argv;

function options(files) {
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ca: readFileSync(files.ca),
    minVersion: 'TLSv1.3',
  };
}

if (mode === 'sink') {
  const files = JSON.parse(arg);
  const into = Buffer.alloc(SIZE);
  const server = tls.createServer({ ...options(files), requestCert: true, rejectUnauthorized: true }, (c) => {
    let at = 0;
    c.on('data', (d) => {
      d.copy(into, at % SIZE);
      at += d.length;
      if (at % SIZE === 0) c.write('k');
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
} else {
  const count = Number(mode) || 5;
  const dir = mkdtempSync(join(tmpdir(), 'sunray-bench-tls-stream-'));
  const files = makeTestCertificates(dir).node;
  const child = spawn(process.execPath, [self, 'sink', JSON.stringify(files)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise((resolve) =>
      child.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
    );
    const sock = tls.connect({ ...options(files), host: '127.0.0.1', port });
    await new Promise((res, rej) => sock.once('secureConnect', res).once('error', rej));
    let acked;
    sock.on('data', (d) => {
      for (let i = 0; i < d.length; i++) acked?.();
    });
    const chunk = Buffer.alloc(CHUNK, 7);
    const gbps = [];
    for (let i = 0; i < count + 2; i++) {
      const done = new Promise((r) => (acked = r));
      const t0 = performance.now();
      for (let sent = 0; sent < SIZE; sent += CHUNK)
        if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
      await done;
      if (i >= 2) gbps.push(SIZE / 1e6 / (performance.now() - t0));
    }
    sock.destroy();
    console.log(JSON.stringify({ gbps }));
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
