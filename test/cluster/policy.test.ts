// The placement policy (cluster/policy.ts place()) on made-up node views: the hybrid
// threshold of DEFAULT, SPREAD's round-robin, hard and soft node affinity, and what
// happens when no node can run a task.
import { describe, expect, test } from 'vitest';
import { type NodeView, place } from '../../lib/cluster/policy.js';

const node = (
  nodeId: string,
  total: Record<string, number>,
  load: Record<string, number> = {},
): NodeView => ({
  nodeId,
  total,
  load,
});

describe('placement policy', () => {
  test('DEFAULT stays local below half its capacity, then goes to the least loaded node with room', () => {
    const others = [node('b', { CPU: 4 }, { CPU: 3 }), node('c', { CPU: 4 }, { CPU: 1 })];
    expect(place({ CPU: 1 }, 'DEFAULT', node('a', { CPU: 4 }, { CPU: 1 }), others, 0)).toEqual({ node: 'a' });
    // At half: the least utilized node that has room (c at 25%), not b (75%).
    expect(place({ CPU: 1 }, 'DEFAULT', node('a', { CPU: 4 }, { CPU: 2 }), others, 0)).toEqual({ node: 'c' });
    // Local with room but above half loses to a less loaded node.
    expect(place({ CPU: 1 }, 'DEFAULT', node('a', { CPU: 4 }, { CPU: 3 }), others, 0)).toEqual({ node: 'c' });
    // No node has room: it queues locally when local can run it at all.
    const full = [node('b', { CPU: 2 }, { CPU: 2 })];
    expect(place({ CPU: 1 }, 'DEFAULT', node('a', { CPU: 2 }, { CPU: 2 }), full, 0)).toEqual({ node: 'a' });
    // Local cannot run it (no GPU): the feasible node, even with no room now.
    const gpu = [node('g', { CPU: 1, GPU: 1 }, { GPU: 1 })];
    expect(place({ GPU: 1 }, 'DEFAULT', node('a', { CPU: 8 }), gpu, 0)).toEqual({ node: 'g' });
  });

  test('a demand no node can meet stays local, to wait for a node that can', () => {
    const p = place({ TPU: 1 }, 'DEFAULT', node('a', { CPU: 2 }), [node('b', { CPU: 2 })], 0);
    expect(p).toEqual({ node: 'a' });
    expect(place({ TPU: 1 }, 'SPREAD', node('a', { CPU: 2 }), [node('b', { CPU: 2 })], 3)).toEqual({
      node: 'a',
    });
  });

  test('SPREAD goes round the feasible nodes, those with room first', () => {
    const local = node('a', { CPU: 2 });
    const others = [node('b', { CPU: 2 }), node('c', { CPU: 2 }), node('x', { GPU: 1 })];
    const turns = [0, 1, 2, 3, 4].map((t) => place({ CPU: 1 }, 'SPREAD', local, others, t));
    expect(turns.map((p) => ('node' in p ? p.node : p.unschedulable))).toEqual(['a', 'b', 'c', 'a', 'b']);
    // b is full: the round goes over a and c only, while they have room.
    const busy = [node('b', { CPU: 2 }, { CPU: 2 }), node('c', { CPU: 2 })];
    const round = [0, 1, 2].map((t) => place({ CPU: 1 }, 'SPREAD', local, busy, t));
    expect(round.map((p) => ('node' in p ? p.node : ''))).toEqual(['a', 'c', 'a']);
  });

  test('hard node affinity: that node, or unschedulable with the reason', () => {
    const local = node('a', { CPU: 2 });
    const others = [node('b', { CPU: 2 }, { CPU: 2 })];
    // Busy does not matter: it queues there.
    expect(place({ CPU: 1 }, { nodeId: 'b' }, local, others, 0)).toEqual({ node: 'b' });
    const small = place({ CPU: 4 }, { nodeId: 'b', soft: false }, local, others, 0);
    expect(small).toEqual({
      unschedulable: 'node b cannot run it (it has {"CPU":2}, the task needs {"CPU":4})',
    });
    const gone = place({ CPU: 1 }, { nodeId: 'zz' }, local, others, 0);
    expect(gone).toEqual({ unschedulable: 'node zz is not an alive node of the cluster' });
  });

  test('soft node affinity falls back to DEFAULT when that node is gone or cannot run it', () => {
    const local = node('a', { CPU: 2 });
    const others = [node('b', { CPU: 2 })];
    expect(place({ CPU: 1 }, { nodeId: 'b', soft: true }, local, others, 0)).toEqual({ node: 'b' });
    expect(place({ CPU: 1 }, { nodeId: 'zz', soft: true }, local, others, 0)).toEqual({ node: 'a' });
    expect(place({ CPU: 4 }, { nodeId: 'b', soft: true }, node('a', { CPU: 8 }), others, 0)).toEqual({
      node: 'a',
    });
  });
});
