// SO_RCVLOWAT through the addon (setRecvLowWater), on a real loopback TCP connection:
// what object pulls use to wake once per chunk rather than once per few hundred KiB.
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { native } from '../../lib/base/addon.js';

const open: net.Socket[] = [];
let server: net.Server | undefined;

afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A connected pair: [the dialing side, the accepted side]. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const accepted = new Promise<net.Socket>((resolve) => {
    server = net.createServer(resolve);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const { port } = server!.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => client.once('connect', r).once('error', j));
  const peer = await accepted;
  open.push(client, peer);
  return [client, peer];
}

const fdOf = (s: net.Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('setRecvLowWater', () => {
  test('a socket reads as readable only once the low-water mark of bytes is queued', async () => {
    const [client, peer] = await pair();
    native.setRecvLowWater(fdOf(peer), 1000);
    const got: number[] = [];
    peer.on('data', (d: Buffer) => got.push(d.length));
    client.write(Buffer.alloc(600, 1));
    await sleep(150);
    expect(got).toEqual([]); // 600 bytes queued, below the mark: no read yet
    client.write(Buffer.alloc(400, 2));
    await expect.poll(() => got.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(got[0]).toBe(1000); // one read took them all
  });

  test('lowering the mark wakes a reader for what is already queued', async () => {
    const [client, peer] = await pair();
    native.setRecvLowWater(fdOf(peer), 1 << 20);
    let got = 0;
    peer.on('data', (d: Buffer) => {
      got += d.length;
    });
    client.write(Buffer.alloc(10_000, 3));
    await sleep(150);
    expect(got).toBe(0);
    native.setRecvLowWater(fdOf(peer), 1);
    await expect.poll(() => got).toBe(10_000);
  });

  test('bad arguments are refused with a named error', () => {
    expect(() => (native.setRecvLowWater as (fd: unknown, bytes: number) => void)('x', 1)).toThrow(TypeError);
    expect(() => native.setRecvLowWater(3, 0)).toThrow(RangeError);
    expect(() => native.setRecvLowWater(1_000_000, 10)).toThrow(/SO_RCVLOWAT/);
  });
});
