// A plain TCP stream between two node processes on loopback: the physical peer of moving
// an object between two nodes on this machine.

import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { onCleanup } from '../harness/cleanup.js';
import { rate } from '../harness/timing.js';
import type { Benchmark } from '../harness/types.js';

const SINK = fileURLToPath(new URL('./tcp-sink.mjs', import.meta.url));
export const TRANSFER_BYTES = 1024 ** 3;
export const TCP = 'TCP loopback stream, 2 node processes, 1 GiB';
const CHUNK = 8 * 1024 * 1024;

async function startSink(bytes: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [SINK, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup('tcp sink', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(Number(buf.trim()));
    });
    child.on('exit', (c) => reject(new Error(`tcp sink exited (${c})`)));
  });
  return { child, port };
}

/**
 * A loopback connection to a sink process; round() sends it TRANSFER_BYTES in 8 MiB
 * writes and resolves when the sink has acknowledged all of them.
 */
export async function openTcpStream(): Promise<{ round(): Promise<void>; close(): void }> {
  const { child, port } = await startSink(TRANSFER_BYTES);
  const sock = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  sock.setNoDelay(true);
  const chunk = Buffer.alloc(CHUNK, 7);
  let ackWaiter: (() => void) | undefined;
  sock.on('data', (d) => {
    for (let i = 0; i < d.length; i++) ackWaiter?.();
  });
  return {
    async round() {
      const acked = new Promise<void>((r) => (ackWaiter = r));
      for (let sent = 0; sent < TRANSFER_BYTES; sent += CHUNK) {
        if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
      }
      await acked;
    },
    close() {
      sock.destroy();
      child.kill('SIGKILL');
    },
  };
}

export const tcpBaselines: Benchmark[] = [
  {
    name: TCP,
    group: 'baseline',
    kind: 'baseline',
    shape: '1 GiB written in 8 MiB chunks over one loopback socket to another node process, which acks',
    async run(ctx) {
      const tcp = await openTcpStream();
      try {
        return await rate(() => tcp.round(), ctx, { units: TRANSFER_BYTES / 1e9, unit: 'GB/s' });
      } finally {
        tcp.close();
      }
    },
  },
];
