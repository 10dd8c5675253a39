// The node <-> worker frames of protocol/worker-messages.ts, written and read
// back: a Done with its returns (read into reused objects, as the node manager
// does), a Result for an owner, a direct actor's result, and which return an
// owner gets when a task failed.
import { describe, expect, test } from 'vitest';
import { Reader, Writer } from '../../lib/base/codec.js';
import { IdGenerator, OBJECT_ID_SIZE, TASK_ID_SIZE, taskKeyOf } from '../../lib/base/ids.js';
import {
  type DoneMessage,
  DoneStatus,
  Msg,
  ReturnKind,
  readDone,
  readResult,
  returnOf,
  type TaskReturn,
  writeDirectResult,
  writeDone,
  writeResult,
} from '../../lib/protocol/worker-messages.js';

const ids = new IdGenerator();

describe('worker messages', () => {
  test('a Done frame reads back into reused objects, its returns trimmed to the new count', () => {
    const taskId = Buffer.from(ids.nextTaskKey(), 'latin1');
    const into: DoneMessage = {
      worker: 0,
      taskKey: '',
      status: DoneStatus.Ok,
      returns: [],
      startedAt: 0,
      endedAt: 0,
    };
    const returns: TaskReturn[] = [
      { kind: ReturnKind.Inline, payload: Buffer.from('one') },
      { kind: ReturnKind.InStore, payload: Buffer.alloc(0) },
    ];
    const w = new Writer();
    writeDone(w, 7, taskId, DoneStatus.Ok, returns, 1_700_000_000_000.25, 1_700_000_000_001.5);
    const r = new Reader(w.finish());
    expect(r.u8()).toBe(Msg.Done);
    readDone(r, into);
    expect(into.worker).toBe(7);
    expect(into.taskKey).toBe(taskKeyOf(taskId));
    expect(into.taskKey.length).toBe(TASK_ID_SIZE);
    expect([into.startedAt, into.endedAt]).toEqual([1_700_000_000_000.25, 1_700_000_000_001.5]);
    expect(into.returns.map((x) => [x.kind, x.payload.toString()])).toEqual([
      [ReturnKind.Inline, 'one'],
      [ReturnKind.InStore, ''],
    ]);
    const kept = into.returns[0];

    const w2 = new Writer();
    writeDone(
      w2,
      8,
      taskId,
      DoneStatus.Error,
      [{ kind: ReturnKind.Inline, payload: Buffer.from('err') }],
      0,
      0,
    );
    const r2 = new Reader(w2.finish());
    r2.u8();
    readDone(r2, into);
    expect(into.status).toBe(DoneStatus.Error);
    expect(into.returns).toHaveLength(1);
    expect(into.returns[0]).toBe(kept); // the same object, reused
    expect(into.returns[0]?.payload.toString()).toBe('err');
  });

  test('a Result and a DirectResult carry an object id, a status, a kind and a payload', () => {
    const oid = IdGenerator.returnId(Buffer.from(ids.nextTaskKey(), 'latin1'), 1);
    expect(oid.length).toBe(OBJECT_ID_SIZE);
    const w = new Writer();
    writeResult(w, oid, DoneStatus.Ok, ReturnKind.Inline, Buffer.from('value'));
    const r = new Reader(w.finish());
    expect(r.u8()).toBe(Msg.Result);
    const m = readResult(r);
    expect(m.objectId.equals(oid)).toBe(true);
    expect([m.status, m.kind, m.payload.toString()]).toEqual([DoneStatus.Ok, ReturnKind.Inline, 'value']);

    const d = new Writer();
    writeDirectResult(d, 3, oid, DoneStatus.Cancelled, ReturnKind.Inline, Buffer.from('x'));
    const dr = new Reader(d.finish());
    expect(dr.u8()).toBe(Msg.DirectResult);
    expect(dr.u32()).toBe(3);
    const dm = readResult(dr);
    expect(dm.objectId.equals(oid)).toBe(true);
    expect(dm.status).toBe(DoneStatus.Cancelled);
  });

  test("each return is its own on success; a failure's one record stands for every return", () => {
    const rets: TaskReturn[] = [
      { kind: ReturnKind.Inline, payload: Buffer.from('a') },
      { kind: ReturnKind.Inline, payload: Buffer.from('b') },
    ];
    expect(returnOf(DoneStatus.Ok, rets, 1)).toBe(rets[1]);
    expect(returnOf(DoneStatus.Error, rets, 1)).toBe(rets[0]);
    expect(returnOf(DoneStatus.Ok, [], 0)).toBeUndefined();
  });
});
