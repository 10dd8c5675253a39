// Node labels (Ray's node labels): key/value strings a node is started with (init's `labels`,
// `sunray start --labels`) and listed by nodes(), beside the ones sunray sets itself under
// the reserved `sunray.io/` prefix (the node's id). Checked once, where they are given, with
// Ray's rules for keys and values.
import { InvalidArgumentError } from '../base/errors.js';

/** The label sunray gives every node: its id (hex). */
export const NODE_ID_LABEL = 'sunray.io/node-id';

/** The prefix of the labels sunray sets: not for users. */
const RESERVED_PREFIX = 'sunray.io/';

/**
 * The reserved labels a node may be started with: the autoscaler's providers name the node
 * type and instance of the nodes they launch (`sunray start --labels`), and a head that runs
 * an autoscaler says so (protocol/autoscaler.ts).
 */
const STARTED_WITH = new Set(['sunray.io/node-type', 'sunray.io/instance', 'sunray.io/autoscaler']);

/** A label name or value: up to 63 characters, alphanumeric at both ends, with - _ . between. */
const NAME = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)$/;
/** An optional key prefix: a DNS subdomain of up to 253 characters. */
const PREFIX = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/** The labels as given, checked (InvalidArgumentError naming `where` and the bad one). */
export function checkLabels(labels: unknown, where: string): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new InvalidArgumentError(`${where}: labels must be an object of strings, e.g. { zone: 'a' }`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (key.startsWith(RESERVED_PREFIX) && !STARTED_WITH.has(key)) {
      throw new InvalidArgumentError(
        `${where}: the label '${key}' is sunray's own (the ${RESERVED_PREFIX} prefix is reserved)`,
      );
    }
    const slash = key.lastIndexOf('/');
    const prefix = slash < 0 ? undefined : key.slice(0, slash);
    const name = slash < 0 ? key : key.slice(slash + 1);
    if (!NAME.test(name) || (prefix !== undefined && !PREFIX.test(prefix))) {
      throw new InvalidArgumentError(
        `${where}: the label key '${key}' is not valid: [prefix/]name, the name up to 63 letters, ` +
          'digits, - _ . (starting and ending with a letter or digit), the prefix a DNS subdomain',
      );
    }
    if (typeof value !== 'string' || (value !== '' && !NAME.test(value))) {
      throw new InvalidArgumentError(
        `${where}: the label '${key}' must have a string value of up to 63 letters, digits, - _ . ` +
          `(starting and ending with a letter or digit), got ${JSON.stringify(value)}`,
      );
    }
    out[key] = value;
  }
  return out;
}
