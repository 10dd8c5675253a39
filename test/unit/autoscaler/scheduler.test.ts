// The launch decision (Ray's resource_demand_scheduler): demand packed onto free room
// first, the best-used node type for the rest, per-type and overall maxWorkers, the
// upscaling speed, minWorkers, launching nodes counted as capacity, the standing request,
// placement groups' strategies, and why unmet demand stays unmet.
import { describe, expect, test } from 'vitest';
import {
  INITIAL_LAUNCH,
  type NodeCapacity,
  type PlanInput,
  planScale,
} from '../../../lib/autoscaler/scheduler.js';

const SPECIAL = { CPU: 1, special: 1 };
const types = {
  special: { resources: SPECIAL, minWorkers: 0, maxWorkers: 2 },
  big: { resources: { CPU: 8 }, minWorkers: 0, maxWorkers: 10 },
  gpu: { resources: { CPU: 8, GPU: 1 }, minWorkers: 0, maxWorkers: 10 },
};
const head: NodeCapacity = { launching: false, total: { CPU: 2 }, available: { CPU: 2 } };

function input(over: Partial<PlanInput>): PlanInput {
  return {
    nodeTypes: types,
    maxWorkers: 20,
    upscalingSpeed: 1,
    nodes: [head],
    demand: [],
    placementGroups: [],
    requested: [],
    ...over,
  };
}

const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

describe('planScale', () => {
  test('nothing to do: no launches, nothing unmet', () => {
    expect(planScale(input({}))).toEqual({ launch: {}, unmet: [] });
  });

  test('a demand only one type fits launches that type, up to its maxWorkers; the rest is unmet', () => {
    const p = planScale(input({ demand: times(3, SPECIAL) }));
    expect(p.launch).toEqual({ special: 2 });
    expect(p.unmet).toEqual([{ shape: SPECIAL, count: 1, reason: 'over maxWorkers' }]);
  });

  test('demand that fits free room launches nothing', () => {
    expect(planScale(input({ demand: times(2, { CPU: 1 }) })).launch).toEqual({});
    // Busy head: the same demand needs a node.
    const busy = { ...head, available: { CPU: 0 } };
    expect(planScale(input({ nodes: [busy], demand: times(2, { CPU: 1 }) })).launch).toEqual({ big: 1 });
  });

  test('several demands share one new node (8 CPUs for 8 one-CPU tasks)', () => {
    const busy = { ...head, available: { CPU: 0 } };
    expect(planScale(input({ nodes: [busy], demand: times(9, { CPU: 1 }) })).launch).toEqual({ big: 2 });
  });

  test('no GPU node for work that needs no GPU; a GPU node for work that does', () => {
    const busy = { ...head, available: { CPU: 0 } };
    expect(planScale(input({ nodes: [busy], demand: [{ CPU: 4 }] })).launch).toEqual({ big: 1 });
    expect(planScale(input({ nodes: [busy], demand: [{ GPU: 1 }] })).launch).toEqual({ gpu: 1 });
  });

  test('the best-used type wins: a small node for a small custom demand', () => {
    const t = { ...types, bigSpecial: { resources: { CPU: 16, special: 4 }, minWorkers: 0, maxWorkers: 5 } };
    expect(planScale(input({ nodeTypes: t, demand: [SPECIAL] })).launch).toEqual({ special: 1 });
  });

  test('a demand no type fits is unmet with that reason, and launches nothing', () => {
    const p = planScale(input({ demand: times(3, { CPU: 4, TPU: 1 }) }));
    expect(p.launch).toEqual({});
    expect(p.unmet).toEqual([{ shape: { CPU: 4, TPU: 1 }, count: 3, reason: 'no node type fits' }]);
  });

  test('launching nodes count as capacity', () => {
    const launching: NodeCapacity = {
      nodeType: 'special',
      launching: true,
      total: SPECIAL,
      available: SPECIAL,
    };
    expect(planScale(input({ nodes: [head, launching], demand: times(1, SPECIAL) })).launch).toEqual({});
    const p = planScale(input({ nodes: [head, launching], demand: times(2, SPECIAL) }));
    expect(p.launch).toEqual({ special: 1 });
  });

  test('running nodes of a type count against its maxWorkers; busy ones give no room', () => {
    const running: NodeCapacity = {
      nodeType: 'special',
      launching: false,
      total: SPECIAL,
      available: { CPU: 0, special: 0 },
    };
    const p = planScale(input({ nodes: [head, running, running], demand: times(2, SPECIAL) }));
    expect(p.launch).toEqual({});
    expect(p.unmet).toEqual([{ shape: SPECIAL, count: 2, reason: 'over maxWorkers' }]);
  });

  test('the overall maxWorkers caps every type together', () => {
    const busy = { ...head, available: { CPU: 0 } };
    const p = planScale(
      input({ maxWorkers: 3, nodes: [busy], demand: [...times(2, SPECIAL), ...times(3, { CPU: 8 })] }),
    );
    const launched = Object.values(p.launch).reduce((a, b) => a + b, 0);
    expect(launched).toBe(3);
    expect(p.unmet.reduce((s, u) => s + u.count, 0)).toBe(2);
    expect(p.unmet.every((u) => u.reason === 'over maxWorkers')).toBe(true);
  });

  test('upscaling speed: at most max(5, speed x running) launching per type at once', () => {
    const only = { big: { resources: { CPU: 8 }, minWorkers: 0, maxWorkers: 100 } };
    const busy = { ...head, available: { CPU: 0 } };
    const p = planScale(input({ nodeTypes: only, nodes: [busy], demand: times(12, { CPU: 8 }) }));
    expect(p.launch).toEqual({ big: INITIAL_LAUNCH });
    expect(p.unmet).toEqual([{ shape: { CPU: 8 }, count: 7, reason: 'upscaling speed' }]);
    // 8 running, speed 1: 8 may be launching; 3 are already (and take 3 of the demand).
    const run: NodeCapacity = { nodeType: 'big', launching: false, total: { CPU: 8 }, available: { CPU: 0 } };
    const pend: NodeCapacity = { nodeType: 'big', launching: true, total: { CPU: 8 }, available: { CPU: 8 } };
    const nodes = [busy, ...times(8, run), ...times(3, pend)];
    const q = planScale(input({ nodeTypes: only, nodes, demand: times(20, { CPU: 8 }) }));
    expect(q.launch).toEqual({ big: 5 });
    expect(q.unmet).toEqual([{ shape: { CPU: 8 }, count: 12, reason: 'upscaling speed' }]);
    // Speed 2: 16 may be launching.
    const r = planScale(
      input({ nodeTypes: only, nodes, maxWorkers: 100, upscalingSpeed: 2, demand: times(20, { CPU: 8 }) }),
    );
    expect(r.launch).toEqual({ big: 13 });
    // Speed 0 still lets the first 5 launch (Ray's floor).
    const z = planScale(
      input({ nodeTypes: only, nodes: [busy], upscalingSpeed: 0, demand: times(9, { CPU: 8 }) }),
    );
    expect(z.launch).toEqual({ big: 5 });
  });

  test('minWorkers are launched whatever the demand, and count as capacity', () => {
    const t = { ...types, special: { ...types.special, minWorkers: 1 } };
    expect(planScale(input({ nodeTypes: t })).launch).toEqual({ special: 1 });
    expect(planScale(input({ nodeTypes: t, demand: [SPECIAL] })).launch).toEqual({ special: 1 });
    expect(planScale(input({ nodeTypes: t, demand: times(2, SPECIAL) })).launch).toEqual({ special: 2 });
  });

  test('the standing request counts totals, busy or not, and ignores the upscaling speed', () => {
    const busy = { ...head, available: { CPU: 0 } };
    // The head's 2 CPUs hold two 1-CPU bundles even while busy.
    expect(planScale(input({ nodes: [busy], requested: times(2, { CPU: 1 }) })).launch).toEqual({});
    expect(planScale(input({ requested: times(2, SPECIAL) })).launch).toEqual({ special: 2 });
    expect(planScale(input({ nodes: [busy], requested: times(7, { CPU: 8 }) })).launch).toEqual({ big: 7 });
    // Requested nodes are free room for the demand.
    expect(planScale(input({ requested: [SPECIAL], demand: [SPECIAL] })).launch).toEqual({ special: 1 });
  });

  test('placement groups: STRICT_PACK on one node, STRICT_SPREAD on distinct nodes, PACK by bundle', () => {
    const busy = { ...head, available: { CPU: 0 } };
    const pack = { bundles: times(4, { CPU: 2 }), strategy: 'STRICT_PACK' as const };
    expect(planScale(input({ nodes: [busy], placementGroups: [pack] })).launch).toEqual({ big: 1 });
    const spread = { bundles: times(3, { CPU: 1 }), strategy: 'STRICT_SPREAD' as const };
    expect(planScale(input({ nodes: [busy], placementGroups: [spread] })).launch).toEqual({ big: 3 });
    const loose = { bundles: times(3, { CPU: 1 }), strategy: 'PACK' as const };
    expect(planScale(input({ nodes: [busy], placementGroups: [loose] })).launch).toEqual({ big: 1 });
    const tooBig = { bundles: times(3, { CPU: 4 }), strategy: 'STRICT_PACK' as const };
    expect(planScale(input({ nodes: [busy], placementGroups: [tooBig] })).unmet).toEqual([
      { shape: { CPU: 12 }, count: 1, reason: 'no node type fits' },
    ]);
  });
});
