// Membership with fakes: which node tables set off a node's death handling (once per
// death, in the order the parts were given), a node not known yet, nodes and this
// node rejoining. The head path uses the real Directory; other nodes a fake head.
import { describe, expect, test } from 'vitest';
import { Directory } from '../../../lib/cluster/directory.js';
import { type HeadConn, Membership, REJOIN_MAX_MS, REJOIN_MIN_MS } from '../../../lib/cluster/membership.js';
import { ErrorCode, type Message, type NodeInfoMsg, type Parsed } from '../../../lib/cluster/messages.js';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import { events as sunrayEvents } from '../../../lib/protocol/events.js';
import { FakeLocal, NO_DEF, nodeIdOf, nodeInfo, settle, sinkOf, specOf, TaskKind } from './fakes.js';

const SELF = nodeIdOf(0xa0);
const B = nodeIdOf(0xb0);
const C = nodeIdOf(0xc0);
const D = nodeIdOf(0xd0);
const OWNER = sinkOf('owner');

/** The head as a non-head node sees it: register answers `table`; heartbeats wait for the test. */
class FakeHead implements HeadConn {
  open = true;
  closed = false;
  registers = 0;
  readonly heartbeats: Array<(p: Parsed | Error) => void> = [];
  readonly sent: Message[] = [];
  constructor(public table: NodeInfoMsg[]) {}
  send(m: Message): boolean {
    this.sent.push(m);
    return true;
  }
  request(m: Message): Promise<Parsed> {
    if (m.t !== 'register') return Promise.reject(new Error(`unexpected ${m.t}`));
    this.registers++;
    return Promise.resolve({
      requestId: 0n,
      msg: { t: 'nodeTable', nodes: this.table, heartbeatTimeoutMs: 1000 },
    });
  }
  requestCb(m: Message, cb: (p: Parsed | Error) => void): void {
    if (m.t === 'heartbeat') this.heartbeats.push(cb);
  }
  /** Answers the oldest heartbeat with a node table. */
  reply(nodes: NodeInfoMsg[]): void {
    this.heartbeats.shift()?.({ requestId: 0n, msg: { t: 'nodeTable', nodes, heartbeatTimeoutMs: 1000 } });
  }
  setRef(): void {}
  close(): void {
    this.closed = true;
  }
  async finish(): Promise<void> {
    this.close();
  }
}

function nonHead(initial: NodeInfoMsg[], state = { closed: false }) {
  const local = new FakeLocal(SELF);
  const head = new FakeHead(initial);
  const deaths: string[] = [];
  let tables = 0;
  const m = new Membership({
    local,
    table: new NodeTable(SELF),
    directory: undefined,
    head: false,
    isDriver: false,
    headAddress: '10.0.0.9:7000',
    address: () => '10.0.0.1:7001',
    heartbeatTimeoutMs: 1000,
    dial: async () => head,
    onNodeDead: [
      (id, where) => deaths.push(`first ${id.slice(0, 2)} ${where}`),
      (id) => deaths.push(`then ${id.slice(0, 2)}`),
    ],
    onTable: () => tables++,
    closed: () => state.closed,
  });
  return { m, local, head, deaths, tables: () => tables };
}

describe('membership', () => {
  test('a node that lost its head tries again with a bounded backoff, then rejoins', async () => {
    const head = new FakeHead([nodeInfo(SELF), nodeInfo(B)]);
    let up = true;
    const tries: number[] = [];
    const lines: string[] = [];
    const m = new Membership({
      local: new FakeLocal(SELF),
      table: new NodeTable(SELF),
      directory: undefined,
      head: false,
      isDriver: false,
      headAddress: '10.0.0.9:7000',
      address: () => '10.0.0.1:7001',
      heartbeatTimeoutMs: 1000,
      dial: async () => {
        tries.push(Date.now());
        if (!up) throw new Error('ECONNREFUSED');
        return head;
      },
      onNodeDead: [],
      onTable: () => {},
      closed: () => false,
      log: (l) => lines.push(l),
    });
    await m.start();
    up = false;
    m.connClosed(m.headConn);
    expect(lines[0]).toContain('lost the connection to the head at 10.0.0.9:7000');
    // Heartbeats every 10 ms for 1.2 s: the tries are spaced 250, 500, 1000 ms apart, not 120 of them.
    const t0 = Date.now();
    while (Date.now() - t0 < 1200) {
      m.tick();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(tries.length - 1).toBeGreaterThanOrEqual(2);
    expect(tries.length - 1).toBeLessThanOrEqual(4);
    const gaps = tries.slice(2).map((t, i) => t - (tries[i + 1] ?? t));
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(REJOIN_MIN_MS - 20);
    expect(REJOIN_MAX_MS).toBeLessThanOrEqual(5000);
    up = true;
    await new Promise((r) => setTimeout(r, 1100));
    m.tick();
    await settle();
    expect(m.headConn).toBe(head);
    expect(lines.at(-1)).toBe('rejoined the head at 10.0.0.9:7000');
  });

  test('a node found dead in a new table is handled once, by every part in order', async () => {
    const { m, head, deaths } = nonHead([nodeInfo(SELF), nodeInfo(B), nodeInfo(C)]);
    await m.start();
    expect(deaths).toEqual([]);
    m.tick();
    head.reply([nodeInfo(SELF), nodeInfo(B, false), nodeInfo(C)]);
    expect(deaths).toEqual([`first b0 node b0b0b0b0 (${nodeInfo(B).address})`, 'then b0']);
    // The head keeps listing it dead for a while: no second death.
    m.tick();
    head.reply([nodeInfo(SELF), nodeInfo(B, false), nodeInfo(C)]);
    m.tick();
    head.reply([nodeInfo(SELF), nodeInfo(C)]);
    expect(deaths).toHaveLength(2);
  });

  test('deaths are handled once the whole table is in: a retry never goes to a node it shows dead', async () => {
    const local = new FakeLocal(SELF);
    const table = new NodeTable(SELF);
    const head = new FakeHead([nodeInfo(SELF), nodeInfo(B), nodeInfo(C)]);
    const seen: string[] = [];
    const m = new Membership({
      local,
      table,
      directory: undefined,
      head: false,
      isDriver: false,
      headAddress: '10.0.0.9:7000',
      address: () => '10.0.0.1:7001',
      heartbeatTimeoutMs: 1000,
      dial: async () => head,
      // What a retry's placement would see of the other node when this death is handled.
      onNodeDead: [(id) => seen.push(`${id.slice(0, 2)}: other alive ${table.alive(id === B ? C : B)}`)],
      onTable: () => {},
      closed: () => false,
    });
    await m.start();
    m.tick();
    head.reply([nodeInfo(SELF), nodeInfo(B, false), nodeInfo(C, false)]);
    expect(seen).toEqual(['b0: other alive false', 'c0: other alive false']);
  });

  test('once this node closes, a death sets nothing off: its node manager would refuse retries', async () => {
    const state = { closed: false };
    const { m, deaths } = nonHead([nodeInfo(SELF), nodeInfo(B)], state);
    await m.start();
    state.closed = true;
    m.nodeDead(B); // as a send to B that failed after close() would
    expect(deaths).toEqual([]);
  });

  test('a node that leaves the table alive died; one first seen dead never lived here', async () => {
    const { m, head, deaths, local } = nonHead([nodeInfo(SELF), nodeInfo(B)]);
    await m.start();
    m.tick();
    head.reply([nodeInfo(SELF), nodeInfo(D, false)]);
    expect(deaths).toEqual([`first b0 node b0b0b0b0 (?)`, 'then b0']);
    // Yet it may have owned work here between two tables (a short driver's actors): its owners are gone.
    expect(local.deadOwners).toContain(NodeTable.ownerPrefix(D));
  });

  test('this node is never handled as dead, whatever the table says', async () => {
    const { m, head, deaths } = nonHead([nodeInfo(SELF), nodeInfo(B)]);
    await m.start();
    m.tick();
    head.reply([nodeInfo(SELF, false), nodeInfo(B)]);
    m.nodeDead(SELF);
    expect(deaths).toEqual([]);
  });

  test('a node not known yet joins: tasks no node could run are placed again', async () => {
    const { m, local, head, tables } = nonHead([nodeInfo(SELF)]);
    await m.start();
    const t = specOf(TaskKind.Task, { demand: { GPU: 1 } });
    local.infeasible = [{ spec: t, def: NO_DEF, owner: OWNER }];
    m.tick();
    head.reply([nodeInfo(SELF)]);
    expect(local.submitted).toEqual([]); // nobody new: they stay
    m.tick();
    head.reply([nodeInfo(SELF), nodeInfo(D)]);
    expect(local.submitted).toEqual([{ spec: t, def: NO_DEF, owner: OWNER }]);
    expect(tables()).toBe(3); // the register reply and two heartbeats
  });

  test('with an autoscaler on the head, they go as nodes that can run them have room', async () => {
    const scaledHead = { ...nodeInfo(B), isHead: true, labels: { 'sunray.io/autoscaler': 'demo' } };
    const { m, local, head } = nonHead([nodeInfo(SELF), scaledHead]);
    await m.start();
    const t = specOf(TaskKind.Task, { demand: { GPU: 1 } });
    const t2 = specOf(TaskKind.Task, { demand: { GPU: 1 } });
    local.infeasible = [
      { spec: t, def: NO_DEF, owner: OWNER },
      { spec: t2, def: NO_DEF, owner: OWNER },
    ];
    m.tick();
    head.reply([nodeInfo(SELF), scaledHead, nodeInfo(D)]);
    expect(local.submitted).toEqual([]); // D has no GPU: they stay
    const gpu = { ...nodeInfo(D), total: { CPU: 2, GPU: 1 }, available: { CPU: 2, GPU: 1 } };
    m.tick();
    head.reply([nodeInfo(SELF), scaledHead, gpu]);
    // Room for one GPU task: the first goes, the second waits for the next table.
    expect(local.submitted).toEqual([{ spec: t, def: NO_DEF, owner: OWNER }]);
    m.tick();
    head.reply([nodeInfo(SELF), scaledHead, { ...gpu, load: { GPU: 1 } }]);
    expect(local.submitted.length).toBe(1); // busy: still waits
    m.tick();
    head.reply([nodeInfo(SELF), scaledHead, gpu]);
    expect(local.submitted.length).toBe(2);
  });

  test('a node that died and rejoined counts as joined, and its next death is handled again', async () => {
    const events: string[] = [];
    const onAdded = (e: { nodeId: string }) => events.push(`added ${e.nodeId}`);
    const onDead = (e: { nodeId: string }) => events.push(`dead ${e.nodeId}`);
    sunrayEvents.on('nodeAdded', onAdded);
    sunrayEvents.on('nodeDead', onDead);
    try {
      const { m, local, head, deaths } = nonHead([nodeInfo(SELF), nodeInfo(B)]);
      await m.start();
      m.tick();
      head.reply([nodeInfo(SELF), nodeInfo(B, false)]);
      m.nodeDead(B); // found unreachable too: reported once all the same
      local.infeasible = [{ spec: specOf(TaskKind.Task), def: NO_DEF, owner: OWNER }];
      m.tick();
      head.reply([nodeInfo(SELF), nodeInfo(B)]);
      expect(local.submitted).toHaveLength(1);
      m.tick();
      head.reply([nodeInfo(SELF), nodeInfo(B, false)]);
      expect(deaths.filter((d) => d.startsWith('then'))).toEqual(['then b0', 'then b0', 'then b0']);
      // sunray.events: added at registration, dead once per death, added again on the rejoin.
      await new Promise((r) => process.nextTick(r));
      expect(events).toEqual([`added ${B}`, `dead ${B}`, `added ${B}`, `dead ${B}`]);
    } finally {
      sunrayEvents.off('nodeAdded', onAdded);
      sunrayEvents.off('nodeDead', onDead);
    }
  });

  test('declared dead by the head, this node registers again on the same connection', async () => {
    const { m, head, deaths } = nonHead([nodeInfo(SELF), nodeInfo(B)]);
    await m.start();
    expect(head.registers).toBe(1);
    m.tick();
    head.table = [nodeInfo(SELF), nodeInfo(B, false)];
    head.heartbeats.shift()?.({
      requestId: 0n,
      msg: { t: 'error', code: ErrorCode.NotFound, message: 'register again' },
    });
    await settle();
    expect(head.registers).toBe(2);
    expect(m.headConn).toBe(head);
    // The table that came with the new registration is taken like any other.
    expect(deaths).toContain('then b0');
  });

  test('on the head: a node the directory marks dead is handled once', async () => {
    const local = new FakeLocal(SELF);
    const deaths: string[] = [];
    let m: Membership | undefined;
    const directory = new Directory(
      1000,
      () => {},
      () => m?.tick(),
    );
    m = new Membership({
      local,
      table: new NodeTable(SELF),
      directory,
      head: true,
      isDriver: false,
      headAddress: undefined,
      address: () => '10.0.0.1:7001',
      heartbeatTimeoutMs: 1000,
      dial: () => Promise.reject(new Error('the head dials nobody')),
      onNodeDead: [(id) => deaths.push(id)],
      onTable: () => {},
      closed: () => false,
    });
    await m.start();
    directory.upsert(nodeInfo(B));
    m.tick();
    expect(deaths).toEqual([]);
    directory.markDead(B, 'its connection to the head closed'); // runs tick at once
    expect(deaths).toEqual([B]);
    m.tick();
    directory.markDead(B, 'again');
    expect(deaths).toEqual([B]);
  });
});
