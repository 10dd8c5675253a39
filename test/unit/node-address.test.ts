// How a node chooses the address it binds and the one it advertises (lib/cluster/node-address.ts).
import { describe, expect, test } from 'vitest';
import {
  chooseAddresses,
  formatAddress,
  localAddressToward,
  resolveAddresses,
} from '../../lib/cluster/node-address.js';
import { splitAddress } from '../../lib/cluster/peers.js';

const local = (ips: string[]) => (ip: string) => ips.includes(ip) || ip.startsWith('127.');

describe('chooseAddresses', () => {
  test('a head with nothing given binds and advertises loopback', () => {
    expect(chooseAddresses({ isLocal: local([]), external: '10.0.0.5' })).toEqual({
      bind: '127.0.0.1',
      advertise: '127.0.0.1',
    });
  });

  test('a given bind address is advertised as it is', () => {
    expect(chooseAddresses({ bind: '127.0.0.3', isLocal: local([]), routeToHead: '127.0.0.1' })).toEqual({
      bind: '127.0.0.3',
      advertise: '127.0.0.3',
    });
  });

  test('a wildcard bind is never advertised: the route to the head, else the external address', () => {
    const joined = chooseAddresses({
      bind: '0.0.0.0',
      routeToHead: '10.1.0.7',
      external: '192.168.1.2',
      isLocal: local([]),
    });
    expect(joined).toEqual({ bind: '0.0.0.0', advertise: '10.1.0.7' });
    const head = chooseAddresses({ bind: '0.0.0.0', external: '192.168.1.2', isLocal: local([]) });
    expect(head).toEqual({ bind: '0.0.0.0', advertise: '192.168.1.2' });
    const alone = chooseAddresses({ bind: '::', isLocal: local([]) });
    expect(alone).toEqual({ bind: '::', advertise: '127.0.0.1' });
  });

  test('a joining node with no bind listens where the head can reach it', () => {
    expect(chooseAddresses({ routeToHead: '10.1.0.7', isLocal: local(['10.1.0.7']) })).toEqual({
      bind: '10.1.0.7',
      advertise: '10.1.0.7',
    });
  });

  test('--node-ip-address is advertised, and bound when it is this machine s', () => {
    expect(chooseAddresses({ nodeIpAddress: '10.1.0.8', isLocal: local(['10.1.0.8']) })).toEqual({
      bind: '10.1.0.8',
      advertise: '10.1.0.8',
    });
    // Behind a NAT: not ours, so the listener binds the route to the head.
    expect(
      chooseAddresses({
        nodeIpAddress: '203.0.113.9',
        routeToHead: '10.1.0.7',
        isLocal: local(['10.1.0.7']),
      }),
    ).toEqual({ bind: '10.1.0.7', advertise: '203.0.113.9' });
    expect(chooseAddresses({ bind: '0.0.0.0', nodeIpAddress: '10.1.0.8', isLocal: local([]) })).toEqual({
      bind: '0.0.0.0',
      advertise: '10.1.0.8',
    });
  });

  test('a node IP that is no IP, or a wildcard, is refused', () => {
    for (const bad of ['0.0.0.0', '::', 'head.example', '10.0.0', ''])
      expect(() => chooseAddresses({ nodeIpAddress: bad, isLocal: local([]) })).toThrow(
        expect.objectContaining({ code: 'SUNRAY_INVALID_ARGUMENT' }),
      );
  });

  test('IPv6 addresses are bracketed with their port, and split back bare', () => {
    expect(formatAddress('::1', 6380)).toBe('[::1]:6380');
    expect(formatAddress('10.0.0.1', 6380)).toBe('10.0.0.1:6380');
    expect(splitAddress('[::1]:6380')).toEqual(['::1', 6380]);
    expect(chooseAddresses({ bind: '[::1]', isLocal: local([]) }).advertise).toBe('::1');
  });
});

describe('the route to the head', () => {
  test('a head on loopback is reached from a loopback address', async () => {
    expect(await localAddressToward('127.0.0.2')).toMatch(/^127\./);
    const at = await resolveAddresses({ headHost: '127.0.0.2' });
    expect(at.bind).toMatch(/^127\./);
    expect(at.advertise).toBe(at.bind);
  });

  test('a name that does not resolve gives no route, and the node falls back to loopback', async () => {
    expect(await localAddressToward('no-such-host.invalid')).toBeUndefined();
    expect(await resolveAddresses({ headHost: 'no-such-host.invalid' })).toEqual({
      bind: '127.0.0.1',
      advertise: '127.0.0.1',
    });
  });
});
