// Placement groups on one node (the embedded one): reserving bundles takes their resources
// from everyone else, tasks and actors run inside them and only there, removal frees them and
// ends the group's work, names and the table, capture of child tasks, and bad input.
import * as sunray from 'sunray';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mostAtOnce } from '../helpers.js';

beforeAll(() => sunray.init({ numCpus: 4, resources: { disk: 2 }, objectStoreMemory: 64 * 1024 * 1024 }));
afterAll(() => sunray.shutdown());

const sleepy = sunray.remote(async (ms: number) => {
  const s = await import('sunray');
  await new Promise((r) => setTimeout(r, ms));
  return s.getRuntimeContext().assignedResources;
});

/** [start, end] of a sleep, to count how many ran at once. */
const span = sunray.remote(async (ms: number): Promise<[number, number]> => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return [start, Date.now()];
});

describe('placement groups on one node', () => {
  test('a created group holds its resources: the node has that much less for others', async () => {
    const before = await sunray.availableResourcesAsync();
    const pg = sunray.placementGroup([{ CPU: 1 }, { CPU: 1, disk: 1 }], { strategy: 'PACK' });
    await pg.ready();
    expect(pg.bundleSpecs).toEqual([{ CPU: 1 }, { CPU: 1, disk: 1 }]);
    const row = await sunray.placementGroupTable(pg);
    expect(row.state).toBe('CREATED');
    expect(row.bundles.map((b) => b.nodeId)).toEqual([
      sunray.getRuntimeContext().nodeId,
      sunray.getRuntimeContext().nodeId,
    ]);
    const during = await sunray.availableResourcesAsync();
    expect(during.CPU).toBe((before.CPU ?? 0) - 2);
    expect(during.disk).toBe((before.disk ?? 0) - 1);
    await sunray.removePlacementGroup(pg);
    const after = await sunray.availableResourcesAsync();
    expect(after.CPU).toBe(before.CPU);
    expect(after.disk).toBe(before.disk);
    expect((await sunray.placementGroupTable(pg)).state).toBe('REMOVED');
  });

  test('tasks in a bundle are bounded by the bundle, not the node', async () => {
    const pg = sunray.placementGroup([{ CPU: 1 }]);
    await pg.ready();
    const inBundle = sleepy.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: 0 } });
    const assigned = await sunray.get(inBundle.remote(1));
    expect(Object.keys(assigned).some((k) => k.startsWith('CPU_group_0_'))).toBe(true);
    // Four one-CPU tasks in a one-CPU bundle run one at a time, though the node has 3 free.
    const spans = await sunray.get(
      [0, 1, 2, 3].map(() =>
        span.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: 0 } }).remote(300),
      ),
    );
    expect(mostAtOnce(spans)).toBe(1);
    await sunray.removePlacementGroup(pg);
  });

  test('tasks wait for a group that cannot be placed yet, then run once it can', async () => {
    const hog = sunray.placementGroup([{ CPU: 3 }]);
    await hog.ready();
    const later = sunray.placementGroup([{ CPU: 2 }], { strategy: 'STRICT_PACK' });
    expect(await later.wait(0.5)).toBe(false);
    const row = await sunray.placementGroupTable(later);
    expect(row.state).toBe('PENDING');
    expect(row.pendingReason).toMatch(/free/);
    const ref = sleepy.options({ schedulingStrategy: { placementGroup: later } }).remote(1);
    const [ready] = await sunray.wait([ref], { timeout: 300 });
    expect(ready).toHaveLength(0);
    await sunray.removePlacementGroup(hog);
    await later.ready();
    expect(Object.keys(await sunray.get(ref)).some((k) => k.startsWith('CPU_group_'))).toBe(true);
    await sunray.removePlacementGroup(later);
  });

  test('an actor in a group runs there; removing the group kills it and fails queued tasks', async () => {
    const pg = sunray.placementGroup([{ CPU: 1 }], { name: 'actors-pg' });
    await pg.ready();
    class Counter {
      n = 0;
      inc() {
        return ++this.n;
      }
    }
    const C = sunray.remote(Counter);
    const c = C.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: 0 } }).remote();
    expect(await sunray.get(c.inc.remote())).toBe(1);
    const found = await sunray.getPlacementGroup('actors-pg');
    expect(found.id).toBe(pg.id);
    // The actor holds the bundle's CPU while placed (as Ray's default actors do to be placed):
    // a task of the bundle queues behind it until the group goes.
    const blocked = sleepy.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: 0 } }).remote(1);
    await sunray.removePlacementGroup(pg);
    await expect(sunray.get(c.inc.remote())).rejects.toBeInstanceOf(sunray.ActorDiedError);
    await expect(sunray.getPlacementGroup('actors-pg')).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
    // The task either ran before the removal or fails with the group's error: never hangs.
    const settled = await sunray.get(blocked).then(
      () => 'ran',
      (e: Error) => (e instanceof sunray.PlacementGroupRemovedError ? 'removed' : e.message),
    );
    expect(['ran', 'removed']).toContain(settled);
    // New work for the removed group fails at once.
    await expect(
      sunray.get(sleepy.options({ schedulingStrategy: { placementGroup: pg } }).remote(1)),
    ).rejects.toBeInstanceOf(sunray.PlacementGroupRemovedError);
    await expect(pg.ready()).rejects.toBeInstanceOf(sunray.PlacementGroupRemovedError);
  });

  test('captureChildTasks puts the tasks a task starts into its group', async () => {
    const pg = sunray.placementGroup([{ CPU: 2 }]);
    await pg.ready();
    const parent = sunray.remote(
      async (_capture: boolean) => {
        const s = await import('sunray');
        const child = s.remote(async () => {
          const c = await import('sunray');
          const g = c.getCurrentPlacementGroup();
          return { group: g?.id ?? null, res: Object.keys(c.getRuntimeContext().assignedResources) };
        });
        const own = s.getCurrentPlacementGroup()?.id ?? null;
        return { own, child: await s.get(child.remote()) };
      },
      { numCpus: 0.5 },
    );
    const strategy = (capture: boolean) => ({ placementGroup: pg, captureChildTasks: capture });
    const captured = await sunray.get(parent.options({ schedulingStrategy: strategy(true) }).remote(true));
    expect(captured.own).toBe(pg.id);
    expect(captured.child.group).toBe(pg.id);
    expect(captured.child.res.some((k) => k.startsWith('CPU_group_'))).toBe(true);
    const free = await sunray.get(parent.options({ schedulingStrategy: strategy(false) }).remote(false));
    expect(free.own).toBe(pg.id);
    expect(free.child.group).toBeNull();
    expect(free.child.res).toEqual(['CPU']);
    await sunray.removePlacementGroup(pg);
  });

  test('names are unique per namespace while the group lives; the table lists every group', async () => {
    const a = sunray.placementGroup([{ CPU: 0.5 }], { name: 'same' });
    await a.ready();
    const b = sunray.placementGroup([{ CPU: 0.5 }], { name: 'same' });
    await expect(b.ready()).rejects.toBeInstanceOf(sunray.InvalidArgumentError);
    const other = sunray.placementGroup([{ CPU: 0.5 }], { name: 'same', namespace: 'elsewhere' });
    await other.ready();
    const table = await sunray.placementGroupTable();
    expect(table[a.id]?.name).toBe('same');
    expect(table[other.id]?.namespace).toBe('elsewhere');
    await sunray.removePlacementGroup(a);
    await sunray.removePlacementGroup(other);
    const again = sunray.placementGroup([{ CPU: 0.5 }], { name: 'same' });
    await again.ready();
    await sunray.removePlacementGroup(again);
  });

  test('bad bundles, strategies and bundle indexes are refused with InvalidArgumentError', () => {
    const bad = (f: () => unknown) => expect(f).toThrow(sunray.InvalidArgumentError);
    bad(() => sunray.placementGroup([]));
    bad(() => sunray.placementGroup([{}]));
    bad(() => sunray.placementGroup([{ CPU: -1 }]));
    bad(() => sunray.placementGroup([{ CPU: 1.5 }]));
    bad(() => sunray.placementGroup([{ CPU: 1 }], { strategy: 'TIGHT' as never }));
    const pg = sunray.placementGroup([{ CPU: 0.25 }]);
    bad(() => sleepy.options({ schedulingStrategy: { placementGroup: pg, bundleIndex: 1 } }));
    bad(() => sleepy.options({ schedulingStrategy: { placementGroup: {} as sunray.PlacementGroup } }));
    return sunray.removePlacementGroup(pg);
  });

  test('a group bigger than the node is infeasible: pending, with the reason', async () => {
    const pg = sunray.placementGroup([{ CPU: 8 }]);
    expect(await pg.wait(0.3)).toBe(false);
    const row = await sunray.placementGroupTable(pg);
    expect(row.state).toBe('PENDING');
    expect(row.pendingReason).toMatch(/infeasible/);
    await sunray.removePlacementGroup(pg);
  });
});
