// Ray 2.48's published microbenchmark figures (release/perf_metrics/microbenchmark.json,
// one m5.16xlarge: 64 vCPUs) and the goals sunray is held to.

import type { Goal } from './types.js';

/** Ray 2.48, 64 vCPUs, published (same units as ray_perf.py reports: per second, GB/s for gigabytes). */
export const RAY_248: Record<string, number> = {
  'single client get calls (Plasma Store)': 10620.4,
  'single client put calls (Plasma Store)': 5173.3,
  'multi client put calls (Plasma Store)': 16526.4,
  'single client put gigabytes': 19.86,
  'multi client put gigabytes': 38.14,
  'single client tasks and get batch': 5.8,
  'single client get object containing 10k refs': 13.37,
  'single client wait 1k refs': 5.08,
  'single client tasks sync': 980.7,
  'single client tasks async': 8040.5,
  'multi client tasks async': 21229.8,
  '1:1 actor calls sync': 2011.9,
  '1:1 actor calls async': 8663.7,
  '1:1 actor calls concurrent': 5775.0,
  '1:n actor calls async': 8038.2,
  'n:n actor calls async': 27375.6,
  'n:n actor calls with arg async': 2759.3,
  '1:1 async-actor calls sync': 1459.7,
  '1:1 async-actor calls async': 4259.8,
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export const atLeast = (perSec: number, unit = '/s'): Goal => ({
  text: `≥ ${fmt(perSec)}${unit}`,
  met: (m) => m.median >= perSec,
});

/** Throughput at least k times the primary baseline's, measured in the same run. */
export const timesBaseline = (k: number, label: string): Goal => ({
  text: `≥ ${k}× ${label}`,
  met: (m, b) => b !== undefined && m.median >= k * b,
});

/** Call latency under us microseconds, for a row measured in calls per second. */
export const callsUnderUs = (us: number): Goal => ({
  text: `< ${us} µs/call (≥ ${fmt(1e6 / us)}/s)`,
  met: (m) => m.median >= 1e6 / us,
});

export const timesRay = (k: number, ray: number): Goal => ({
  text: `≥ ${k}× Ray (${fmt(k * ray)}/s)`,
  met: (m) => m.median >= k * ray,
});

export const beatsRay = (ray: number, unit = '/s'): Goal => ({
  text: `> Ray ${ray}${unit}`,
  met: (m) => m.median > ray,
});

export const latencyUnder = (us: number, extra = ''): Goal => ({
  text: `< ${us} µs${extra}`,
  met: (m) => m.median < us,
});

/** Scale rows: done at all is the goal (Ray's single-node envelope, release/benchmarks/README.md). */
export const envelope = (text: string): Goal => ({ text, met: () => true });
