// The group manager (node/placement-groups.ts) over fake hosts: all-or-none reservation in two
// phases, retries, rescheduling after a node's death, removal, names, and a job's end.
import { describe, expect, test } from 'vitest';
import type { BundleNode, BundleToPlace } from '../../../lib/node/bundle-placement.js';
import { type BundleHosts, PlacementGroups } from '../../../lib/node/placement-groups.js';
import type { PlacementGroupRequest } from '../../../lib/protocol/placement-group.js';

/** Nodes that hold what they are asked to hold, with free CPU counted; any may refuse a prepare. */
class FakeHosts implements BundleHosts {
  readonly free = new Map<string, number>();
  readonly held = new Map<string, { pg: string; index: number; cpu: number; committed: boolean }[]>();
  readonly refuse = new Set<string>();
  readonly log: string[] = [];
  constructor(nodes: Record<string, number>) {
    for (const [id, cpu] of Object.entries(nodes)) {
      this.free.set(id, cpu);
      this.held.set(id, []);
    }
  }
  async nodes(): Promise<BundleNode[]> {
    return [...this.free].map(([nodeId, cpu]) => ({ nodeId, total: { CPU: 8 }, available: { CPU: cpu } }));
  }
  async prepare(nodeId: string, pg: string, bs: BundleToPlace[]): Promise<boolean> {
    this.log.push(`prepare ${nodeId} ${bs.map((b) => b.index).join(',')}`);
    const need = bs.reduce((s, b) => s + (b.resources.CPU ?? 0), 0);
    if (this.refuse.has(nodeId) || (this.free.get(nodeId) ?? 0) < need) return false;
    this.free.set(nodeId, (this.free.get(nodeId) ?? 0) - need);
    for (const b of bs)
      this.held.get(nodeId)?.push({ pg, index: b.index, cpu: b.resources.CPU ?? 0, committed: false });
    return true;
  }
  async commit(nodeId: string, pg: string, indexes: number[]): Promise<void> {
    this.log.push(`commit ${nodeId} ${indexes.join(',')}`);
    for (const h of this.held.get(nodeId) ?? [])
      if (h.pg === pg && indexes.includes(h.index)) h.committed = true;
  }
  async release(nodeId: string, pg: string, indexes: number[]): Promise<void> {
    this.log.push(`release ${nodeId} ${indexes.join(',')}`);
    const list = this.held.get(nodeId) ?? [];
    for (const h of list.filter((x) => x.pg === pg && indexes.includes(x.index))) {
      this.free.set(nodeId, (this.free.get(nodeId) ?? 0) + h.cpu);
      list.splice(list.indexOf(h), 1);
    }
  }
  kill(nodeId: string): void {
    this.free.delete(nodeId);
    this.held.delete(nodeId);
  }
}

let n = 0;
function req(
  bundles: number[],
  strategy: PlacementGroupRequest['strategy'],
  extra: Partial<PlacementGroupRequest> = {},
) {
  const id = (++n).toString(16).padStart(32, '0');
  return {
    id,
    bundles: bundles.map((c) => ({ CPU: c })),
    strategy,
    name: '',
    namespace: 'ns',
    lifetime: 'non_detached',
    creatorJobId: 'job1',
    ...extra,
  } as PlacementGroupRequest;
}

describe('PlacementGroups', () => {
  test('all or none: a refused prepare cancels the others, and a later try succeeds', async () => {
    const hosts = new FakeHosts({ a: 2, b: 2 });
    hosts.refuse.add('b');
    const m = new PlacementGroups(hosts);
    const r = req([2, 2], 'STRICT_SPREAD');
    m.create(r);
    expect(await m.wait(r.id, 200)).toBe('PENDING');
    expect(hosts.held.get('a')).toEqual([]); // a's prepare was given back
    expect(hosts.log.some((l) => l.startsWith('release a'))).toBe(true);
    expect(m.get(r.id)?.pendingReason).toMatch(/no room/);
    hosts.refuse.delete('b');
    m.kick();
    expect(await m.wait(r.id, 2000)).toBe('CREATED');
    expect(new Set(m.get(r.id)?.bundles.map((b) => b.nodeId))).toEqual(new Set(['a', 'b']));
    m.close();
  });

  test('a node death sends its bundles back to be placed again (RESCHEDULING, then CREATED)', async () => {
    const hosts = new FakeHosts({ a: 2, b: 2, c: 2 });
    const m = new PlacementGroups(hosts);
    const r = req([1, 1], 'STRICT_SPREAD');
    m.create(r);
    expect(await m.wait(r.id, 1000)).toBe('CREATED');
    const before = m.locate(r.id)?.nodes ?? [];
    const dead = before[0] ?? '';
    hosts.kill(dead);
    m.nodeDied(dead);
    expect(await m.wait(r.id, 2000)).toBe('CREATED');
    const after = m.locate(r.id)?.nodes ?? [];
    expect(after).not.toContain(dead);
    expect(new Set(after).size).toBe(2); // still spread
    expect(after[1]).toBe(before[1]); // the survivor's bundle did not move
    m.close();
  });

  test('removal gives every bundle back, wakes waiters, and a removed group is never placed', async () => {
    const hosts = new FakeHosts({ a: 1 });
    const m = new PlacementGroups(hosts);
    const big = req([4], 'PACK');
    m.create(big);
    const waiting = m.wait(big.id, 5000);
    await m.remove(big.id);
    expect(await waiting).toBe('REMOVED');
    const small = req([1], 'PACK');
    m.create(small);
    expect(await m.wait(small.id, 1000)).toBe('CREATED');
    await m.remove(small.id);
    expect(hosts.free.get('a')).toBe(1);
    expect(m.rows().map((r) => r.state)).toEqual(['REMOVED', 'REMOVED']);
    m.close();
  });

  test('names are unique per namespace among live groups', () => {
    const m = new PlacementGroups(new FakeHosts({ a: 1 }));
    m.create(req([1], 'PACK', { name: 'x' }));
    expect(() => m.create(req([1], 'PACK', { name: 'x' }))).toThrow(/already exists/);
    m.create(req([1], 'PACK', { name: 'x', namespace: 'other' }));
    expect(m.get({ name: 'x', namespace: 'ns' })?.name).toBe('x');
    m.close();
  });

  test("a job's end removes its groups, but not detached ones", async () => {
    const hosts = new FakeHosts({ a: 4 });
    const m = new PlacementGroups(hosts);
    const mine = req([1], 'PACK');
    const kept = req([1], 'PACK', { lifetime: 'detached' });
    const other = req([1], 'PACK', { creatorJobId: 'job2' });
    for (const r of [mine, kept, other]) m.create(r);
    for (const r of [mine, kept, other]) expect(await m.wait(r.id, 1000)).toBe('CREATED');
    m.jobEnded('job1');
    await new Promise((r) => setTimeout(r, 10));
    expect(m.locate(mine.id)?.state).toBe('REMOVED');
    expect(m.locate(kept.id)?.state).toBe('CREATED');
    expect(m.locate(other.id)?.state).toBe('CREATED');
    m.close();
  });

  test('pending bundles are what the autoscaler sees', () => {
    const m = new PlacementGroups(new FakeHosts({ a: 0 }));
    m.create(req([2, 3], 'SPREAD'));
    expect(m.pendingBundles()).toEqual([{ strategy: 'SPREAD', bundles: [{ CPU: 2 }, { CPU: 3 }] }]);
    m.close();
  });
});
