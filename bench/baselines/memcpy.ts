// memcpy of the same bytes as "put gigabytes": Buffer.copy between two buffers whose
// pages were touched first (first touch of fresh pages is 10x slower on these VMs).

import { rate } from '../harness/timing.js';
import type { Benchmark } from '../harness/types.js';

export const PUT_BYTES = 800 * 1024 * 1024; // the 800 MiB (Ray: a 100 Mi-element int64 array)
export const MEMCPY = 'memcpy 800 MiB (Buffer.copy, pre-faulted)';
export const FRESH_SOURCE_COPY = 'copy of a fresh 80 MiB Buffer.alloc into touched memory';

export const memcpyBaselines: Benchmark[] = [
  {
    name: MEMCPY,
    group: 'baseline',
    kind: 'baseline',
    shape: 'Buffer.copy of 800 MiB between two pre-faulted buffers in one process',
    async run(ctx) {
      const src = Buffer.alloc(PUT_BYTES, 1);
      const dst = Buffer.alloc(PUT_BYTES, 2);
      return rate(() => src.copy(dst), ctx, { units: PUT_BYTES / 1e9, unit: 'GB/s' });
    },
  },
  {
    name: FRESH_SOURCE_COPY,
    group: 'baseline',
    kind: 'baseline',
    shape:
      'Buffer.alloc(80 MiB) then Buffer.copy into a touched buffer, one process: what multi client put ' +
      "gigabytes' own sources cost each client (their pages are first touched by the copy)",
    async run(ctx) {
      const n = 80 * 1024 * 1024;
      const dst = Buffer.alloc(n, 2);
      return rate(() => Buffer.alloc(n).copy(dst), ctx, { units: n / 1e9, unit: 'GB/s' });
    },
  },
];
