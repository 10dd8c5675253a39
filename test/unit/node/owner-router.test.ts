// Where results, failures and ownership ops go (owner-router.ts), with fake workers, a
// fake driver, a fake cluster and a fake store: one sink per kind of owner, and what
// happens once an owner is gone.
import { describe, expect, test } from 'vitest';
import { Reader } from '../../../lib/base/codec.js';
import { IdGenerator } from '../../../lib/base/ids.js';
import { type DriverCore, OwnerRouter } from '../../../lib/node/owner-router.js';
import { encodeRefOp, RefOp } from '../../../lib/protocol/ref-ops.js';
import { DoneStatus, Msg, ReturnKind, readResult } from '../../../lib/protocol/worker-messages.js';
import { ObjectId } from '../../../lib/store/object-id.js';
import { FakeCluster, FakeWorker, taskSpec } from './fakes.js';

const NODE = 'aabbccddeeff';
const OTHER_NODE = '112233445566';

/** An owner id of a process on the node whose prefix (12 hex digits) is given. */
const ownerId = (prefix: string, n: number) => `${prefix}${n.toString(16).padStart(20, '0')}`;

class FakeStore {
  objects: ObjectId[] = [];
  deleted: string[] = [];
  list(): Array<{ id: ObjectId }> {
    return this.objects.map((id) => ({ id }));
  }
  delete(id: ObjectId): void {
    this.deleted.push(Buffer.from(id.bytes).toString('hex'));
    this.objects = this.objects.filter((o) => !o.equals(id));
  }
}

class FakeDriver implements DriverCore {
  readonly returns: string[] = [];
  readonly failed: string[] = [];
  readonly refOps: Buffer[] = [];
  readonly ownersDied: string[] = [];
  constructor(readonly ownerHex: string) {}
  onTaskReturn(objectId: Buffer): void {
    this.returns.push(objectId.toString('hex'));
  }
  settleFailed(objectId: Buffer): void {
    this.failed.push(objectId.toString('hex'));
  }
  onRefOps(ops: Buffer): void {
    this.refOps.push(Buffer.from(ops));
  }
  onOwnerDied(ownerHex: string): void {
    this.ownersDied.push(ownerHex);
  }
  memorySummary(): unknown[] {
    return [];
  }
}

function setup() {
  const store = new FakeStore();
  const router = new OwnerRouter(store, NODE);
  const driver = new FakeDriver(ownerId(NODE, 99));
  router.driver = driver;
  const cluster = new FakeCluster();
  router.cluster = cluster;
  return { store, router, driver, cluster };
}

/** The Result frames a worker got: object id (hex), status, kind. */
function results(w: FakeWorker): Array<[string, DoneStatus, ReturnKind]> {
  return w.frames
    .filter((f) => f[0] === Msg.Result)
    .map((f) => {
      const r = new Reader(f);
      r.u8();
      const m = readResult(r);
      return [m.objectId.toString('hex'), m.status, m.kind];
    });
}

describe('owner router', () => {
  test("a task's results go to its owner's sink: a worker's inbox, the driver, the cluster", () => {
    const { router, driver, cluster } = setup();
    const w = new FakeWorker(3, ownerId(NODE, 3));
    const sink = router.attach(w);
    expect([sink.kind, sink.workerIndex, router.workerOwner(3)]).toEqual(['worker', 3, sink]);
    const spec = taskSpec('t', {}, { numReturns: 2 });
    const key = spec.taskId.toString('latin1');
    const id = (i: number) => IdGenerator.returnId(spec.taskId, i).toString('hex');
    sink.returned(key, 0, DoneStatus.Ok, ReturnKind.Inline, Buffer.from('x'));
    sink.returned(key, 1, DoneStatus.Ok, ReturnKind.InStore, Buffer.alloc(0));
    expect(results(w)).toEqual([
      [id(0), DoneStatus.Ok, ReturnKind.Inline],
      [id(1), DoneStatus.Ok, ReturnKind.InStore],
    ]);
    sink.failed(spec, new Error('boom'));
    expect(results(w).slice(2)).toEqual([
      [id(0), DoneStatus.Error, ReturnKind.Inline],
      [id(1), DoneStatus.Error, ReturnKind.Inline],
    ]);
    router.driverOwner.returned(key, 1, DoneStatus.Ok, ReturnKind.Inline, Buffer.from('y'));
    router.driverOwner.failed(spec, new Error('boom'));
    expect([driver.returns, driver.failed]).toEqual([[id(1)], [id(0), id(1)]]);
    expect([router.driverOwner.kind, router.driverOwner.workerIndex]).toEqual(['driver', -1]);
    router.remoteOwner.returned(key, 0, DoneStatus.Ok, ReturnKind.InStore, Buffer.alloc(0));
    router.remoteOwner.failed(spec, new Error('boom'));
    expect(cluster.results.map((r) => [r.objectId.toString('hex'), r.status, r.kind])).toEqual([
      [id(0), DoneStatus.Ok, ReturnKind.InStore],
      [id(0), DoneStatus.Error, ReturnKind.Inline],
      [id(1), DoneStatus.Error, ReturnKind.Inline],
    ]);
  });

  test('once a worker exits, nothing reaches it: its stored results are deleted, everyone is told', () => {
    const { router, driver, cluster, store } = setup();
    const gone = new FakeWorker(1, ownerId(NODE, 1));
    const other = new FakeWorker(2, ownerId(NODE, 2));
    const sink = router.attach(gone);
    router.attach(other);
    const put = ObjectId.fromBytes(new IdGenerator(Buffer.from(gone.ownerId, 'hex')).nextPutId());
    const kept = ObjectId.fromBytes(new IdGenerator(Buffer.from(other.ownerId, 'hex')).nextPutId());
    store.objects = [put, kept];
    expect(router.workerExited(gone)).toBe(sink);
    // Its objects' copies go; the others and the driver hear that refs it owned are unreadable.
    expect(store.deleted).toEqual([Buffer.from(put.bytes).toString('hex')]);
    expect(other.frames.map((f) => [f[0], f.subarray(1).toString('hex')])).toEqual([
      [Msg.OwnerDied, gone.ownerId],
    ]);
    expect([driver.ownersDied, cluster.exitedOwners]).toEqual([[gone.ownerId], [gone.ownerId]]);
    // Results of tasks it owned: dropped, and deleted from the store when they are there.
    const spec = taskSpec('late');
    const key = spec.taskId.toString('latin1');
    sink.returned(key, 0, DoneStatus.Ok, ReturnKind.InStore, Buffer.alloc(0));
    sink.returned(key, 0, DoneStatus.Ok, ReturnKind.Inline, Buffer.from('v'));
    sink.failed(spec, new Error('x'));
    expect(gone.frames).toHaveLength(0);
    expect(store.deleted.at(-1)).toBe(IdGenerator.returnId(spec.taskId, 0).toString('hex'));
    expect(store.deleted).toHaveLength(2);
    // Frames that name it by index now find nobody.
    expect(router.workerOwner(1)).not.toBe(sink);
    expect(router.workerOwner(1).workerIndex).toBe(-1);
  });

  test('ownership ops reach their owner; a new borrower of a gone owner hears at once', () => {
    const { router, driver, cluster } = setup();
    const owner = new FakeWorker(1, ownerId(NODE, 1));
    const borrower = new FakeWorker(2, ownerId(NODE, 2));
    router.attach(owner);
    const from = router.attach(borrower);
    const objectOf = (hex: string) => new IdGenerator(Buffer.from(hex, 'hex')).nextPutId();
    const toWorker = encodeRefOp(
      RefOp.AddBorrower,
      objectOf(owner.ownerId),
      Buffer.from(borrower.ownerId, 'hex'),
    );
    const toDriver = encodeRefOp(RefOp.RemoveBorrower, objectOf(driver.ownerHex), Buffer.alloc(16));
    const elsewhere = encodeRefOp(RefOp.AddBorrower, objectOf(ownerId(OTHER_NODE, 5)), Buffer.alloc(16));
    router.routeRefOps(from, Buffer.concat([toWorker, toDriver, elsewhere]));
    expect(owner.frames.map((f) => [f[0], f.subarray(1).equals(toWorker)])).toEqual([[Msg.RefOps, true]]);
    expect(driver.refOps).toEqual([toDriver]);
    expect(cluster.refOps.map((r) => [r.ops.equals(elsewhere), r.sender])).toEqual([[true, from]]);
    // The owner exits; a borrower registering with it after that is told it is gone.
    router.workerExited(owner);
    borrower.frames.length = 0;
    router.routeRefOps(from, toWorker);
    expect(borrower.frames.map((f) => [f[0], f.subarray(1).toString('hex')])).toEqual([
      [Msg.OwnerDied, owner.ownerId],
    ]);
    // From another node: the owners gone here are named, for that node to tell its borrowers.
    expect(router.routeRemoteRefOps(Buffer.concat([toWorker, toWorker]))).toEqual([owner.ownerId]);
  });
});
