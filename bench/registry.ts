// Every benchmark, in the order they run. Baselines first: sunray rows compare against them.

import { memcpyBaselines } from './baselines/memcpy.js';
import { poolBaselines } from './baselines/pools.js';
import { tcpBaselines } from './baselines/tcp.js';
import type { Benchmark } from './harness/types.js';
import { actorBenchmarks } from './suites/actors.js';
import { autoscalerBenchmarks } from './suites/autoscaler.js';
import { clusterBenchmarks } from './suites/cluster.js';
import { dataBaselines, dataBenchmarks } from './suites/data.js';
import { latencyBenchmarks } from './suites/latency.js';
import { placementGroupBenchmarks } from './suites/placement-groups.js';
import { scaleBenchmarks } from './suites/scale.js';
import { serveBaselines, serveBenchmarks } from './suites/serve.js';
import { sharedActorBenchmarks } from './suites/shared-actors.js';
import { storeBenchmarks } from './suites/store.js';
import { taskEventBenchmarks } from './suites/task-events.js';
import { taskBenchmarks } from './suites/tasks.js';
import { tlsBenchmarks } from './suites/tls.js';
import { tuneBaselines, tuneBenchmarks } from './suites/tune.js';

export const baselines: Benchmark[] = [
  ...poolBaselines,
  ...memcpyBaselines,
  ...tcpBaselines,
  ...serveBaselines,
  ...tuneBaselines,
  ...dataBaselines,
];

/** Ray's microbenchmarks (ray_perf.py names) plus get latency, the two-node rows and sunray/tune's. */
export const microbenchmarks: Benchmark[] = [
  ...storeBenchmarks,
  ...latencyBenchmarks,
  ...taskBenchmarks,
  ...actorBenchmarks,
  ...sharedActorBenchmarks,
  ...placementGroupBenchmarks,
  ...taskEventBenchmarks,
  ...clusterBenchmarks,
  ...tlsBenchmarks,
  ...autoscalerBenchmarks,
  ...serveBenchmarks,
  ...tuneBenchmarks,
  ...dataBenchmarks,
];

/** --scale only. */
export const scale: Benchmark[] = scaleBenchmarks;

export const all: Benchmark[] = [...baselines, ...microbenchmarks, ...scale];
