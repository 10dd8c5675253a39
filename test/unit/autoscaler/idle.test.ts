// Which launched nodes go: idle past the timeout (longest idle first), never below a
// type's minWorkers, never one the standing request needs; nodes that never joined in
// time and nodes that died go too.
import { describe, expect, test } from 'vitest';
import { type IdleInput, type LaunchedNode, pickRemovals } from '../../../lib/autoscaler/idle.js';

const SPECIAL = { CPU: 1, special: 1 };
const node = (id: string, over: Partial<LaunchedNode> = {}): LaunchedNode => ({
  id,
  nodeType: 'special',
  state: 'running',
  idleMs: 0,
  ageMs: 60_000,
  total: SPECIAL,
  ...over,
});
const input = (nodes: LaunchedNode[], over: Partial<IdleInput> = {}): IdleInput => ({
  nodes,
  minWorkers: { special: 0 },
  idleTimeoutMs: 5000,
  startTimeoutMs: 300_000,
  requested: [],
  others: [{ CPU: 2 }],
  ...over,
});

describe('pickRemovals', () => {
  test('busy nodes and nodes idle for less than the timeout stay', () => {
    expect(pickRemovals(input([node('a'), node('b', { idleMs: 4999 })]))).toEqual([]);
  });

  test('nodes idle past the timeout go', () => {
    const out = pickRemovals(input([node('a', { idleMs: 5000 }), node('b', { idleMs: 9000 }), node('c')]));
    expect(out).toEqual([
      { id: 'b', reason: 'idle' },
      { id: 'a', reason: 'idle' },
    ]);
  });

  test('never below minWorkers: the longest idle go first, the rest stay', () => {
    const nodes = [node('a', { idleMs: 6000 }), node('b', { idleMs: 9000 }), node('c', { idleMs: 7000 })];
    expect(pickRemovals(input(nodes, { minWorkers: { special: 2 } }))).toEqual([{ id: 'b', reason: 'idle' }]);
    // A launching node counts toward the minimum.
    const withLaunching = [...nodes, node('d', { state: 'launching' })];
    expect(pickRemovals(input(withLaunching, { minWorkers: { special: 2 } })).map((r) => r.id)).toEqual([
      'b',
      'c',
    ]);
  });

  test('nodes the standing request needs stay, even idle', () => {
    const nodes = [node('a', { idleMs: 6000 }), node('b', { idleMs: 9000 })];
    // One special bundle: one node stays (the one idle the shortest), the other goes.
    expect(pickRemovals(input(nodes, { requested: [SPECIAL] }))).toEqual([{ id: 'b', reason: 'idle' }]);
    expect(pickRemovals(input(nodes, { requested: [SPECIAL, SPECIAL] }))).toEqual([]);
    // A request the other nodes hold keeps nothing.
    expect(pickRemovals(input(nodes, { requested: [{ CPU: 2 }] })).length).toBe(2);
  });

  test('a node that never joined within the start timeout goes, and a dead one', () => {
    const nodes = [
      node('late', { state: 'launching', ageMs: 300_001 }),
      node('young', { state: 'launching', ageMs: 1000 }),
      node('gone', { state: 'dead' }),
    ];
    expect(pickRemovals(input(nodes))).toEqual([
      { id: 'late', reason: 'did not start' },
      { id: 'gone', reason: 'died' },
    ]);
  });
});
