// Spillback of waiting actors (actor-spillback.ts) on the real actor manager, fake workers,
// fake resources and a fake cluster whose placement says where room is: an actor waiting
// here moves, with its queued calls in order, once another node can take it; one this node
// can place, one the cluster would keep here, a named one and one forwarded from another
// node stay. Timers are faked: the check runs SPILL_CHECK_MS after actors start waiting.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { ActorManager } from '../../../lib/node/actor-manager.js';
import { SPILL_CHECK_MS } from '../../../lib/node/actor-spillback.js';
import type { ClusterHooks } from '../../../lib/node/cluster-hooks.js';
import { NodeResources } from '../../../lib/node/resource-pool.js';
import { WorkerPool } from '../../../lib/node/worker-pool.js';
import type { ActorCreateOptions } from '../../../lib/protocol/actor-options.js';
import { NO_DEF, type TaskSpec } from '../../../lib/protocol/spec.js';
import {
  actorCallSpec,
  actorCreateSpec,
  entry,
  FakeCluster,
  FakeOwner,
  FakeResources,
  FakeSpawner,
  type FakeWorker,
  taskTable,
} from './fakes.js';

let closers: Array<() => void> = [];
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const c of closers) c();
  closers = [];
  vi.useRealTimers();
});

function setup(roomOn: string | undefined) {
  const { tasks } = taskTable<FakeWorker>();
  const pool: WorkerPool<FakeWorker> = new WorkerPool(
    new FakeSpawner(),
    { numCpus: 1, idleWorkerTimeoutMs: 60_000, maxWorkers: 10 },
    { started: () => {}, exited: () => {}, mayStartAgain: () => {}, hasWork: () => true },
  );
  closers.push(() => pool.close());
  const resubmitted: Array<{ spec: TaskSpec; owner: unknown }> = [];
  const cluster = { where: roomOn };
  const am: ActorManager<FakeWorker> = new ActorManager(
    tasks,
    pool,
    new NodeResources(new FakeResources({ CPU: 1 })),
    {
      defOf: () => ({ ...NO_DEF, fnId: 'Counter', name: 'Counter', isClass: true }),
      scheduleDispatch: () => am.placeWaiting(),
      busyChanged: () => {},
      resubmit: (spec, _def, owner) => resubmitted.push({ spec, owner }),
    },
  );
  am.cluster = Object.assign(new FakeCluster(), {
    place: () => cluster.where,
    actorHere: () => {},
  }) as unknown as ClusterHooks;
  const owner = new FakeOwner();
  const create = (n: number, o: Partial<ActorCreateOptions> = {}, by = owner) => {
    const id = Buffer.alloc(16, n);
    const t = entry<FakeWorker>(actorCreateSpec(id, o, { CPU: 1 }), by);
    tasks.set(t);
    am.create(t);
    am.placeWaiting();
    return id;
  };
  const call = (id: Buffer, name: string) => {
    const t = entry<FakeWorker>(actorCallSpec(id, name), owner);
    tasks.set(t);
    am.route(t);
  };
  return { am, tasks, create, call, resubmitted, cluster };
}

test('an actor waiting here moves, with its queued calls in order, when another node has room', () => {
  const { am, tasks, create, call, resubmitted } = setup('node-b');
  const first = create(1); // takes the node's one CPU
  const second = create(2); // waits
  call(second, 'a');
  call(second, 'b');
  expect(am.actorState(second)?.state).toBe('pending');
  vi.advanceTimersByTime(SPILL_CHECK_MS);
  expect(resubmitted.map((r) => r.spec.name)).toEqual(['Counter.constructor', 'a', 'b']);
  expect(resubmitted[0]?.spec.actorId.equals(second)).toBe(true);
  // Nothing of it is left here; the placed one stays.
  expect(am.actorState(second)).toBeNull();
  expect([...tasks.values()].some((t) => t.spec.actorId.equals(second))).toBe(false);
  expect(am.actorState(first)).not.toBeNull();
});

test('it stays while the cluster would keep it here, and moves once room appears', () => {
  const { am, create, resubmitted, cluster } = setup(undefined);
  create(1);
  const waiting = create(2);
  vi.advanceTimersByTime(SPILL_CHECK_MS * 3);
  expect(resubmitted).toEqual([]);
  expect(am.actorState(waiting)?.state).toBe('pending');
  cluster.where = 'node-c'; // a node joined, or one freed up
  vi.advanceTimersByTime(SPILL_CHECK_MS * 2);
  expect(resubmitted.map((r) => r.spec.actorId.equals(waiting))).toEqual([true]);
});

test('named actors and actors forwarded from another node stay', () => {
  const { am, create, resubmitted } = setup('node-b');
  create(1);
  const named = create(2, { name: 'svc' });
  const forwarded = create(3, {}, new FakeOwner('remote'));
  vi.advanceTimersByTime(SPILL_CHECK_MS * 2);
  expect(resubmitted).toEqual([]);
  expect(am.actorState(named)?.state).toBe('pending');
  expect(am.actorState(forwarded)?.state).toBe('pending');
});
