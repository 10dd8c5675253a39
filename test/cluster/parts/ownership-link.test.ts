// The ownership link with fakes: results wait for the ownership ops sent before them
// to OTHER nodes (not for those to their own destination), held sends leave in the
// order they were made, an unanswered batch stops holding anything after twice the
// heartbeat timeout, and ops for a node not in the table yet wait for the table.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import { OwnershipLink } from '../../../lib/cluster/ownership-link.js';
import { encodeRefOp, RefOp } from '../../../lib/protocol/ref-ops.js';
import { FakeLocal, FakePeers, nodeIdOf, nodeInfo, objectOf, settle, sinkOf } from './fakes.js';

const SELF = nodeIdOf(0xa0);
const B = nodeIdOf(0xb0);
const C = nodeIdOf(0xc0);
const D = nodeIdOf(0xd0);
const HEARTBEAT_TIMEOUT_MS = 1000;
const SENDER = sinkOf('sender');

function link(nodes = [nodeInfo(SELF), nodeInfo(B), nodeInfo(C)]) {
  const local = new FakeLocal(SELF);
  const table = new NodeTable(SELF);
  table.apply(nodes);
  const peers = new FakePeers();
  const l = new OwnershipLink({ local, table, peers, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
  return { l, local, table, peers };
}

/** A borrower here registers for an object owned on nodeId. */
function borrowOn(nodeId: string, index = 1): Buffer {
  return encodeRefOp(RefOp.AddBorrower, objectOf(nodeId, index), objectOf(SELF, 99));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the ref-op gate', () => {
  test('a send to a third node waits for the ops to the owner’s node to be acknowledged', async () => {
    const { l, peers } = link();
    l.send(borrowOn(B), SENDER);
    await settle();
    const order: string[] = [];
    l.gate.after(C, () => order.push('to C'));
    expect(order).toEqual([]);
    expect(peers.conn(B).requests[0]?.m.t).toBe('refOps');
    peers.conn(B).answer({ t: 'refOpsAck', deadOwners: Buffer.alloc(0) });
    expect(order).toEqual(['to C']);
  });

  test('a send to the owner’s own node is not held: it follows the ops on the same connection', async () => {
    const { l } = link();
    l.send(borrowOn(B), SENDER);
    await settle();
    const order: string[] = [];
    l.gate.after(B, () => order.push('to B'));
    expect(order).toEqual(['to B']);
  });

  test('held sends leave in the order they were made, each when the ops before it are in', async () => {
    const { l, peers } = link();
    l.send(borrowOn(B), SENDER);
    await settle();
    const order: string[] = [];
    l.gate.after(C, () => order.push('1 to C'));
    // Not held by the ops to B, but sent after a held send: it waits its turn.
    l.gate.after(B, () => order.push('2 to B'));
    l.send(borrowOn(C), SENDER);
    await settle();
    l.gate.after(B, () => order.push('3 to B'));
    expect(order).toEqual([]);
    peers.conn(B).answer({ t: 'refOpsAck', deadOwners: Buffer.alloc(0) });
    // 3 also waits for the ops to C, sent before it.
    expect(order).toEqual(['1 to C', '2 to B']);
    peers.conn(C).answer({ t: 'refOpsAck', deadOwners: Buffer.alloc(0) });
    expect(order).toEqual(['1 to C', '2 to B', '3 to B']);
  });

  test('ops sent after a held send do not hold it longer', async () => {
    const { l, peers } = link();
    l.send(borrowOn(B), SENDER);
    await settle();
    const order: string[] = [];
    l.gate.after(C, () => order.push('to C'));
    l.send(borrowOn(B, 2), SENDER);
    await settle();
    expect(peers.conn(B).requests).toHaveLength(2);
    peers.conn(B).answer({ t: 'refOpsAck', deadOwners: Buffer.alloc(0) });
    expect(order).toEqual(['to C']);
  });

  test('a batch never acknowledged releases what it holds after twice the heartbeat timeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { l } = link();
    l.send(borrowOn(B), SENDER);
    await settle();
    const order: string[] = [];
    l.gate.after(C, () => order.push('to C'));
    vi.advanceTimersByTime(2 * HEARTBEAT_TIMEOUT_MS - 1);
    expect(order).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(order).toEqual(['to C']);
  });

  test('a batch whose node cannot be reached holds nothing', async () => {
    const { l, peers } = link();
    peers.unreachable.add(B);
    l.send(borrowOn(B), SENDER);
    const order: string[] = [];
    l.gate.after(C, () => order.push('to C'));
    await settle();
    expect(order).toEqual(['to C']);
  });

  test('owners the owner’s node reports dead are dead here', async () => {
    const { l, local, peers } = link();
    l.send(borrowOn(B), SENDER);
    await settle();
    const dead = objectOf(B).subarray(0, 16);
    peers.conn(B).answer({ t: 'refOpsAck', deadOwners: Buffer.from(dead) });
    expect(local.deadOwners).toEqual([dead.toString('hex')]);
  });

  test('ops for a node not in the table yet wait for the table that names it', async () => {
    const { l, table, peers } = link();
    l.send(borrowOn(D), SENDER);
    await settle();
    const order: string[] = [];
    l.gate.after(C, () => order.push('to C'));
    expect(peers.conns.has(D)).toBe(false);
    table.apply([nodeInfo(SELF), nodeInfo(B), nodeInfo(C), nodeInfo(D)]);
    l.retryForUnknown();
    await settle();
    expect(peers.conn(D).requests[0]?.m.t).toBe('refOps');
    expect(order).toEqual([]);
    peers.conn(D).answer({ t: 'refOpsAck', deadOwners: Buffer.alloc(0) });
    expect(order).toEqual(['to C']);
  });

  test('a borrower whose owner’s node is dead learns at once that the owner died', () => {
    const { l, local, table } = link();
    table.apply([nodeInfo(SELF), nodeInfo(B, false), nodeInfo(C)]);
    l.send(borrowOn(B), SENDER);
    expect(local.toldOwnerDied).toEqual([
      { to: SENDER, ownerHex: objectOf(B).subarray(0, 16).toString('hex') },
    ]);
    const order: string[] = [];
    l.gate.after(C, () => order.push('to C'));
    expect(order).toEqual(['to C']);
  });
});
