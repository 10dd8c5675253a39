// The node's request server (requests.ts): one typed handler per request kind; a worker's
// request is answered in its inbox, later for requests that answer later, and a request
// the node does not know gets an error back rather than an exception in the node.
import { describe, expect, test } from 'vitest';
import { Reader, Writer } from '../../../lib/base/codec.js';
import { deserialize, serialize } from '../../../lib/base/serialization.js';
import type { PlacementGroups } from '../../../lib/node/placement-groups.js';
import { nodeRequestHandlers, type RequestHandlers, RequestServer } from '../../../lib/node/requests.js';
import { TaskEventRecorder } from '../../../lib/node/task-events.js';
import { Msg } from '../../../lib/protocol/worker-messages.js';
import { FakeCluster, FakeWorker } from './fakes.js';

/** Handlers that answer from fixed values. */
function handlers(seen: unknown[]): RequestHandlers {
  return {
    getActor: () => null,
    killActor: (actorId, noRestart) => {
      seen.push(['kill', Buffer.isBuffer(actorId), noRestart]);
    },
    cancelTask: () => {},
    childrenCancelled: () => {},
    streamConsumed: () => {},
    availableResources: () => ({ CPU: 3 }),
    clusterResources: () => ({ CPU: 4 }),
    nodes: () => [],
    registerActor: (actorId, _o, methods, className) => ({ actorId, methods, className }),
    actorState: () => ({ state: 'alive', restarts: 0, pid: 7 }),
    memorySummary: () => ({ used: 0 }),
    releaseActor: () => {},
    actorExited: () => {},
    pullObject: () => new Promise((resolve) => setTimeout(() => resolve('ok'), 5)),
    listState: () => ({ rows: [], unreachable: [] }),
    logFiles: () => ({ rows: [], unreachable: [] }),
    readLog: () => ({ text: '', size: -1 }),
    placementGroup: () => Promise.resolve(null),
    requestResources: () => {},
  };
}

/** Msg.Request as a worker writes it, after its type byte. */
function request(index: number, id: number, kind: string, args: unknown[]): Reader {
  const w = new Writer(256).u32(index).u32(id).str(kind).bytes(serialize(args));
  return new Reader(Buffer.from(w.finish()));
}

/** The Msg.Reply frames a worker got: request id and the decoded reply. */
function replies(w: FakeWorker): Array<[number, { ok: boolean; value?: unknown; message?: string }]> {
  return w.frames
    .filter((f) => f[0] === Msg.Reply)
    .map((f) => {
      const r = new Reader(f);
      r.u8();
      return [r.u32(), deserialize(r.bytes()) as { ok: boolean; value?: unknown; message?: string }];
    });
}

describe('request server', () => {
  test("a worker's requests are answered in its inbox, now or when their answer is ready", async () => {
    const w = new FakeWorker(4, 'ab'.repeat(16));
    const seen: unknown[] = [];
    const server = new RequestServer(handlers(seen), (i) => (i === 4 ? w : undefined));
    server.onFrame(request(4, 1, 'availableResources', []));
    server.onFrame(request(4, 2, 'killActor', [new Uint8Array(16), true]));
    server.onFrame(request(4, 3, 'pullObject', [new Uint8Array(28), 100]));
    server.onFrame(request(4, 4, 'noSuchRequest', []));
    server.onFrame(request(9, 5, 'clusterResources', [])); // from a worker that is gone: dropped
    expect(replies(w).map(([id]) => id)).toEqual([1, 2, 4]);
    expect(replies(w)[0]).toEqual([1, { ok: true, value: { CPU: 3 } }]);
    expect(replies(w)[2]?.[1]).toMatchObject({ ok: false, message: "unknown node request 'noSuchRequest'" });
    await new Promise((r) => setTimeout(r, 20));
    expect(replies(w).at(-1)).toEqual([3, { ok: true, value: 'ok' }]);
    expect(seen).toEqual([['kill', false, true]]);
  });

  test("the driver's requests are answered directly, typed, with the same handlers", () => {
    const server = new RequestServer(handlers([]), () => undefined);
    const id = Buffer.alloc(16, 1);
    expect(
      server.handle('registerActor', [
        id,
        { namespace: 'n', getIfExists: false, detached: false },
        ['m'],
        'C',
      ]),
    ).toEqual({
      actorId: id,
      methods: ['m'],
      className: 'C',
    });
    expect(server.handle('actorState', [id])).toEqual({ state: 'alive', restarts: 0, pid: 7 });
    expect(() => server.handle('nope' as 'actorState', [id])).toThrow(/unknown node request 'nope'/);
  });

  test("the node's handlers copy the ids they are given, and ask the cluster for what is not here", async () => {
    const calls: unknown[] = [];
    const cluster = new FakeCluster();
    cluster.named.set('n/far', {
      name: 'far',
      namespace: 'n',
      actorId: Buffer.alloc(16, 2),
      methods: [],
      className: 'Far',
    });
    const h = nodeRequestHandlers({
      actors: {
        getActor: () => null,
        register: () => ({ actorId: Buffer.alloc(16), methods: [], className: '' }),
        actorState: (actorId) => {
          calls.push(actorId);
          return null;
        },
        kill: () => {},
        release: () => {},
        exited: () => {},
      },
      store: {} as never, // not asked here
      cluster: () => cluster,
      cancelTask: () => {},
      childrenCancelled: () => {},
      streamConsumed: (taskId, taken) => calls.push(['streamConsumed', Buffer.isBuffer(taskId), taken]),
      available: () => ({ CPU: 1 }),
      total: () => ({ CPU: 2 }),
      nodeId: 'ab',
      labels: {},
      driverJob: undefined,
      localState: { rows: () => [] },
      taskEvents: new TaskEventRecorder('n', true, 10, () => undefined),
      tasks: { values: () => [] },
      placementGroups: {} as PlacementGroups,
    });
    const view = new Uint8Array([1, 2, 3]);
    h.actorState(view as Buffer); // what a worker's request carries: a view, not a Buffer
    expect(Buffer.isBuffer(calls[0])).toBe(true);
    view[0] = 9;
    expect((calls[0] as Buffer)[0]).toBe(1);
    await expect(h.getActor('far', 'n')).resolves.toMatchObject({ className: 'Far' });
    // In a cluster, resources are the cluster's (FakeCluster knows none).
    expect([h.availableResources(), h.clusterResources()]).toEqual([{}, {}]);
    // nodes() is the cluster's table, dead nodes included, as the public NodeInfo.
    cluster.table.push(
      {
        nodeId: 'ab',
        address: '127.0.0.1:1',
        alive: true,
        isHead: true,
        isDriver: false,
        total: { CPU: 2 },
        labels: { zone: 'a' },
      },
      {
        nodeId: 'cd',
        address: '127.0.0.1:2',
        alive: false,
        isHead: false,
        isDriver: false,
        total: { GPU: 1 },
        labels: {},
      },
    );
    expect(h.nodes()).toEqual([
      {
        nodeId: 'ab',
        address: '127.0.0.1:1',
        alive: true,
        isHead: true,
        isDriver: false,
        resources: { CPU: 2 },
        labels: { zone: 'a', 'sunray.io/node-id': 'ab' },
      },
      {
        nodeId: 'cd',
        address: '127.0.0.1:2',
        alive: false,
        isHead: false,
        isDriver: false,
        resources: { GPU: 1 },
        labels: { 'sunray.io/node-id': 'cd' },
      },
    ]);
  });

  test("a node on its own reads its own workers' logs and no other node's; jobs are its driver's", () => {
    const reads: unknown[] = [];
    const job = { jobId: '0a0b0c0d', namespace: 'default', entrypoint: 'node x.js', pid: 1, startTime: 5 };
    const h = nodeRequestHandlers({
      actors: {} as never, // not asked here
      store: {} as never,
      cluster: () => undefined,
      cancelTask: () => {},
      childrenCancelled: () => {},
      streamConsumed: () => {},
      available: () => ({}),
      total: () => ({}),
      nodeId: 'ab',
      labels: {},
      driverJob: job,
      localState: {
        rows: (kind, sel) => {
          reads.push([kind, sel && JSON.parse(sel).pid]);
          return [{ text: 'hi\n', size: 3 }];
        },
      },
      taskEvents: new TaskEventRecorder('n', true, 10, () => undefined),
      tasks: { values: () => [] },
      placementGroups: {} as PlacementGroups,
    });
    const read = { pid: 7, stream: 'out', offset: 0, maxBytes: 10 } as const;
    expect(h.readLog({ ...read, nodeId: 'ab' })).toEqual({ text: 'hi\n', size: 3 });
    expect(h.readLog({ ...read, nodeId: 'cd' })).toEqual({ text: '', size: -1 });
    expect(reads).toEqual([['logRead', 7]]);
    expect(h.listState('jobs')).toEqual({
      rows: [expect.objectContaining({ jobId: '0a0b0c0d', status: 'RUNNING', driverNodeId: 'ab' })],
      unreachable: [],
    });
  });
});
