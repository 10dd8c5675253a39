// The autoscaler's rounds with a fake provider and a fake head table: nodes launched for
// demand only their type fits, matched to the table by their instance label once they
// join, counted as launching until then, removed once idle past the timeout, published
// in the status; provider failures kept for status; stop() removes every node.
import { describe, expect, test } from 'vitest';
import { Autoscaler } from '../../../lib/autoscaler/autoscaler.js';
import { checkClusterConfig } from '../../../lib/autoscaler/config.js';
import type { DemandSource } from '../../../lib/autoscaler/demand.js';
import type { Instance, NodeLaunch, NodeProvider } from '../../../lib/autoscaler/provider.js';
import type { NodeInfoMsg } from '../../../lib/cluster/messages.js';
import type { AutoscalerStatus } from '../../../lib/protocol/autoscaler.js';
import { nodeInfo } from '../../cluster/parts/fakes.js';

const config = checkClusterConfig({
  clusterName: 'unit',
  idleTimeoutMinutes: 0.1, // 6 s
  nodeTypes: { special: { resources: { CPU: 1, special: 1 }, maxWorkers: 2 } },
  provider: { type: 'local' },
});

class FakeProvider implements NodeProvider {
  readonly kind = 'fake';
  readonly made: NodeLaunch[] = [];
  readonly removed: string[] = [];
  failCreate = false;
  async create(launch: NodeLaunch): Promise<Instance> {
    if (this.failCreate) throw new Error('quota exceeded');
    this.made.push(launch);
    return { id: `i-${this.made.length}`, name: launch.name, nodeType: launch.nodeType };
  }
  async terminate(i: Instance): Promise<void> {
    this.removed.push(i.id);
  }
  async list(): Promise<string[]> {
    return [];
  }
  async address(): Promise<string> {
    return '127.0.0.1';
  }
}

class FakeHead implements DemandSource {
  table: NodeInfoMsg[] = [{ ...nodeInfo('00'.repeat(16)), isHead: true }];
  request: Record<string, number>[] = [];
  last: AutoscalerStatus | undefined;
  nodes() {
    return this.table;
  }
  requested() {
    return this.request;
  }
  pendingPlacementGroups() {
    return [];
  }
  publish(s: AutoscalerStatus) {
    this.last = s;
  }
  /** A launched node joins the table, busy or idle for idleMs. */
  join(launch: NodeLaunch, idleMs = 0): NodeInfoMsg {
    const n = {
      ...nodeInfo(launch.name.replace(/[^0-9a-f]/g, '').padEnd(32, '0')),
      total: launch.resources,
      available: launch.resources,
      labels: launch.labels,
      idleMs,
    };
    this.table.push(n);
    return n;
  }
}

const flush = () => new Promise((r) => setImmediate(r));

describe('Autoscaler rounds', () => {
  test('0 -> 2 nodes for demand only that type fits, then back to 0 once idle past the timeout', async () => {
    const provider = new FakeProvider();
    const head = new FakeHead();
    let now = 1_000_000;
    const a = new Autoscaler({ config, provider, source: head, log: () => {}, now: () => now });
    await a.update();
    expect(provider.made).toEqual([]);
    expect(head.last?.instances).toEqual([]);
    // A driver's node reports 3 tasks no node can run.
    const driver: NodeInfoMsg = {
      ...nodeInfo('dd'.repeat(16)),
      isDriver: true,
      infeasible: { 'CPU=1,special=1': 3 },
    };
    head.table.push(driver);
    await a.update();
    await flush();
    expect(provider.made.map((m) => m.nodeType)).toEqual(['special', 'special']);
    expect(provider.made[0]?.labels).toMatchObject({ 'sunray.io/node-type': 'special' });
    expect(provider.made[0]?.labels['sunray.io/instance']).toBe(provider.made[0]?.name);
    // Not joined yet: launching, and no more launches for the same demand.
    await a.update();
    await flush();
    expect(provider.made.length).toBe(2);
    expect(head.last?.instances.map((i) => i.state)).toEqual(['launching', 'launching']);
    expect(head.last?.unmet).toEqual([
      { shape: { CPU: 1, special: 1 }, count: 1, reason: 'over maxWorkers' },
    ]);
    // They join and run the tasks.
    const joined = provider.made.map((m) => head.join(m));
    driver.infeasible = {};
    await a.update();
    expect(head.last?.instances.map((i) => i.state)).toEqual(['running', 'running']);
    expect(head.last?.instances[0]?.nodeId).toBe(joined[0]?.nodeId);
    // Idle, but not for long enough.
    for (const n of joined) n.idleMs = 3000;
    await a.update();
    await flush();
    expect(provider.removed).toEqual([]);
    expect(head.last?.instances.map((i) => i.state)).toEqual(['idle', 'idle']);
    // Past the timeout: both go.
    for (const n of joined) n.idleMs = 6000;
    await a.update();
    await flush();
    expect(provider.removed.sort()).toEqual(['i-1', 'i-2']);
    for (const n of joined) n.alive = false;
    now += 1000;
    await a.update();
    expect(head.last?.instances).toEqual([]);
    expect(a.instances()).toEqual([]);
  });

  test('the standing request launches ahead of work and keeps its nodes while it stands', async () => {
    const provider = new FakeProvider();
    const head = new FakeHead();
    const a = new Autoscaler({ config, provider, source: head, log: () => {} });
    head.request = [{ special: 1 }];
    await a.update();
    await flush();
    expect(provider.made.length).toBe(1);
    const n = head.join(provider.made[0] as NodeLaunch, 60_000);
    await a.update();
    await flush();
    expect(provider.removed).toEqual([]);
    expect(head.last?.requested).toEqual([{ special: 1 }]);
    head.request = [];
    await a.update();
    await flush();
    expect(provider.removed).toEqual(['i-1']);
    n.alive = false;
  });

  test('demand no type fits is unmet and launches nothing; provider failures show in status', async () => {
    const provider = new FakeProvider();
    const head = new FakeHead();
    const lines: string[] = [];
    const a = new Autoscaler({ config, provider, source: head, log: (l) => lines.push(l) });
    head.table.push({ ...nodeInfo('dd'.repeat(16)), infeasible: { 'CPU=64': 2 } });
    await a.update();
    await flush();
    expect(provider.made).toEqual([]);
    expect(head.last?.unmet).toEqual([{ shape: { CPU: 64 }, count: 2, reason: 'no node type fits' }]);
    provider.failCreate = true;
    head.request = [{ special: 1 }];
    await a.update();
    await flush();
    await a.update();
    expect(head.last?.errors.some((e) => /could not launch a special node: quota exceeded/.test(e))).toBe(
      true,
    );
    expect(lines.some((l) => /quota exceeded/.test(l))).toBe(true);
  });

  test('a node that joined and died is removed; stop() removes the rest', async () => {
    const provider = new FakeProvider();
    const head = new FakeHead();
    const a = new Autoscaler({ config, provider, source: head, log: () => {} });
    head.request = [{ special: 1 }, { special: 1 }];
    await a.update();
    await flush();
    const [first] = provider.made.map((m) => head.join(m));
    await a.update();
    (first as NodeInfoMsg).alive = false;
    await a.update();
    await flush();
    expect(provider.removed).toEqual(['i-1']);
    // The request still wants two: a node replaces the dead one.
    await a.update();
    await flush();
    expect(provider.made.length).toBe(3);
    await a.stop();
    expect(provider.removed.sort()).toEqual(['i-1', 'i-2', 'i-3']);
  });
});
