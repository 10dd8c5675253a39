// A task forwarded to a node whose node manager is already shut down (a real one, with its
// shared-memory store and completion ring, shut down as `sunray stop` or a driver's
// shutdown() does): the node's forwarding part fails it home to the node that sent it,
// as the owner's node reads results, and nothing throws or is left unhandled.
import { describe, expect, test } from 'vitest';
import { Writer } from '../../lib/base/codec.js';
import { deserialize } from '../../lib/base/serialization.js';
import { Forwarding } from '../../lib/cluster/forwarding.js';
import type { Message } from '../../lib/cluster/messages.js';
import { NodeTable } from '../../lib/cluster/node-table.js';
import type { ObjectMover } from '../../lib/cluster/objects.js';
import { NodeManager } from '../../lib/node/node-manager.js';
import { type ErrorRecord, failureToError } from '../../lib/protocol/error-record.js';
import { type TaskSpec, writeSpec } from '../../lib/protocol/spec.js';
import { DoneStatus } from '../../lib/protocol/worker-messages.js';
import { FakePeers, nodeIdOf, returnOf, settle, specOf, TaskKind } from './parts/fakes.js';

const ORIGIN = nodeIdOf(0xb0);

function submitted(spec: TaskSpec): Extract<Message, { t: 'submit' }> {
  const w = new Writer(256);
  writeSpec(w, spec);
  return { t: 'submit', origin: ORIGIN, spec: Buffer.from(w.finish()), def: Buffer.alloc(0) };
}

const noObjects: ObjectMover = {
  pullArg: () => Promise.resolve('ok'),
  copyHome: () => Promise.resolve('ok'),
  freeLocal: () => {},
  sendFree: () => {},
};

describe('a task forwarded to a node manager that is shut down', () => {
  test('fails home with the reason, and the error its owner gets says what happened', async () => {
    const manager = new NodeManager({
      numCpus: 1,
      numGpus: 0,
      resources: {},
      objectStoreMemory: 16 * 1024 * 1024,
      namespace: 'default',
      logToDriver: false,
      idleWorkerTimeoutMs: 1000,
      driverDir: process.cwd(),
    });
    await manager.shutdown();
    const peers = new FakePeers();
    const logs: string[] = [];
    const fw = new Forwarding({
      local: manager,
      table: new NodeTable(manager.nodeId),
      peers,
      objects: noObjects,
      gate: { after: (_to, send) => send() },
      log: (l) => logs.push(l),
      closed: () => false,
      nodeUnreachable: () => {},
      changed: () => {},
    });
    const t = specOf(TaskKind.Task, { name: 'crunch' });
    expect(() => fw.onSubmit(submitted(t))).not.toThrow();
    await settle();
    const sent = peers.conn(ORIGIN).sent;
    expect(sent.map((m) => m.t)).toEqual(['result']);
    const m = sent[0];
    if (m?.t !== 'result') throw new Error('expected a result');
    expect(m.objectId).toEqual(returnOf(t));
    expect(m.status).toBe(DoneStatus.Error);
    const err = failureToError(deserialize(m.payload) as ErrorRecord);
    expect(err.name).toBe('WorkerCrashedError');
    expect(err.message).toContain(
      `node ${manager.nodeId.slice(0, 8)} could not run task crunch: the node manager is shut down`,
    );
    expect(logs).toEqual([]);
  });
});
