// Bundle placement by strategy (node/bundle-placement.ts) on fake nodes: where each bundle
// goes, when a group must wait for room, and when it can never fit as things stand.
import { describe, expect, test } from 'vitest';
import { type BundleNode, placeBundles } from '../../../lib/node/bundle-placement.js';

const node = (nodeId: string, cpu: number, free = cpu, extra: Record<string, number> = {}): BundleNode => ({
  nodeId,
  total: { CPU: cpu, ...extra },
  available: { CPU: free, ...extra },
});
const bundles = (...cpus: number[]) => cpus.map((c, index) => ({ index, resources: { CPU: c } }));
const nodesOf = (p: ReturnType<typeof placeBundles>) => ('assign' in p ? [...p.assign.values()] : p);

describe('placeBundles', () => {
  const three = [node('a', 4), node('b', 4), node('c', 4)];

  test('PACK puts every bundle on one node when one has room', () => {
    expect(new Set(nodesOf(placeBundles(bundles(1, 1, 1), 'PACK', three)) as string[]).size).toBe(1);
  });

  test('PACK spills to more nodes when no single node holds them all', () => {
    const p = placeBundles(bundles(3, 3), 'PACK', three);
    expect(new Set(nodesOf(p) as string[]).size).toBe(2);
  });

  test('STRICT_PACK waits rather than split; infeasible when no node is big enough', () => {
    expect(placeBundles(bundles(3, 3), 'STRICT_PACK', three)).toHaveProperty('infeasible');
    const busy = [node('a', 4, 1), node('b', 4, 1)];
    expect(placeBundles(bundles(1, 1), 'STRICT_PACK', busy)).toHaveProperty('wait');
    expect(new Set(nodesOf(placeBundles(bundles(2, 2), 'STRICT_PACK', three)) as string[]).size).toBe(1);
  });

  test('SPREAD puts bundles on distinct nodes while it can, then doubles up', () => {
    expect(new Set(nodesOf(placeBundles(bundles(1, 1, 1), 'SPREAD', three)) as string[]).size).toBe(3);
    const two = [node('a', 4), node('b', 4)];
    const p = nodesOf(placeBundles(bundles(1, 1, 1), 'SPREAD', two)) as string[];
    expect(p).toHaveLength(3);
    expect(new Set(p).size).toBe(2);
  });

  test('STRICT_SPREAD needs a node per bundle: infeasible with too few, waits while one is full', () => {
    expect(new Set(nodesOf(placeBundles(bundles(1, 1, 1), 'STRICT_SPREAD', three)) as string[]).size).toBe(3);
    expect(placeBundles(bundles(1, 1, 1, 1), 'STRICT_SPREAD', three)).toHaveProperty('infeasible');
    // A node too small for any bundle (a driver's, with no CPU) does not count as a host.
    expect(placeBundles(bundles(1, 1, 1, 1), 'STRICT_SPREAD', [...three, node('d', 0)])).toHaveProperty(
      'infeasible',
    );
    const oneFull = [node('a', 4), node('b', 4), node('c', 4, 0)];
    expect(placeBundles(bundles(1, 1, 1), 'STRICT_SPREAD', oneFull)).toHaveProperty('wait');
  });

  test('a bundle no node has even idle is infeasible whatever the strategy', () => {
    for (const s of ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'] as const) {
      const p = placeBundles([{ index: 0, resources: { GPU: 1 } }], s, three);
      expect(p).toHaveProperty('infeasible');
    }
  });

  test('placed again after a node died: STRICT_SPREAD avoids nodes that hold the others', () => {
    const placed = new Map([
      [0, 'a'],
      [1, 'b'],
    ]);
    const p = placeBundles([{ index: 2, resources: { CPU: 1 } }], 'STRICT_SPREAD', three, placed);
    expect(nodesOf(p)).toEqual(['c']);
    const noRoom = placeBundles(
      [{ index: 2, resources: { CPU: 1 } }],
      'STRICT_SPREAD',
      three.slice(0, 2),
      placed,
    );
    expect(noRoom).toHaveProperty('infeasible');
  });

  test('room is counted as bundles are assigned: two 3-CPU bundles never share a 4-CPU node', () => {
    const p = nodesOf(placeBundles(bundles(3, 3), 'SPREAD', [node('a', 4), node('b', 4)])) as string[];
    expect(new Set(p).size).toBe(2);
    expect(placeBundles(bundles(3, 3), 'SPREAD', [node('a', 4), node('b', 4, 2)])).toHaveProperty('wait');
  });
});
