// Between two nodes: a 1 GiB object pulled by the other node, and tasks spilled across.
// Run only when a cluster API exists at run time (sunray/testing's Cluster, Ray's
// cluster_utils.Cluster shape); skipped with a note otherwise.

import { PISCINA_ASYNC } from '../baselines/pools.js';
import { openTcpStream, TCP, TRANSFER_BYTES } from '../baselines/tcp.js';
import { onCleanup, onRowsDone } from '../harness/cleanup.js';
import { timesBaseline } from '../harness/goals.js';
import { testing } from '../harness/sunray.js';
import { rate, ratePaired } from '../harness/timing.js';
import type { Benchmark } from '../harness/types.js';
import { SkipError } from '../harness/types.js';
import { rayScript } from '../ray/counterparts.js';
import { sunrayDefs } from './defs.js';

/** What differs on the Ray side (--vs-ray, bench/ray/python/two_nodes.py). */
const TWO_NODES_NOTE =
  "Ray: two nodes of ray.cluster_utils.Cluster on this machine (a 1-CPU second node), its arenas not prefaulted but warmed by two untimed transfers, as sunray's";

const TRANSFER_ROW = '1 GiB object between two nodes';
const TASKS_ROW = 'tasks across 2 nodes';

let nodes: Promise<{ api: any; secondNode: Record<string, number> }> | undefined;

function twoNodes(): Promise<{ api: any; secondNode: Record<string, number> }> {
  nodes ??= startTwoNodes();
  return nodes;
}

async function startTwoNodes(): Promise<{ api: any; secondNode: Record<string, number> }> {
  const t = await testing();
  const Cluster = t?.Cluster;
  if (typeof Cluster !== 'function') {
    throw new SkipError(
      'no cluster API in this build (sunray/testing exports no Cluster), so there is no second node to measure against',
    );
  }
  const { api } = await sunrayDefs();
  const cluster = new Cluster();
  let stopped: Promise<unknown> | undefined;
  const stop = () => {
    stopped ??= Promise.resolve(cluster.shutdown?.());
    return stopped;
  };
  onCleanup('cluster', stop);
  // The second node (1 CPU) goes once both rows have run: left up, it would lend its CPU to
  // every later row (tune's trials, data's tasks and serve's replicas would run 3 at a time
  // on this machine's 2 cores).
  onRowsDone([TRANSFER_ROW, TASKS_ROW], 'the second node', async () => {
    await stop();
    nodes = undefined;
  });
  if (typeof cluster.addNode !== 'function') {
    throw new SkipError('sunray/testing Cluster has no addNode(); cluster API shape unknown');
  }
  // The second node keeps each pulled 1 GiB argument pinned until its worker's GC drops the
  // view, so its arena holds a few of them (3.5 GiB).
  await cluster.addNode({
    numCpus: 1,
    resources: { benchNode2: 1000 },
    objectStoreMemory: 3.5 * 1024 ** 3,
    prefaultStore: true,
  });
  // Warm the driver's arena too: the 1 GiB puts reuse this region once it is freed.
  const warm = api.put(Buffer.alloc(TRANSFER_BYTES));
  warm.release?.();
  await cluster.waitForNodes?.();
  // Two untimed transfers: the first pages the arenas and socket buffers touch on each side are
  // slow to fault in on these VMs (about 0.3 GB/s), which is start-up cost, not transfer speed.
  const touch = api.remote((b: Uint8Array) => b.length, { resources: { benchNode2: 1 } });
  for (let i = 0; i < 2; i++) {
    const ref = api.put(Buffer.alloc(TRANSFER_BYTES, i));
    await api.get(touch.remote(ref));
    ref.release?.();
  }
  return { api, secondNode: { benchNode2: 1 } };
}

export const clusterBenchmarks: Benchmark[] = [
  {
    name: TRANSFER_ROW,
    group: 'cluster',
    kind: 'sunray',
    shape:
      'put 1 GiB on the driver node (off the clock), then a task pinned to the other node reads its length; GB/s',
    vsRay: rayScript('two_nodes.py', TRANSFER_ROW, {
      scale: 1 / 1000, // the script counts MB/s
      note: TWO_NODES_NOTE,
    }),
    baselines: [{ name: TCP }],
    heavy: true,
    goal: timesBaseline(0.6, 'TCP stream'),
    // Starting the second node (a 3.5 GiB arena written once) and two untimed warm-up
    // transfers take 20-40 s here: more than the default 30 s of --quick.
    timeoutMs: 180_000,
    async run(ctx) {
      const { api, secondNode } = await twoNodes();
      const read = api.remote((b: Uint8Array) => b.length, { resources: secondNode });
      const buf = Buffer.alloc(TRANSFER_BYTES, 9);
      // The TCP stream is timed just before each transfer, so the ratio compares the two at
      // the same moments (other tenants make this machine's figures swing by 1.5x in minutes).
      const tcp = await openTcpStream();
      try {
        // The clock times the move, not the making: the TCP baseline's bytes also exist before it sends them.
        return await ratePaired(
          () => {
            const ref = api.put(buf);
            return async () => {
              await api.get(read.remote(ref));
              ref.release?.();
            };
          },
          { name: TCP, run: () => tcp.round() },
          ctx,
          { units: TRANSFER_BYTES / 1e9, unit: 'GB/s' },
        );
      } finally {
        tcp.close();
      }
    },
  },
  {
    name: TASKS_ROW,
    group: 'cluster',
    kind: 'sunray',
    shape: '1000 small tasks pinned to the second node, submitted then got; tasks/s',
    vsRay: rayScript('two_nodes.py', TASKS_ROW, { note: TWO_NODES_NOTE }),
    baselines: [{ name: PISCINA_ASYNC }],
    async run(ctx) {
      const { api, secondNode } = await twoNodes();
      const f = api.remote(() => 'ok', { resources: secondNode });
      return rate(() => api.get(Array.from({ length: 1000 }, () => f.remote())), ctx, {
        units: 1000,
        unit: 'tasks/s',
      });
    },
  },
];
