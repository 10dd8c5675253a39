// Whether a node is idle, as its heartbeats report it to the autoscaler: any task, actor or
// lease makes it busy, and so does an object in its store that is pinned or owned by one of
// its processes; copies of other nodes' objects do not.
import { describe, expect, test } from 'vitest';
import { nodeIdle } from '../../../lib/cluster/node-idle.js';
import type { NodeStats } from '../../../lib/node/node-stats.js';

const NODE = 'ab'.repeat(16);
const ZERO: NodeStats = {
  workers: 2,
  idle: 2,
  queued: 0,
  running: 0,
  actors: 0,
  pendingActors: 0,
  directChannels: 0,
  sharedHosts: 0,
};

function fake(over: { stats?: Partial<NodeStats>; free?: number; pinned?: number; owners?: string[] } = {}) {
  const owners = over.owners ?? [];
  return {
    nodeId: NODE,
    stats: () => ({ ...ZERO, ...over.stats }),
    pool: { total: () => ({ CPU: 2 }), available: () => ({ CPU: over.free ?? 2 }) },
    store: {
      stats: () => ({ pinned: over.pinned ?? 0, objects: owners.length }),
      list: () => owners.map((hex) => ({ id: { bytes: Buffer.from(hex.padEnd(56, '0'), 'hex') } })),
    },
  } as unknown as Parameters<typeof nodeIdle>[0];
}

describe('nodeIdle', () => {
  test('nothing running, waiting or held: idle (idle worker processes do not count)', () => {
    expect(nodeIdle(fake())).toBe(true);
  });

  test('tasks, actors, waiting actors and leases make it busy', () => {
    expect(nodeIdle(fake({ stats: { running: 1 } }))).toBe(false);
    expect(nodeIdle(fake({ stats: { queued: 1 } }))).toBe(false);
    expect(nodeIdle(fake({ stats: { actors: 1 } }))).toBe(false);
    expect(nodeIdle(fake({ stats: { pendingActors: 1 } }))).toBe(false);
    expect(nodeIdle(fake({ free: 1 }))).toBe(false);
  });

  test("its own objects and pinned ones keep it; others' copies do not", () => {
    expect(nodeIdle(fake({ pinned: 1 }))).toBe(false);
    expect(nodeIdle(fake({ owners: [NODE.slice(0, 12)] }))).toBe(false);
    expect(nodeIdle(fake({ owners: ['cd'.repeat(6)] }))).toBe(true);
  });
});
