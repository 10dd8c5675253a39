// Where a node listens and the address it gives the other nodes (Ray's
// --node-ip-address). A node must never advertise 0.0.0.0, nor 127.0.0.1 when it
// joins a head on another machine: other nodes dial exactly what it advertises.
// The choice is made by chooseAddresses (pure, unit-tested); resolveAddresses
// gathers what it needs from the machine (the route to the head, the interfaces).
import dgram from 'node:dgram';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { InvalidArgumentError } from '../base/errors.js';

/** Where a node listens, and the host other nodes reach it at. */
export interface NodeAddresses {
  /** The address the listener binds. */
  bind: string;
  /** The host (an IP) other nodes dial, never a wildcard. */
  advertise: string;
}

/** What chooseAddresses decides from: the user's flags and facts about this machine. */
export interface AddressFacts {
  /** `--bind` / init({ bind }), if given. */
  bind?: string | undefined;
  /** `--node-ip-address` / init({ nodeIpAddress }), if given. */
  nodeIpAddress?: string | undefined;
  /** This machine's address on the route to the head (undefined on the head, or unknown). */
  routeToHead?: string | undefined;
  /** This machine's first non-internal IPv4 address, if it has one. */
  external?: string | undefined;
  /** Whether an address is one of this machine's (so a listener can bind it). */
  isLocal: (ip: string) => boolean;
}

/** 0.0.0.0 or :: (every interface): bindable, never something to dial. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** Checks a --node-ip-address: an IP address, not a wildcard. */
export function checkNodeIp(ip: string, what: string): string {
  if (net.isIP(ip) === 0 || isWildcard(ip))
    throw new InvalidArgumentError(
      `${what} must be this node's IP address as other nodes reach it (like 10.0.0.7), got '${ip}'`,
    );
  return ip;
}

/**
 * The addresses to bind and advertise:
 * - advertised: --node-ip-address; else the bind address unless it is a wildcard; else the
 *   route to the head, the first external IPv4 (a head), or 127.0.0.1.
 * - bound: --bind; else --node-ip-address when it is this machine's; else the route to the
 *   head (the interface other nodes of this cluster reach us on); else 127.0.0.1.
 */
export function chooseAddresses(f: AddressFacts): NodeAddresses {
  const ip = f.nodeIpAddress !== undefined ? checkNodeIp(f.nodeIpAddress, 'the node IP address') : undefined;
  const bind = f.bind ?? (ip !== undefined && f.isLocal(ip) ? ip : undefined) ?? f.routeToHead ?? '127.0.0.1';
  const advertise =
    ip ?? (isWildcard(bind) ? (f.routeToHead ?? f.external ?? '127.0.0.1') : bind.replace(/^\[|\]$/g, ''));
  return { bind, advertise };
}

/** host:port, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The local address this machine sends from toward host (a UDP socket connect()ed to it:
 * no packet is sent; the kernel picks the route and the source). Undefined when there is no
 * route, the name does not resolve, or it takes over a second.
 */
export function localAddressToward(host: string): Promise<string | undefined> {
  const bare = host.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const s = dgram.createSocket(net.isIPv6(bare) ? 'udp6' : 'udp4');
    const done = (a: string | undefined) => {
      clearTimeout(t);
      s.close();
      resolve(a);
    };
    const t = setTimeout(() => done(undefined), 1000);
    s.on('error', () => done(undefined));
    s.connect(9, bare, (err?: Error) => {
      if (err) return done(undefined);
      try {
        done(s.address().address);
      } catch {
        done(undefined);
      }
    });
  });
}

/** Whether ip is one of this machine's addresses (all of 127/8 is, on Linux). */
function isLocalAddress(ip: string): boolean {
  if (net.isIPv4(ip) && ip.startsWith('127.')) return true;
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) if (i.address === ip) return true;
  return false;
}

function firstExternalIpv4(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  return undefined;
}

/** chooseAddresses with this machine's facts; headHost is the head's host (none on the head). */
export async function resolveAddresses(o: {
  bind?: string | undefined;
  nodeIpAddress?: string | undefined;
  headHost?: string | undefined;
}): Promise<NodeAddresses> {
  const needRoute = o.headHost !== undefined && (o.bind === undefined || isWildcard(o.bind));
  const routeToHead =
    needRoute && o.headHost !== undefined ? await localAddressToward(o.headHost) : undefined;
  return chooseAddresses({
    bind: o.bind,
    nodeIpAddress: o.nodeIpAddress,
    routeToHead,
    external: firstExternalIpv4(),
    isLocal: isLocalAddress,
  });
}
