// What TLS costs a transfer between two nodes (#21): a 256 MiB object moved from the
// driver's node to a task on another node, in a cluster with every connection over TLS
// and in one over plain TCP, alternately (a noisy machine: runs taken at the same
// moments), next to a bare TLS stream between two node processes (its physical peer);
// figure = the TLS median, vsPlain and vsTlsStream = the medians of the paired ratios.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { summarize } from '../harness/stats.js';
import type { BenchContext, Benchmark, Measurement } from '../harness/types.js';
import { noRay } from '../ray/counterparts.js';

const run = promisify(execFile);
const ARMS = join(import.meta.dirname, '..', 'arms');

/** The median GB/s of `transfers` timed 256 MiB transfers: a fresh cluster (TLS or plain), or a bare TLS stream. */
async function arm(which: 'tls' | 'plain' | 'stream', transfers: number): Promise<number> {
  const args =
    which === 'stream'
      ? [join(ARMS, 'tls-stream-arm.mjs'), String(transfers)]
      : [join(ARMS, 'tls-transfer-arm.mjs'), which, String(transfers)];
  const { stdout } = await run(process.execPath, args, {
    cwd: join(import.meta.dirname, '..', '..'),
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.trim().split('\n').pop() ?? '{}';
  return summarize((JSON.parse(line) as { gbps: number[] }).gbps, 'GB/s', true).median;
}

async function paired(ctx: BenchContext): Promise<Measurement> {
  const pairs = ctx.quick ? 2 : 4;
  const transfers = ctx.quick ? 3 : 6;
  const withTls: number[] = [];
  const plain: number[] = [];
  const stream: number[] = [];
  const vsPlain: number[] = [];
  const vsStream: number[] = [];
  const orders: ('tls' | 'plain' | 'stream')[][] = [
    ['tls', 'plain', 'stream'],
    ['stream', 'plain', 'tls'],
  ];
  for (let i = 0; i < pairs; i++) {
    // The order alternates: no arm always gets the warmer machine.
    const got: Record<string, number> = {};
    for (const which of orders[i % 2] ?? []) got[which] = await arm(which, transfers);
    const t = got.tls ?? 0;
    const p = got.plain ?? 0;
    const st = got.stream ?? 0;
    ctx.log(`round ${i + 1}: TLS ${t.toFixed(2)}, plain ${p.toFixed(2)}, TLS stream ${st.toFixed(2)} GB/s`);
    withTls.push(t);
    plain.push(p);
    stream.push(st);
    vsPlain.push(t / p);
    vsStream.push(t / st);
  }
  const m = summarize(withTls, 'GB/s', true);
  const rPlain = summarize(vsPlain, 'x', true).median;
  const rStream = summarize(vsStream, 'x', true).median;
  const plainMedian = summarize(plain, 'GB/s', true).median;
  const streamMedian = summarize(stream, 'GB/s', true).median;
  return {
    ...m,
    extra: {
      vsPlain: Number(rPlain.toFixed(3)),
      plainGBps: Number(plainMedian.toFixed(2)),
      vsTlsStream: Number(rStream.toFixed(3)),
      tlsStreamGBps: Number(streamMedian.toFixed(2)),
    },
    notes: [
      `plain TCP in the same run: ${plainMedian.toFixed(2)} GB/s (paired ratio ${rPlain.toFixed(2)}×)`,
      `a bare TLS stream between two node processes: ${streamMedian.toFixed(2)} GB/s (paired ratio ${rStream.toFixed(2)}×)`,
    ],
  };
}

export const tlsBenchmarks: Benchmark[] = [
  {
    name: '256 MiB object between two nodes over TLS',
    group: 'cluster',
    kind: 'sunray',
    shape:
      'put 256 MiB on the driver node (off the clock), a task on the other node reads its length; every connection over TLS (TLS 1.3, P-256 certificates) vs plain TCP vs a bare TLS stream, each run a fresh cluster; GB/s',
    vsRay: noRay('not measured against Ray: bench/ray does not set up its TLS (RAY_USE_TLS)'),
    heavy: true,
    timeoutMs: 900_000,
    run: (ctx) => paired(ctx),
  },
];
