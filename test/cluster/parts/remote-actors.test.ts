// Remote actors with fakes: an actor whose node dies restarts elsewhere while its
// maxRestarts lasts (the budget carried across restarts, -1 for no end), then its calls
// fail with ActorDiedError; a kill with noRestart or a release ends its restarts; a kill or a
// call of an actor this node never called finds it through the directory, waiting a while
// for one still on its way there.
import { describe, expect, test } from 'vitest';
import { ActorDiedError } from '../../../lib/base/errors.js';
import type { KvClient } from '../../../lib/cluster/kv-client.js';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import { RemoteActors } from '../../../lib/cluster/remote-actors.js';
import type { TaskSpec } from '../../../lib/protocol/spec.js';
import { FakeLocal, FakePeers, NO_DEF, nodeIdOf, nodeInfo, sinkOf, specOf, TaskKind } from './fakes.js';

const SELF = nodeIdOf(0xa0);
const NODES = [nodeIdOf(0xb0), nodeIdOf(0xc0), nodeIdOf(0xd0), nodeIdOf(0xe0)];
const OWNER = sinkOf('owner');

function actors(directory = new Map<string, string>()) {
  const local = new FakeLocal(SELF);
  const table = new NodeTable(SELF);
  table.apply([nodeInfo(SELF), ...NODES.map((n) => nodeInfo(n))]);
  const peers = new FakePeers();
  const forwarded: Array<{ nodeId: string; spec: TaskSpec }> = [];
  const kv = {
    get: async (_ns: string, key: string) => {
      const v = directory.get(key);
      return v === undefined ? undefined : Buffer.from(v);
    },
    put: () => {},
    putIfAbsent: async () => undefined,
    delete: async () => {},
  } as Pick<KvClient, 'get' | 'put' | 'putIfAbsent' | 'delete'>;
  const ra = new RemoteActors({
    local,
    table,
    kv,
    peers,
    forward: (nodeId, spec) => forwarded.push({ nodeId, spec }),
    log: () => {},
    lookup: { attempts: 5, delayMs: 10 },
  });
  // The node manager places each restart on the next node, through the cluster again.
  let next = 1;
  local.onSubmit = (spec, def, owner) => ra.placed(NODES[next++]!, spec, def, owner);
  return { ra, local, peers, forwarded };
}

function creation(maxRestarts: number): TaskSpec {
  return specOf(TaskKind.ActorCreate, { method: JSON.stringify({ maxRestarts, className: 'Tally' }) });
}

describe('remote actors', () => {
  test('an actor restarts elsewhere while its restarts last, then its calls fail', () => {
    const { ra, local, forwarded } = actors();
    const create = creation(2);
    ra.placed(NODES[0]!, create, NO_DEF, OWNER);
    ra.nodeDied(NODES[0]!, 'node b0');
    ra.nodeDied(NODES[1]!, 'node c0');
    expect(local.submitted.map((s) => [s.spec, s.owner])).toEqual([
      [create, OWNER],
      [create, OWNER],
    ]);
    // Its calls go where it lives now.
    const call = specOf(TaskKind.ActorCall, { actorId: create.actorId });
    expect(ra.routeActorCall(call, OWNER)).toBe(true);
    expect(forwarded.map((f) => f.nodeId)).toEqual([NODES[2]]);
    ra.nodeDied(NODES[2]!, 'node d0');
    expect(local.submitted).toHaveLength(2);
    ra.routeActorCall(call, OWNER);
    expect(forwarded).toHaveLength(1);
    expect(local.failed[0]?.err).toBeInstanceOf(ActorDiedError);
    expect(local.failed[0]?.err.message).toMatch(/Tally .* node d0 died and maxRestarts is used up/);
  });

  test('maxRestarts -1 restarts it whenever its node dies', () => {
    const { ra, local } = actors();
    ra.placed(NODES[0]!, creation(-1), NO_DEF, OWNER);
    for (let i = 0; i < 3; i++) ra.nodeDied(NODES[i]!, 'a node');
    expect(local.submitted).toHaveLength(3);
  });

  test('a node dying that hosts none of ours restarts nothing', () => {
    const { ra, local } = actors();
    ra.placed(NODES[0]!, creation(1), NO_DEF, OWNER);
    ra.nodeDied(NODES[3]!, 'node e0');
    expect(local.submitted).toEqual([]);
  });

  test('killed with noRestart, it is not restarted when its node dies', async () => {
    const { ra, local, peers } = actors();
    const create = creation(5);
    ra.placed(NODES[0]!, create, NO_DEF, OWNER);
    ra.killActor(create.actorId, true);
    await ra.killsSent();
    expect(peers.conn(NODES[0]!).sent.map((m) => m.t)).toEqual(['killActor']);
    ra.nodeDied(NODES[0]!, 'node b0');
    expect(local.submitted).toEqual([]);
  });

  test('a kill through a handle this node never called asks the directory where the actor is', async () => {
    const known = Buffer.alloc(16, 7);
    const { ra, peers } = actors(new Map([[known.toString('hex'), NODES[2]!]]));
    ra.killActor(known, true);
    ra.killActor(Buffer.alloc(16, 8), true); // unknown to the directory too: nothing to send
    await ra.killsSent();
    expect(peers.conn(NODES[2]!).sent).toEqual([{ t: 'killActor', actorId: known, noRestart: true }]);
    for (const n of [NODES[0]!, NODES[1]!, NODES[3]!]) expect(peers.conn(n).sent).toEqual([]);
  });

  test('a kill or a call of an actor still on its way to the directory waits for it there', async () => {
    const directory = new Map<string, string>();
    const { ra, peers, forwarded } = actors(directory);
    const late = Buffer.alloc(16, 9);
    const call = specOf(TaskKind.ActorCall, { actorId: late });
    expect(ra.routeActorCall(call, OWNER)).toBe(true);
    ra.killActor(late, false);
    await new Promise((r) => setTimeout(r, 25));
    directory.set(late.toString('hex'), NODES[1]!);
    await ra.killsSent();
    expect(peers.conn(NODES[1]!).sent).toEqual([{ t: 'killActor', actorId: late, noRestart: false }]);
    expect(forwarded).toEqual([{ nodeId: NODES[1]!, spec: call }]);
  });

  test('a call of an actor the directory never knows fails with ActorDiedError', async () => {
    const { ra, local } = actors();
    const call = specOf(TaskKind.ActorCall, { actorId: Buffer.alloc(16, 10) });
    ra.routeActorCall(call, OWNER);
    await new Promise((r) => setTimeout(r, 150));
    expect(
      local.failed.map((f) => [f.spec, f.err.constructor, /unknown to the cluster/.test(f.err.message)]),
    ).toEqual([[call, ActorDiedError, true]]);
  });

  test('released by its owner, it is not restarted, and unknown actors are not ours to release', () => {
    const { ra, local } = actors();
    const create = creation(5);
    ra.placed(NODES[0]!, create, NO_DEF, OWNER);
    expect(ra.releaseActor(create.actorId)).toBe(true);
    ra.nodeDied(NODES[0]!, 'node b0');
    expect(local.submitted).toEqual([]);
    expect(ra.releaseActor(Buffer.alloc(16, 9))).toBe(false);
  });
});
