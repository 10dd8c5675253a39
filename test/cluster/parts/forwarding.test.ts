// Forwarding with fakes: what happens to tasks sent to a node that dies (retried while
// retries are left, actor calls failed), results lost on their way home (the task runs
// again once, or fails), a result whose task was sent again meanwhile (superseded:
// ignored), and results of tasks forwarded here going back through the ref-op gate.
import { describe, expect, test } from 'vitest';
import { Writer } from '../../../lib/base/codec.js';
import { ActorDiedError, ObjectLostError, WorkerCrashedError } from '../../../lib/base/errors.js';
import type { Conn } from '../../../lib/cluster/connection.js';
import { Forwarding } from '../../../lib/cluster/forwarding.js';
import type { Message } from '../../../lib/cluster/messages.js';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import type { ObjectMover } from '../../../lib/cluster/objects.js';
import type { PullOutcome } from '../../../lib/cluster/transfer.js';
import { type TaskSpec, writeSpec } from '../../../lib/protocol/spec.js';
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

function forwarding() {
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
    closed: () => false,
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
