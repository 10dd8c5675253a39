// The owner's counting rules (lib/worker/reference-table.ts), with a fake
// store and backend (test/unit/fake-node.ts): an owned object lives while
// handles here, borrowers elsewhere, outer objects that contain it, or its
// pending task count it, and is freed (its store copy deleted) when the last
// goes; the death of a borrower (or of a whole node) ends its borrows.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { OwnerDiedError, SunrayError } from '../../lib/base/errors.js';
import { OBJECT_ID_SIZE } from '../../lib/base/ids.js';
import { ObjectRef } from '../../lib/base/object-ref.js';
import { serialize } from '../../lib/base/serialization.js';
import { encodeRefOp, RefOp } from '../../lib/protocol/ref-ops.js';
import { DoneStatus, ReturnKind } from '../../lib/protocol/worker-messages.js';
import { CoreWorker } from '../../lib/worker/core-worker.js';
import { State } from '../../lib/worker/reference-table.js';
import { FakeBackend, FakeStore, taskOf } from './fake-node.js';

let store: FakeStore;
let backend: FakeBackend;
let core: CoreWorker;

beforeEach(() => {
  store = new FakeStore();
  backend = new FakeBackend(store);
  core = new CoreWorker(backend, store);
});
afterEach(() => core.close());

const entry = (ref: ObjectRef<unknown>) => core.refs.owned.get(ref.hex);
/** A ref to an object of another process (owner id `owner`), as a deserialized value would make. */
const foreignRef = (owner: Buffer) => {
  const id = Buffer.alloc(OBJECT_ID_SIZE, 7);
  owner.copy(id, 0);
  return new ObjectRef(id);
};
const opsOf = (op: RefOp) =>
  backend.ops.filter((o) => o.op === op).map((o) => [o.target.toString('hex'), o.other.toString('hex')]);

describe('handles in this process', () => {
  test('each handle counts; the object is freed, and its store copy deleted, when the last goes', () => {
    const ref = core.put({ a: 1 });
    expect(entry(ref)?.localRefs).toBe(1);
    expect(store.has(ref.hex)).toBe(true);
    const copy = new ObjectRef(ref); // a second handle, as deserializing a value makes one
    expect(entry(ref)?.localRefs).toBe(2);
    ref.release();
    expect(entry(ref)?.localRefs).toBe(1);
    expect(store.has(ref.hex)).toBe(true);
    copy.release();
    expect(entry(ref)).toBeUndefined();
    expect(store.deleted).toEqual([ref.hex]);
    copy.release(); // idempotent: nothing counted twice
    expect(store.deleted).toEqual([ref.hex]);
  });
});

describe('a pending task', () => {
  test('keeps its return alive without handles; the result is freed as it lands', () => {
    const { def, base } = taskOf('f');
    const [ref] = core.submit(def, base, []);
    if (!ref) throw new Error('no ref');
    ref.release();
    expect(entry(ref)?.state).toBe(State.Pending);
    const rid = Buffer.from(ref);
    store.objects.set(ref.hex, { data: serialize(1), metadata: Buffer.alloc(0), sealed: true });
    core.onTaskReturn(rid, DoneStatus.Ok, ReturnKind.InStore, Buffer.alloc(0));
    expect(entry(ref)).toBeUndefined();
    expect(store.deleted).toEqual([ref.hex]);
    // A late duplicate of the result for a freed object only drops the value.
    store.objects.set(ref.hex, { data: serialize(1), metadata: Buffer.alloc(0), sealed: true });
    core.onTaskReturn(rid, DoneStatus.Ok, ReturnKind.InStore, Buffer.alloc(0));
    expect(store.has(ref.hex)).toBe(false);
  });

  test('holds its ref arguments and the store copies of its large ones until it ends', () => {
    const { def, base } = taskOf('g');
    const x = core.put('x');
    const big = Buffer.alloc(200 * 1024, 1);
    const [ref] = core.submit(def, base, [x, big]);
    if (!ref) throw new Error('no ref');
    expect(core.submitter.submittedArgCounts().get(x.hex)).toBe(1);
    const temps = [...store.objects.keys()].filter((k) => k !== x.hex);
    expect(temps).toHaveLength(1); // the large argument, put in the store for the worker
    core.onTaskReturn(Buffer.from(ref), DoneStatus.Ok, ReturnKind.Inline, serialize('done'));
    expect(core.submitter.submittedArgCounts().size).toBe(0);
    expect(store.deleted).toEqual(temps);
    expect(entry(ref)?.state).toBe(State.Ready);
  });
});

describe('borrowers in other processes', () => {
  test('keep an object alive after its last handle here; the last to go frees it', () => {
    const held: boolean[] = [];
    core.onHeldByOthers = (h) => held.push(h);
    const ref = core.put('v');
    const a = randomBytes(16);
    const b = randomBytes(16);
    core.onRefOps(
      Buffer.concat([encodeRefOp(RefOp.AddBorrower, ref, a), encodeRefOp(RefOp.AddBorrower, ref, b)]),
    );
    ref.release();
    expect(entry(ref)?.borrowers?.size).toBe(2);
    expect(held).toEqual([true]);
    core.onRefOps(encodeRefOp(RefOp.RemoveBorrower, ref, a));
    expect(entry(ref)).toBeDefined();
    core.onRefOps(encodeRefOp(RefOp.RemoveBorrower, ref, b));
    expect(entry(ref)).toBeUndefined();
    expect(held).toEqual([true, false]);
    // An op for an object freed already is ignored.
    core.onRefOps(encodeRefOp(RefOp.AddBorrower, ref, a));
    expect(entry(ref)).toBeUndefined();
  });

  test("this process borrowing another's ref registers with its first handle and leaves with its last", () => {
    const owner = randomBytes(16);
    const r1 = foreignRef(owner);
    const r2 = new ObjectRef(r1);
    expect(opsOf(RefOp.AddBorrower)).toEqual([[r1.hex, core.ids.ownerId.toString('hex').padEnd(56, '0')]]);
    r1.release();
    expect(opsOf(RefOp.RemoveBorrower)).toEqual([]);
    r2.release();
    expect(opsOf(RefOp.RemoveBorrower)).toHaveLength(1);
  });
});

describe('holders and contained refs', () => {
  test('a ref inside an owned value lives as long as that value', () => {
    const inner = core.put(1);
    const outer = core.put({ inner });
    expect([...(entry(inner)?.holders ?? [])]).toEqual([outer.hex]);
    expect(entry(outer)?.contained).toEqual([inner.hex]);
    inner.release();
    expect(entry(inner)).toBeDefined();
    outer.release();
    expect(entry(outer)).toBeUndefined();
    expect(entry(inner)).toBeUndefined();
    expect(store.deleted.sort()).toEqual([inner.hex, outer.hex].sort());
  });

  test("across owners, holds and contents go to the other object's owner, and end with the outer value", () => {
    const theirs = foreignRef(randomBytes(16));
    const outer = core.put([theirs]);
    expect(opsOf(RefOp.AddHolder)).toEqual([[theirs.hex, outer.hex]]);
    outer.release();
    expect(opsOf(RefOp.RemoveHolder)).toEqual([[theirs.hex, outer.hex]]);

    // A value owned elsewhere holds one of ours: its owner is told, and the hold ends by an op.
    const mine = core.put('mine');
    const theirOuter = foreignRef(randomBytes(16));
    core.addContained(Buffer.from(theirOuter), [mine]);
    expect(opsOf(RefOp.Contains)).toEqual([[theirOuter.hex, mine.hex]]);
    mine.release();
    expect(entry(mine)).toBeDefined();
    core.onRefOps(encodeRefOp(RefOp.RemoveHolder, mine, theirOuter));
    expect(entry(mine)).toBeUndefined();
  });
});

describe('owner death', () => {
  test('a borrower that exits (alone, or with its node) no longer keeps our objects', () => {
    const one = core.put(1);
    const two = core.put(2);
    const proc = randomBytes(16);
    const nodeProc = randomBytes(16);
    core.onRefOps(encodeRefOp(RefOp.AddBorrower, one, proc));
    core.onRefOps(encodeRefOp(RefOp.AddBorrower, two, nodeProc));
    one.release();
    two.release();
    core.onOwnerDied(proc.toString('hex'));
    expect(entry(one)).toBeUndefined();
    expect(entry(two)).toBeDefined();
    core.onOwnerDied(nodeProc.subarray(0, 6).toString('hex')); // a node's prefix of owner ids
    expect(entry(two)).toBeUndefined();
  });

  test("refs of an owner that died fail at once, and their handles' end tells nobody", async () => {
    const owner = randomBytes(16);
    const ref = foreignRef(owner);
    core.onOwnerDied(owner.toString('hex'));
    await expect(core.get([ref], undefined)).rejects.toBeInstanceOf(OwnerDiedError);
    const [ready] = await core.wait([ref], 1, 0);
    expect(ready).toEqual([ref]); // settled: its get fails, it does not hang
    ref.release();
    expect(opsOf(RefOp.RemoveBorrower)).toEqual([]);
  });
});

test('close fails what is pending and frees nothing more', async () => {
  const { def, base } = taskOf('slow');
  const [ref] = core.submit(def, base, []);
  if (!ref) throw new Error('no ref');
  const got = core.getOne(ref, undefined);
  core.close();
  await expect(got).rejects.toThrow(SunrayError);
  await expect(got).rejects.toThrow(/shut down/);
  expect(core.refs.owned.size).toBe(0);
  expect(() => core.put(1)).toThrow(/shut down/);
  expect(backend.submitted).toHaveLength(1);
});
