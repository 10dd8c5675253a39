// The cluster config of `sunray up cluster.yaml`: parsed with the `yaml` package and
// checked key by key, so a bad config fails with AutoscalerConfigError naming the key
// (its path, `nodeTypes.gpu.maxWorkers`) before anything starts. Unknown keys are
// refused too: a misspelled `idleTimeoutMinute` must not silently mean the default.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { AutoscalerConfigError } from '../base/errors.js';
import { checkLabels } from '../protocol/node-labels.js';

/** One kind of node the autoscaler may launch. */
export interface NodeTypeConfig {
  /** What one node of this type offers ({ CPU: 4, GPU: 1, special: 1 }). */
  resources: Record<string, number>;
  /** Nodes of this type kept at all times (default 0). */
  minWorkers: number;
  /** Most nodes of this type at once. */
  maxWorkers: number;
  /** Labels its nodes are started with (beyond the node type's own). */
  labels: Record<string, string>;
  /** Bytes of each node's object store (default: sunray's default). */
  objectStoreMemory?: number;
}

/** The `local` provider: nodes are `sunray start` processes on this machine. */
export interface LocalProviderConfig {
  type: 'local';
}

/** The `ssh` provider: a node is started on each host of a list, over the system ssh client. */
export interface SshProviderConfig {
  type: 'ssh';
  /** Hosts (`host` or `user@host`), one node each at most. */
  hosts: string[];
  /** Login user for hosts that do not name one. */
  user?: string;
  /** Extra arguments of ssh (`['-i', '~/.ssh/key', '-p', '2222']`). */
  sshArgs: string[];
  /** How `sunray` is run on the hosts (default `npx sunray`). */
  sunrayCommand: string;
  /** The head's address as the hosts reach it (default: the head's listening address). */
  headAddress?: string;
}

/** The `command` provider: four shell commands of the user's create, list, address and remove nodes. */
export interface CommandProviderConfig {
  type: 'command';
  /** Creates a node; prints its id on stdout (or nothing: the {name} is its id). */
  create: string;
  /** Removes the node {id}. */
  terminate: string;
  /** Prints the ids of this cluster's nodes, one per line (words after the id are ignored). */
  list: string;
  /** Prints the address (host) of node {id}. */
  address: string;
  /** The head's address as the nodes reach it (default: the head's listening address). */
  headAddress?: string;
  /** Most seconds a command may run (default 300). */
  timeoutSeconds: number;
}

export type ProviderConfig = LocalProviderConfig | SshProviderConfig | CommandProviderConfig;

/** The head node of the cluster. */
export interface HeadConfig {
  port: number;
  bind: string;
  /** Resources the head offers (CPU, GPU, custom); absent: the machine's CPUs, as `sunray start`. */
  resources?: Record<string, number>;
  labels: Record<string, string>;
  /** Serve the dashboard on this port. */
  dashboardPort?: number;
  /** Bytes of the head's object store (default: sunray's default). */
  objectStoreMemory?: number;
}

/** A cluster config, checked. */
export interface ClusterConfig {
  clusterName: string;
  /** Most worker nodes (all types together). */
  maxWorkers: number;
  /** A node idle this long is removed (fractions allowed: 0.05 is 3 s). */
  idleTimeoutMinutes: number;
  /** How many nodes of a type may be launching, as a multiple of the running ones (at least 5). */
  upscalingSpeed: number;
  /** Seconds between the autoscaler's rounds (default 5). */
  updateIntervalSeconds: number;
  head: HeadConfig;
  nodeTypes: Record<string, NodeTypeConfig>;
  provider: ProviderConfig;
}

type Obj = Record<string, unknown>;

function fail(key: string, what: string): never {
  throw new AutoscalerConfigError(`cluster config: ${key ? `'${key}' ` : ''}${what}`, key);
}

function object(v: unknown, key: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(key, 'must be a mapping of keys to values');
  return v as Obj;
}

/** Refuses keys of o that are not in allowed, naming the first and the keys allowed. */
function onlyKeys(o: Obj, allowed: readonly string[], at: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      const where = at ? `${at}.${k}` : k;
      fail(where, `is not a known key (known here: ${allowed.join(', ')})`);
    }
  }
}

function num(
  o: Obj,
  k: string,
  at: string,
  opts: { min?: number; int?: boolean; def?: number; max?: number } = {},
): number {
  const key = at ? `${at}.${k}` : k;
  const v = o[k];
  if (v === undefined || v === null) {
    if (opts.def !== undefined) return opts.def;
    fail(key, 'is required');
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(key, `must be a number, got ${JSON.stringify(v)}`);
  if (opts.int && !Number.isInteger(v)) fail(key, `must be a whole number, got ${v}`);
  if (opts.min !== undefined && v < opts.min) fail(key, `must be at least ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) fail(key, `must be at most ${opts.max}, got ${v}`);
  return v;
}

function str(o: Obj, k: string, at: string, def?: string): string {
  const key = at ? `${at}.${k}` : k;
  const v = o[k];
  if (v === undefined || v === null) {
    if (def !== undefined) return def;
    fail(key, 'is required');
  }
  if (typeof v !== 'string' || v.trim() === '')
    fail(key, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** A name used in labels and shell commands: letters, digits, - _ . (alphanumeric ends), up to 40. */
const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?$/;

function resources(v: unknown, key: string): Record<string, number> {
  const o = object(v ?? {}, key);
  const out: Record<string, number> = {};
  for (const [name, amount] of Object.entries(o)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.:-]*$/.test(name)) fail(`${key}.${name}`, 'is not a valid resource name');
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
      fail(`${key}.${name}`, `must be a number >= 0, got ${JSON.stringify(amount)}`);
    if (amount > 1 && !Number.isInteger(amount))
      fail(`${key}.${name}`, `amounts above 1 must be whole numbers, got ${amount}`);
    out[name] = amount;
  }
  return out;
}

function labels(v: unknown, key: string): Record<string, string> {
  try {
    return checkLabels(v, key);
  } catch (err) {
    return fail(key, (err as Error).message.replace(`${key}: `, ''));
  }
}

function nodeType(v: unknown, at: string): NodeTypeConfig {
  const o = object(v, at);
  onlyKeys(o, ['resources', 'minWorkers', 'maxWorkers', 'labels', 'objectStoreMemory'], at);
  if (o.resources === undefined) fail(`${at}.resources`, 'is required');
  const res = resources(o.resources, `${at}.resources`);
  if (Object.values(res).every((x) => x === 0)) fail(`${at}.resources`, 'must offer some resource');
  const minWorkers = num(o, 'minWorkers', at, { min: 0, int: true, def: 0 });
  const maxWorkers = num(o, 'maxWorkers', at, { min: 0, int: true });
  if (minWorkers > maxWorkers)
    fail(`${at}.minWorkers`, `(${minWorkers}) must not exceed maxWorkers (${maxWorkers})`);
  const out: NodeTypeConfig = {
    resources: res,
    minWorkers,
    maxWorkers,
    labels: labels(o.labels, `${at}.labels`),
  };
  if (o.objectStoreMemory !== undefined)
    out.objectStoreMemory = num(o, 'objectStoreMemory', at, { min: 1 << 20, int: true });
  return out;
}

function stringList(v: unknown, key: string): string[] {
  if (!Array.isArray(v)) fail(key, 'must be a list of strings');
  for (const [i, x] of v.entries()) {
    if (typeof x !== 'string' || x === '') fail(`${key}[${i}]`, 'must be a non-empty string');
  }
  return v as string[];
}

function provider(v: unknown): ProviderConfig {
  const at = 'provider';
  const o = object(v, at);
  const type = str(o, 'type', at);
  if (type === 'local') {
    onlyKeys(o, ['type'], at);
    return { type };
  }
  if (type === 'ssh') {
    onlyKeys(o, ['type', 'hosts', 'user', 'sshArgs', 'sunrayCommand', 'headAddress'], at);
    const hosts = stringList(o.hosts, `${at}.hosts`);
    if (hosts.length === 0) fail(`${at}.hosts`, 'must name at least one host');
    for (const [i, h] of hosts.entries()) {
      // A host is one ssh destination: no spaces, no option that ssh would read as a flag.
      if (!/^[A-Za-z0-9_.@:[\]-]+$/.test(h) || h.startsWith('-'))
        fail(`${at}.hosts[${i}]`, `is not a host name, got ${JSON.stringify(h)}`);
    }
    const out: SshProviderConfig = {
      type,
      hosts,
      sshArgs: o.sshArgs === undefined ? [] : stringList(o.sshArgs, `${at}.sshArgs`),
      sunrayCommand: str(o, 'sunrayCommand', at, 'npx sunray'),
    };
    if (o.user !== undefined) out.user = str(o, 'user', at);
    if (o.headAddress !== undefined) out.headAddress = str(o, 'headAddress', at);
    return out;
  }
  if (type === 'command') {
    onlyKeys(o, ['type', 'create', 'terminate', 'list', 'address', 'headAddress', 'timeoutSeconds'], at);
    const out: CommandProviderConfig = {
      type,
      create: str(o, 'create', at),
      terminate: str(o, 'terminate', at),
      list: str(o, 'list', at),
      address: str(o, 'address', at),
      timeoutSeconds: num(o, 'timeoutSeconds', at, { min: 1, def: 300 }),
    };
    if (o.headAddress !== undefined) out.headAddress = str(o, 'headAddress', at);
    return out;
  }
  return fail(`${at}.type`, `must be local, ssh or command, got ${JSON.stringify(type)}`);
}

function head(v: unknown): HeadConfig {
  const at = 'head';
  const o = object(v ?? {}, at);
  onlyKeys(o, ['port', 'bind', 'resources', 'labels', 'dashboardPort', 'objectStoreMemory'], at);
  const out: HeadConfig = {
    port: num(o, 'port', at, { min: 0, max: 65535, int: true, def: 6380 }),
    bind: str(o, 'bind', at, '127.0.0.1'),
    labels: labels(o.labels, `${at}.labels`),
  };
  if (o.resources !== undefined) out.resources = resources(o.resources, `${at}.resources`);
  if (o.dashboardPort !== undefined)
    out.dashboardPort = num(o, 'dashboardPort', at, { min: 0, max: 65535, int: true });
  if (o.objectStoreMemory !== undefined)
    out.objectStoreMemory = num(o, 'objectStoreMemory', at, { min: 1 << 20, int: true });
  return out;
}

/** Checks a parsed config (an object from YAML or JSON); AutoscalerConfigError names the bad key. */
export function checkClusterConfig(raw: unknown): ClusterConfig {
  const o = object(raw, '');
  onlyKeys(
    o,
    [
      'clusterName',
      'maxWorkers',
      'idleTimeoutMinutes',
      'upscalingSpeed',
      'updateIntervalSeconds',
      'head',
      'nodeTypes',
      'provider',
    ],
    '',
  );
  const clusterName = str(o, 'clusterName', '', 'default');
  if (!NAME.test(clusterName)) fail('clusterName', 'must be letters, digits, - _ . (up to 40)');
  if (o.nodeTypes === undefined) fail('nodeTypes', 'is required (at least one node type)');
  const typesIn = object(o.nodeTypes, 'nodeTypes');
  const nodeTypes: Record<string, NodeTypeConfig> = {};
  for (const [name, t] of Object.entries(typesIn)) {
    if (!NAME.test(name))
      fail(`nodeTypes.${name}`, 'is not a valid node type name (letters, digits, - _ ., up to 40)');
    nodeTypes[name] = nodeType(t, `nodeTypes.${name}`);
  }
  if (Object.keys(nodeTypes).length === 0) fail('nodeTypes', 'must name at least one node type');
  const sumMax = Object.values(nodeTypes).reduce((s, t) => s + t.maxWorkers, 0);
  const maxWorkers = num(o, 'maxWorkers', '', { min: 0, int: true, def: sumMax });
  const sumMin = Object.values(nodeTypes).reduce((s, t) => s + t.minWorkers, 0);
  if (sumMin > maxWorkers)
    fail('maxWorkers', `(${maxWorkers}) is below the node types' minWorkers together (${sumMin})`);
  if (o.provider === undefined) fail('provider', 'is required (e.g. provider: { type: local })');
  return {
    clusterName,
    maxWorkers,
    idleTimeoutMinutes: num(o, 'idleTimeoutMinutes', '', { min: 0, def: 5 }),
    upscalingSpeed: num(o, 'upscalingSpeed', '', { min: 0, def: 1 }),
    updateIntervalSeconds: num(o, 'updateIntervalSeconds', '', { min: 0.1, max: 3600, def: 5 }),
    head: head(o.head),
    nodeTypes,
    provider: provider(o.provider),
  };
}

/** Parses YAML (or JSON, a subset) text of a cluster config and checks it. */
export function parseClusterConfig(text: string, file = ''): ClusterConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new AutoscalerConfigError(
      `cluster config${file ? ` ${file}` : ''} is not valid YAML: ${(err as Error).message}`,
    );
  }
  try {
    return checkClusterConfig(raw);
  } catch (err) {
    if (err instanceof AutoscalerConfigError && file) {
      throw new AutoscalerConfigError(
        err.message.replace('cluster config:', `cluster config ${file}:`),
        err.key,
      );
    }
    throw err;
  }
}

/** Reads and checks a cluster config file. */
export function loadClusterConfig(file: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AutoscalerConfigError(`cannot read the cluster config ${file}: ${(err as Error).message}`);
  }
  return parseClusterConfig(text, file);
}
