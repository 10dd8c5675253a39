// Forwarding with fakes: what happens to tasks sent to a node that dies (retried while
// retries are left, actor calls failed), results lost on their way home (the task runs
// again once, or fails), a result whose task was sent again meanwhile (superseded:
// ignored), results of tasks forwarded here going back through the ref-op gate, and
// tasks the node manager refuses (it is shut down: submit throws) failing home or
// dropped while this node closes, never thrown into the connection or left unhandled.
import { describe, expect, test } from 'vitest';
import { Writer } from '../../../lib/base/codec.js';
import {
  ActorDiedError,
  ObjectLostError,
  SunrayError,
  WorkerCrashedError,
} from '../../../lib/base/errors.js';
import { deserialize } from '../../../lib/base/serialization.js';
import type { Conn } from '../../../lib/cluster/connection.js';
import { Forwarding } from '../../../lib/cluster/forwarding.js';
import type { Message } from '../../../lib/cluster/messages.js';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import type { ObjectMover } from '../../../lib/cluster/objects.js';
import type { PullOutcome } from '../../../lib/cluster/transfer.js';
import type { ErrorRecord } from '../../../lib/protocol/error-record.js';
import { ArgKind, encodeArgs, type TaskSpec, writeSpec } from '../../../lib/protocol/spec.js';
import { DoneStatus, ReturnKind } from '../../../lib/protocol/worker-messages.js';
import {
  FakeLocal,
  FakePeers,
  NO_DEF,
  nodeIdOf,
  returnOf,
  settle,
  sinkOf,
  specOf,
  TaskKind,
} from './fakes.js';

const SELF = nodeIdOf(0xa0);
const B = nodeIdOf(0xb0);
const C = nodeIdOf(0xc0);
const OWNER = sinkOf('owner');

/** Copies home wait until the test settles them. */
class FakeObjects implements ObjectMover {
  readonly copies: Array<{ from: string; id: Buffer; settle: (o: PullOutcome | Error) => void }> = [];
  readonly freedHere: Buffer[] = [];
  readonly freesSent: Array<{ nodeId: string; id: Buffer }> = [];
  pullArg(): Promise<PullOutcome> {
    return Promise.resolve('ok');
  }
  copyHome(from: Conn, id: Buffer): Promise<PullOutcome> {
    return new Promise((res, rej) =>
      this.copies.push({ from: from.peerId, id, settle: (o) => (o instanceof Error ? rej(o) : res(o)) }),
    );
  }
  freeLocal(id: Buffer): void {
    this.freedHere.push(id);
  }
  sendFree(nodeId: string | undefined, id: Buffer): void {
    if (nodeId) this.freesSent.push({ nodeId, id });
  }
}

function forwarding(state = { closed: false }) {
  const local = new FakeLocal(SELF);
  const peers = new FakePeers();
  const objects = new FakeObjects();
  const logs: string[] = [];
  const unreachable: string[] = [];
  const gated: string[] = [];
  const fw = new Forwarding({
    local,
    table: new NodeTable(SELF),
    peers,
    objects,
    gate: {
      after: (to, send) => {
        gated.push(to);
        send();
      },
    },
    log: (l) => logs.push(l),
    closed: () => state.closed,
    nodeUnreachable: (id) => unreachable.push(id),
    changed: () => {},
  });
  /** As ClusterNode.forward does for tasks and actor calls. */
  const forward = (nodeId: string, spec: TaskSpec) => {
    fw.track(nodeId, spec, NO_DEF, OWNER);
    fw.send(nodeId, spec, NO_DEF);
  };
  return { fw, local, peers, objects, logs, unreachable, gated, forward };
}

function result(spec: TaskSpec, kind: ReturnKind, i = 0): Extract<Message, { t: 'result' }> {
  return { t: 'result', objectId: returnOf(spec, i), status: DoneStatus.Ok, kind, payload: Buffer.from('v') };
}

describe('forwarding', () => {
  test('a task on a node that dies runs again while retries are left, then fails', async () => {
    const { fw, local, forward } = forwarding();
    const t = specOf(TaskKind.Task, { maxRetries: 1 });
    forward(B, t);
    await settle();
    // The node manager places the retry on C (through the cluster again).
    local.onSubmit = (spec) => forward(C, spec);
    fw.nodeDied(B, 'node b0b0b0b0');
    expect(local.submitted.map((s) => [s.spec.taskId, s.spec.maxRetries, s.owner])).toEqual([
      [t.taskId, 0, OWNER],
    ]);
    fw.nodeDied(C, 'node c0c0c0c0');
    expect(local.submitted).toHaveLength(1);
    expect(local.failed).toHaveLength(1);
    expect(local.failed[0]?.err).toBeInstanceOf(WorkerCrashedError);
    expect(local.failed[0]?.err.message).toMatch(/node c0c0c0c0 running task .* retries are used up/);
    expect(fw.busy).toBe(false);
  });

  test('an actor call on a node that dies fails with ActorDiedError, never re-run', async () => {
    const { fw, local, forward } = forwarding();
    const call = specOf(TaskKind.ActorCall, { maxRetries: 3 });
    forward(B, call);
    fw.nodeDied(B, 'node b0b0b0b0');
    expect(local.submitted).toEqual([]);
    expect(local.failed[0]?.err).toBeInstanceOf(ActorDiedError);
  });

  test('a node that cannot be reached is treated as dead for what was sent to it', async () => {
    const { peers, unreachable, forward } = forwarding();
    peers.unreachable.add(B);
    forward(B, specOf(TaskKind.Task));
    await settle();
    expect(unreachable).toEqual([B]);
  });

  test('a result copied home reaches its owner, and the executing node drops its copy', async () => {
    const { fw, local, peers, objects, forward } = forwarding();
    const t = specOf(TaskKind.Task);
    forward(B, t);
    fw.onResult(result(t, ReturnKind.InStore), peers.conn(B) as unknown as Conn);
    expect(local.delivered).toEqual([]); // not before it is home
    objects.copies[0]?.settle('ok');
    await settle();
    expect(local.delivered.map((d) => [d.owner, d.objectId])).toEqual([[OWNER, returnOf(t)]]);
    expect(objects.freesSent).toEqual([{ nodeId: B, id: returnOf(t) }]);
    expect(fw.busy).toBe(false);
  });

  test('a result lost on its way home runs its task again once, for all its returns', async () => {
    const { fw, local, peers, objects, logs, forward } = forwarding();
    const t = specOf(TaskKind.Task, { maxRetries: 2, numReturns: 2 });
    forward(B, t);
    const from = peers.conn(B) as unknown as Conn;
    fw.onResult(result(t, ReturnKind.InStore, 0), from);
    fw.onResult(result(t, ReturnKind.InStore, 1), from);
    // Placed here this time: nothing is forwarded for the re-run.
    objects.copies[0]?.settle(new Error('connection closed'));
    objects.copies[1]?.settle(new Error('connection closed'));
    await settle();
    expect(local.submitted.map((s) => [s.spec.taskId, s.spec.maxRetries])).toEqual([[t.taskId, 1]]);
    expect(local.failed).toEqual([]);
    expect(logs.filter((l) => l.startsWith('re-running'))).toHaveLength(1);
  });

  test('a result its node no longer has is lost in transit too (no unhandled rejection)', async () => {
    const { fw, local, peers, objects, forward } = forwarding();
    const t = specOf(TaskKind.Task, { maxRetries: 1 });
    forward(B, t);
    fw.onResult(result(t, ReturnKind.InStore), peers.conn(B) as unknown as Conn);
    objects.copies[0]?.settle('missing');
    await settle();
    expect(local.submitted.map((s) => s.spec.maxRetries)).toEqual([0]);
  });

  test('a result lost on its way home with no retries left fails with ObjectLostError', async () => {
    const { fw, local, peers, objects, forward } = forwarding();
    const t = specOf(TaskKind.Task, { maxRetries: 0 });
    forward(B, t);
    fw.onResult(result(t, ReturnKind.InStore), peers.conn(B) as unknown as Conn);
    objects.copies[0]?.settle(new Error('reset'));
    await settle();
    expect(local.submitted).toEqual([]);
    expect(local.failed[0]?.err).toBeInstanceOf(ObjectLostError);
    expect(local.failed[0]?.err.message).toMatch(/retries are used up/);
  });

  test('a failed copy of a task already sent again elsewhere is ignored: the new run answers', async () => {
    const { fw, local, peers, objects, forward } = forwarding();
    const t = specOf(TaskKind.Task, { maxRetries: 2 });
    forward(B, t);
    fw.onResult(result(t, ReturnKind.InStore), peers.conn(B) as unknown as Conn);
    local.onSubmit = (spec) => forward(C, spec);
    fw.nodeDied(B, 'node b0b0b0b0'); // sent again, to C
    objects.copies[0]?.settle(new Error('node b died'));
    await settle();
    expect(local.submitted).toHaveLength(1);
    expect(local.failed).toEqual([]);
    // C's answer is the one that counts.
    fw.onResult(result(t, ReturnKind.Inline), peers.conn(C) as unknown as Conn);
    expect(local.delivered.map((d) => d.objectId)).toEqual([returnOf(t)]);
    expect(fw.busy).toBe(false);
  });

  test('a task forwarded here runs for the remote owner and its result goes back through the gate', async () => {
    const { fw, local, peers, gated } = forwarding();
    const t = specOf(TaskKind.Task);
    const w = new Writer(256);
    writeSpec(w, t);
    fw.onSubmit({ t: 'submit', origin: B, spec: Buffer.from(w.finish()), def: Buffer.alloc(0) });
    expect(local.submitted.map((s) => [s.spec.taskId, s.owner])).toEqual([[t.taskId, local.remoteOwner]]);
    fw.sendResult(returnOf(t), DoneStatus.Ok, ReturnKind.Inline, Buffer.from('v'));
    await settle();
    expect(gated).toEqual([B]);
    expect(peers.conn(B).sent.map((m) => m.t)).toEqual(['result']);
    // One return: the task is done here, a second result has nowhere to go.
    fw.sendResult(returnOf(t), DoneStatus.Ok, ReturnKind.Inline, Buffer.from('v'));
    await settle();
    expect(peers.conn(B).sent).toHaveLength(1);
  });
});

/** A task as it arrives from node `origin`. */
function submitted(spec: TaskSpec, origin = B): Extract<Message, { t: 'submit' }> {
  const w = new Writer(256);
  writeSpec(w, spec);
  return { t: 'submit', origin, spec: Buffer.from(w.finish()), def: Buffer.alloc(0) };
}

/** A result sent home, with its error record read back as the owner's node reads it. */
function failure(m: Message | undefined): { objectId: Buffer; status: DoneStatus; record: ErrorRecord } {
  if (m?.t !== 'result') throw new Error(`expected a result, got ${m?.t}`);
  return { objectId: m.objectId, status: m.status, record: deserialize(m.payload) as ErrorRecord };
}

/** What NodeManager.submit does once the node manager is shut down. */
function shutDown(): never {
  throw new SunrayError('the node manager is shut down');
}

// Before these were handled, a refused submit threw into the connection's reader (which
// closed the connection) or, for a task waiting for its arguments, became an unhandled
// rejection (vitest fails the run on one) and stopped every task queued after it.
describe('tasks the node manager refuses (it is shut down)', () => {
  test('a task forwarded here fails home: each return, with WorkerCrashedError saying why', async () => {
    const { fw, local, peers } = forwarding();
    local.onSubmit = shutDown;
    const t = specOf(TaskKind.Task, { numReturns: 2 });
    expect(() => fw.onSubmit(submitted(t))).not.toThrow();
    await settle();
    const sent = peers.conn(B).sent.map(failure);
    expect(sent.map((f) => [f.objectId, f.status])).toEqual([
      [returnOf(t, 0), DoneStatus.Error],
      [returnOf(t, 1), DoneStatus.Error],
    ]);
    expect(sent[0]?.record.name).toBe('WorkerCrashedError');
    expect(sent[0]?.record.message).toMatch(
      new RegExp(`^node a0a0a0a0 could not run task ${t.name}: the node manager is shut down$`),
    );
  });

  test('an actor call forwarded here fails home with ActorDiedError', async () => {
    const { fw, local, peers } = forwarding();
    local.onSubmit = shutDown;
    const call = specOf(TaskKind.ActorCall);
    fw.onSubmit(submitted(call));
    await settle();
    const [f] = peers.conn(B).sent.map(failure);
    expect(f?.record.name).toBe('ActorDiedError');
    expect(f?.record.failure).toBe('actorDied');
  });

  test('one that waited for its arguments fails home, and the tasks queued after it still run', async () => {
    const { fw, local, peers } = forwarding();
    const arg = returnOf(specOf(TaskKind.Task));
    const first = specOf(TaskKind.ActorCall, { args: encodeArgs([{ kind: ArgKind.StoreRef, id: arg }]) });
    const second = specOf(TaskKind.ActorCall);
    local.onSubmit = (spec) => {
      if (spec.taskId.equals(first.taskId)) shutDown();
    };
    fw.onSubmit(submitted(first));
    fw.onSubmit(submitted(second)); // queued behind the first (calls keep their order)
    await settle();
    expect(local.submitted.map((s) => s.spec.taskId)).toEqual([first.taskId, second.taskId]);
    expect(peers.conn(B).sent.map((m) => failure(m).objectId)).toEqual([returnOf(first)]);
  });

  test('while this node closes, one is dropped: nothing goes home, its pulled arguments are freed', async () => {
    const state = { closed: false };
    const { fw, local, peers, objects } = forwarding(state);
    local.onSubmit = shutDown;
    const arg = returnOf(specOf(TaskKind.Task));
    state.closed = true;
    fw.onSubmit(submitted(specOf(TaskKind.Task)));
    fw.onSubmit(
      submitted(specOf(TaskKind.Task, { args: encodeArgs([{ kind: ArgKind.StoreRef, id: arg }]) })),
    );
    await settle();
    expect(local.submitted).toHaveLength(2);
    expect(peers.conn(B).sent).toEqual([]);
    expect(objects.freedHere).toEqual([arg]);
  });

  test('a retry the node manager refuses fails to its owner instead', async () => {
    const { fw, local, peers, objects, forward } = forwarding();
    const lost = specOf(TaskKind.Task, { maxRetries: 1 });
    const onDeadNode = specOf(TaskKind.Task, { maxRetries: 1 });
    forward(B, lost);
    forward(C, onDeadNode);
    local.onSubmit = shutDown;
    // Its result was lost on the way home: re-run, in a promise callback.
    fw.onResult(result(lost, ReturnKind.InStore), peers.conn(B) as unknown as Conn);
    objects.copies[0]?.settle('missing');
    await settle();
    // Its node died: re-run, from the node table's heartbeat.
    expect(() => fw.nodeDied(C, 'node c0c0c0c0')).not.toThrow();
    expect(local.submitted.map((s) => s.spec.taskId)).toEqual([lost.taskId, onDeadNode.taskId]);
    expect(local.failed.map((f) => [f.spec.taskId, f.owner, f.err.message])).toEqual([
      [lost.taskId, OWNER, 'the node manager is shut down'],
      [onDeadNode.taskId, OWNER, 'the node manager is shut down'],
    ]);
    expect(fw.busy).toBe(false);
  });

  test('a cancel and a consumed count reach the node a task went to; others are not ours', async () => {
    const { fw, peers, forward } = forwarding();
    const t = specOf(TaskKind.Task, { stream: 'streaming:2' });
    forward(B, t);
    await settle();
    expect(fw.streamConsumed(t.taskId, 3)).toBe(true);
    expect(fw.cancel(t.taskId, false, false)).toBe(true);
    expect(peers.conn(B).sent.slice(1)).toEqual([
      { t: 'streamConsumed', taskId: t.taskId, consumed: 3 },
      { t: 'cancel', taskId: t.taskId, force: false, recursive: false },
    ]);
    const never = specOf(TaskKind.Task);
    expect(fw.streamConsumed(never.taskId, 1)).toBe(false);
    expect(fw.cancel(never.taskId, true, true)).toBe(false);
  });
});
