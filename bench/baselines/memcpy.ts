// memcpy of the same bytes as "put gigabytes": Buffer.copy between two buffers whose
// pages were touched first (first touch of fresh pages is 10x slower on these VMs).

import { rate } from '../harness/timing.js';
import type { Benchmark } from '../harness/types.js';

export const PUT_BYTES = 800 * 1024 * 1024; // the 800 MiB (Ray: a 100 Mi-element int64 array)
export const MEMCPY = 'memcpy 800 MiB (Buffer.copy, pre-faulted)';

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
];
