// Optional TLS under every cluster connection (`--tls-cert/--tls-key/--tls-ca`): both
// sides present a certificate signed by the cluster's CA and check the other's (mutual
// TLS); the token handshake (connection.ts) still runs first inside it. Files are given
// by path (never the key itself on a command line) and read once, at start.
import { readFileSync, statSync } from 'node:fs';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { InvalidArgumentError } from '../base/errors.js';

/** Paths of a node's TLS files (PEM). */
export interface TlsFiles {
  /** This node's certificate (with its chain), signed by the CA. */
  cert: string;
  /** Its private key: a file only you can read (group-readable at most). */
  key: string;
  /** The cluster's CA certificate(s): peers must present a certificate it signed. */
  ca: string;
}

/** The TLS files, read. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** Where they were read from (to say so, and for processes started from this one). */
  files: TlsFiles;
}

/** The TLS handshake must be done within this (a peer that stalls it holds a socket). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5000;

/**
 * The TLS files from three optional paths (flags or init options named by `names`): all
 * three or none; InvalidArgumentError for one or two.
 */
export function tlsFilesOf(
  given: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined },
  names: { cert: string; key: string; ca: string },
): TlsFiles | undefined {
  const { cert, key, ca } = given;
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (!cert || !key || !ca)
    throw new InvalidArgumentError(
      `TLS needs all of ${names.cert}, ${names.key} and ${names.ca} (paths of PEM files); got only ` +
        [cert && names.cert, key && names.key, ca && names.ca].filter(Boolean).join(' and '),
    );
  return { cert, key, ca };
}

/** Reads the files; InvalidArgumentError names the one that cannot be read or a key others can read. */
export function loadTls(files: TlsFiles): TlsMaterial {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new InvalidArgumentError(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const key = read(files.key, 'key');
  if ((statSync(files.key).mode & 0o004) !== 0)
    throw new InvalidArgumentError(
      `the TLS key ${files.key} is readable by every user of this machine: chmod 600 it`,
    );
  return { cert: read(files.cert, 'certificate'), key, ca: read(files.ca, 'CA certificate'), files };
}

/** A listener's options: its certificate, and peers must present one the CA signed. */
export function tlsServerOptions(m: TlsMaterial): TlsOptions {
  return {
    cert: m.cert,
    key: m.key,
    ca: m.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
  };
}

/**
 * A dialer's options: its certificate, and the listener's must be signed by the CA and name
 * the host dialed (an IP address SAN for an address, as nodes advertise).
 */
export function tlsClientOptions(m: TlsMaterial): ConnectionOptions {
  return { cert: m.cert, key: m.key, ca: m.ca, rejectUnauthorized: true, minVersion: 'TLSv1.3' };
}
