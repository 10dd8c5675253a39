// Which head a CLI verb talks to, and with which token: --address, else the head started on
// this machine (its session directory); --token, else $SUNRAY_CLUSTER_TOKEN, else the
// session directory's; TLS files from --tls-*, else the local head's. Shared by
// `sunray status`, `list`, `get`, `logs` and `timeline`.
import { resolve } from 'node:path';
import { InvalidArgumentError } from '../base/errors.js';
import { checkToken } from '../cluster/auth.js';
import type { HeadAuth } from '../cluster/status.js';
import { loadTls, tlsFilesOf } from '../cluster/tls.js';
import { loadHead } from '../session/session-dir.js';
import { type FlagSpec, type Flags, stringFlag } from './args.js';

/** The --address and --token flags of verbs that talk to a head. */
export const HEAD_FLAGS: Record<'address' | 'token' | 'tls-cert' | 'tls-key' | 'tls-ca', FlagSpec> = {
  address: {
    type: 'string',
    value: 'HOST:PORT',
    help: 'the head (default: the one started on this machine)',
  },
  token: {
    type: 'string',
    value: 'TOKEN',
    help: 'the cluster token (default: $SUNRAY_CLUSTER_TOKEN, then the session directory)',
  },
  'tls-cert': {
    type: 'string',
    value: 'FILE',
    help: "for a TLS cluster: a certificate the cluster's CA signed (default: the local head's)",
  },
  'tls-key': { type: 'string', value: 'FILE', help: 'for a TLS cluster: its private key' },
  'tls-ca': { type: 'string', value: 'FILE', help: "for a TLS cluster: the cluster's CA certificate" },
};

/**
 * The head's address and what reaching it takes (the cluster token; TLS files for a TLS
 * cluster), from the flags, the environment or this machine.
 */
export function headTarget(f: Flags): { address: string; auth: HeadAuth } {
  const local = loadHead();
  const address = stringFlag(f, 'address') ?? local?.address;
  const flagToken = stringFlag(f, 'token');
  const envToken = process.env.SUNRAY_CLUSTER_TOKEN || undefined;
  let token = local?.token;
  if (flagToken !== undefined) token = checkToken(flagToken, '--token');
  else if (envToken !== undefined) token = checkToken(envToken, 'SUNRAY_CLUSTER_TOKEN');
  if (!address || !token) {
    throw new InvalidArgumentError(
      'no cluster started on this machine: give --address HOST:PORT (and the token in $SUNRAY_CLUSTER_TOKEN), ' +
        'or run `sunray start --head`',
    );
  }
  const given = tlsFilesOf(
    { cert: stringFlag(f, 'tls-cert'), key: stringFlag(f, 'tls-key'), ca: stringFlag(f, 'tls-ca') },
    { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' },
  );
  const files = given
    ? { cert: resolve(given.cert), key: resolve(given.key), ca: resolve(given.ca) }
    : address === local?.address
      ? local.tls
      : undefined;
  return { address, auth: { token, tls: files ? loadTls(files) : undefined } };
}
