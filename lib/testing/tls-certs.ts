// Throwaway TLS files for tests and benchmarks of TLS clusters: a CA, and node
// certificates it signs for given IP addresses, made with the `openssl` command
// (P-256 keys, valid one day). Not for real clusters: their CA is yours.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsFiles } from '../cluster/tls.js';

/** Files made by makeTestCertificates (all PEM, in the directory given). */
export interface TestCertificates {
  /** A node certificate and key the CA signed, for every IP asked: give it to every node. */
  node: TlsFiles;
  /** The CA's own key (to sign more, or to see that it is not a node's). */
  caKey: string;
  /** A certificate signed by another CA (a peer that must be refused), with its key and CA. */
  stranger: TlsFiles;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A fresh P-256 key (`name`.key) with a request for `cn`: a self-signed certificate (`name`.pem) with `x509`, else a CSR (`name`.csr). */
function newKey(dir: string, name: string, cn: string, x509: boolean): void {
  const out = x509 ? ['-x509', '-days', '1', '-out', `${name}.pem`] : ['-out', `${name}.csr`];
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      ...out,
      '-subj',
      `/CN=${cn}`,
    ],
    dir,
  );
}

/** A CA (`name`.pem, `name`.key) in dir, named cn. */
function makeCa(dir: string, name: string, cn: string): void {
  newKey(dir, name, cn, true);
}

/** A certificate `name`.pem (key `name`.key) signed by CA `ca`, for the IPs (SANs), client and server use. */
function makeSigned(dir: string, name: string, ca: string, ips: string[]): void {
  newKey(dir, name, `sunray-${name}`, false);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    [
      `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      '',
    ].join('\n'),
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      ext,
    ],
    dir,
  );
  chmodSync(join(dir, `${name}.key`), 0o600);
}

/**
 * Makes a CA and a node certificate it signs for `ips` (default 127.0.0.1-127.0.0.40, the
 * loopback addresses tests give nodes), and a stranger's certificate from another CA, in
 * `dir` (which must exist and be private: the keys are written there). Needs `openssl`.
 */
export function makeTestCertificates(dir: string, ips?: string[]): TestCertificates {
  const addresses = ips ?? Array.from({ length: 40 }, (_, i) => `127.0.0.${i + 1}`);
  makeCa(dir, 'ca', 'sunray test CA');
  chmodSync(join(dir, 'ca.key'), 0o600);
  makeSigned(dir, 'node', 'ca', addresses);
  makeCa(dir, 'other-ca', 'another CA');
  makeSigned(dir, 'stranger', 'other-ca', addresses);
  return {
    node: { cert: join(dir, 'node.pem'), key: join(dir, 'node.key'), ca: join(dir, 'ca.pem') },
    caKey: join(dir, 'ca.key'),
    stranger: {
      cert: join(dir, 'stranger.pem'),
      key: join(dir, 'stranger.key'),
      ca: join(dir, 'other-ca.pem'),
    },
  };
}
