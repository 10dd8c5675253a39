// Which head a CLI verb talks to, and with which token: --address, else the head started on
// this machine (its session directory); --token, else $SUNRAY_CLUSTER_TOKEN, else the
// session directory's. Shared by `sunray status`, `list` and `summary`.
import { InvalidArgumentError } from '../base/errors.js';
import { checkToken } from '../cluster/auth.js';
import { loadHead } from '../session/session-dir.js';
import { type FlagSpec, type Flags, stringFlag } from './args.js';

/** The --address and --token flags of verbs that talk to a head. */
export const HEAD_FLAGS: Record<'address' | 'token', FlagSpec> = {
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
};

/** The head's address and the cluster token, from the flags, the environment or this machine. */
export function headTarget(f: Flags): { address: string; token: string } {
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
  return { address, token };
}
