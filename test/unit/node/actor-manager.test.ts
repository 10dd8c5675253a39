// The actor manager on fake workers and a fake resource pool: restart budgets (infinite
// too), placement that waits for resources and for room under the process cap, names and
// the aliases getIfExists hands out, and the end of actors whose owner let go or exited.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ActorDiedError, InvalidArgumentError } from '../../../lib/base/errors.js';
import { ActorManager } from '../../../lib/node/actor-manager.js';
import { NodeResources } from '../../../lib/node/resource-pool.js';
import type { TaskEntry } from '../../../lib/node/task-table.js';
import { WorkerPool } from '../../../lib/node/worker-pool.js';
import type { ActorCreateOptions } from '../../../lib/protocol/actor-options.js';
import { NO_DEF, specKey } from '../../../lib/protocol/spec.js';
import { DoneStatus, Msg } from '../../../lib/protocol/worker-messages.js';
import {
  actorCallSpec,
  actorCreateSpec,
  entry,
  FakeOwner,
  FakeResources,
  FakeSpawner,
  type FakeWorker,
  taskTable,
} from './fakes.js';

type T = TaskEntry<FakeWorker>;

let closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers) c();
  closers = [];
  vi.restoreAllMocks();
});

const reg = { namespace: 'n', getIfExists: false, detached: false };

function setup(totals: Record<string, number> = { CPU: 4 }, maxWorkers = 10) {
  const spawner = new FakeSpawner();
  const owner = new FakeOwner();
  const fake = new FakeResources(totals);
  const { tasks } = taskTable<FakeWorker>();
  const pool: WorkerPool<FakeWorker> = new WorkerPool(
    spawner,
    { numCpus: 1, idleWorkerTimeoutMs: 60_000, maxWorkers },
    {
      started: () => {},
      exited: (w) => {
        pool.forget(w);
        am.workerExited(w, ownerOf(w), false, 'was killed by SIGKILL', '');
        am.placeWaiting(); // the node's dispatch pass after an exit
      },
      mayStartAgain: () => {},
      hasWork: () => true,
    },
  );
  const am: ActorManager<FakeWorker> = new ActorManager(tasks, pool, new NodeResources(fake), {
    defOf: () => ({ ...NO_DEF, fnId: 'Counter', name: 'Counter', isClass: true }),
    scheduleDispatch: () => {},
    busyChanged: () => {},
    resubmit: () => {},
  });
  closers.push(() => pool.close());
  /** The sinks of workers that own actors (the router's, in the node). */
  const sinks = new Map<FakeWorker, FakeOwner>();
  const ownerOf = (w: FakeWorker) => sinks.get(w) ?? new FakeOwner('worker', w.index);
  const create = (id: Buffer, o: Partial<ActorCreateOptions> = {}, demand = {}, by: FakeOwner = owner): T => {
    const t = entry<FakeWorker>(actorCreateSpec(id, o, demand), by);
    tasks.set(t);
    am.create(t);
    am.placeWaiting();
    return t;
  };
  /** The constructor on the actor's current process finished (Msg.Done of its creation), or threw. */
  const constructed = (id: Buffer, status = DoneStatus.Ok) => {
    const t = [...tasks.values()].find(
      (x) => x.spec.actorId.equals(id) && x.spec.name.endsWith('constructor'),
    );
    if (!t) throw new Error('no creation in flight');
    // Its process said Ready before it ran the constructor.
    if (t.worker) pool.ready(t.worker.index, undefined);
    t.worker?.taskDone(t.hex);
    t.worker = undefined;
    am.created(t, status, undefined);
    am.placeWaiting();
  };
  const call = (id: Buffer, name: string): T => {
    const t = entry<FakeWorker>(actorCallSpec(id, name), owner);
    tasks.set(t);
    am.route(t);
    return t;
  };
  /** A call's Done. */
  const done = (t: T) => {
    t.worker = undefined;
    am.callDone(t);
    tasks.delete(t.hex);
  };
  const workerOf = (id: Buffer) =>
    spawner.spawned.find((w) => w.actorHex === id.toString('hex') && !w.exited);
  return { spawner, owner, fake, tasks, pool, am, sinks, create, constructed, call, done, workerOf };
}

const idOf = (n: number) => Buffer.alloc(16, n);

describe('actor manager', () => {
  test('restarts within maxRestarts, then dead: calls fail with ActorDiedError saying why', () => {
    const { am, create, constructed, call, done, workerOf, owner, spawner } = setup();
    const id = idOf(1);
    create(id, { maxRestarts: 2 });
    constructed(id);
    const m1 = call(id, 'Counter.m1');
    expect(workerOf(id)!.names()).toEqual(['Counter.constructor', 'Counter.m1']);
    workerOf(id)!.exit(null, 'SIGKILL');
    // It restarts; the call it was running is not retried (maxTaskRetries 0).
    expect(am.actorState(id)).toMatchObject({ state: 'restarting', restarts: 1 });
    expect(owner.failureOf('Counter.m1')?.message).toMatch(/is restarting\. Set maxTaskRetries/);
    expect(m1.worker).toBeUndefined();
    const queued = call(id, 'Counter.m2'); // waits for the restart
    expect(workerOf(id)!.names()).toEqual(['Counter.constructor']);
    constructed(id);
    expect(workerOf(id)!.names()).toEqual(['Counter.constructor', 'Counter.m2']);
    done(queued);
    workerOf(id)!.exit(null, 'SIGKILL');
    constructed(id);
    workerOf(id)!.exit(null, 'SIGKILL');
    expect(am.actorState(id)).toMatchObject({ state: 'dead', restarts: 2 });
    call(id, 'Counter.late');
    const err = owner.failureOf('Counter.late');
    expect(err).toBeInstanceOf(ActorDiedError);
    expect(err?.message).toMatch(
      /Counter \(010101010101…\) is dead: its process \(pid \d+\) was killed by SIGKILL and maxRestarts \(2\) is used up/,
    );
    expect(spawner.spawned).toHaveLength(3);
  });

  test('maxRestarts -1 restarts without end; maxTaskRetries -1 retries the running call each time', () => {
    const { am, create, constructed, call, workerOf, owner } = setup();
    const id = idOf(2);
    create(id, { maxRestarts: -1, maxTaskRetries: -1 });
    constructed(id);
    const m = call(id, 'Counter.m');
    for (let i = 1; i <= 20; i++) {
      workerOf(id)!.exit(null, 'SIGKILL');
      expect(am.actorState(id)).toMatchObject({ state: 'restarting', restarts: i });
      constructed(id);
      expect(workerOf(id)!.names()).toEqual(['Counter.constructor', 'Counter.m']);
    }
    expect(owner.failures).toHaveLength(0);
    expect(m.retriesLeft).toBe(Number.POSITIVE_INFINITY);
  });

  test('an actor waits for its placement CPU, which it gives back once constructed', () => {
    const { am, create, constructed, workerOf, fake } = setup({ CPU: 1 });
    const [a, b] = [idOf(3), idOf(4)];
    create(a);
    create(b);
    expect([workerOf(a) !== undefined, workerOf(b)]).toEqual([true, undefined]);
    expect(am.counts()).toEqual({ actors: 2, waiting: 1 });
    expect(am.waitingLoad()).toEqual({
      pending: 1,
      infeasible: {},
      awaitingProcess: 0,
      feasible: { 'actor CPU=1': 1 },
    });
    constructed(a); // placement CPU is only for placing: b gets it
    expect(workerOf(b)?.names()).toEqual(['Counter.constructor']);
    constructed(b);
    expect(fake.available().CPU).toBe(1);
    // One that asked for a CPU holds it while it lives.
    const c = idOf(5);
    create(c, {}, { CPU: 1 });
    constructed(c);
    expect(fake.available().CPU).toBe(0);
    am.kill(c, true);
    expect(fake.available().CPU).toBe(1);
  });

  test('at the process cap an actor waits, in order; an idle task worker hosts one (nothing stopped)', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { am, pool, create, workerOf } = setup({ CPU: 8 }, 2);
    const taskWorker = pool.spawn();
    pool.ready(taskWorker.index, undefined);
    const [a, b, c] = [idOf(6), idOf(7), idOf(8)];
    create(a);
    create(b);
    create(c);
    // a took the idle task worker (warm), b the one started to replace it; c waits.
    expect(workerOf(a)).toBe(taskWorker);
    expect(workerOf(b)).not.toBe(taskWorker);
    expect(am.counts()).toEqual({ actors: 3, waiting: 1 });
    expect(am.waitingLoad()).toEqual({
      pending: 1,
      infeasible: {},
      awaitingProcess: 1,
      feasible: { 'actor CPU=1': 1 },
    });
    expect(taskWorker.stopCalls).toBe(0);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/actor Counter waits for a worker process/);
    am.kill(a, true);
    workerOf(a)?.exit(null, 'SIGKILL');
    expect(workerOf(c)?.names()).toEqual(['Counter.constructor']);
  });

  test('an actor the node cannot place is warned about and reported as infeasible', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { am, create } = setup({ CPU: 4 });
    create(idOf(9), { className: 'Gpu' }, { GPU: 1 });
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/actor Gpu needs \{"GPU":1\} to be placed.*infeasible/);
    expect(am.waitingLoad()).toEqual({
      pending: 1,
      infeasible: { 'actor GPU=1': 1 },
      awaitingProcess: 0,
      feasible: {},
    });
  });

  test('names: one live actor per name; getIfExists gives an alias that calls, state and kill resolve', () => {
    const { am, create, constructed, call, workerOf } = setup();
    const [real, alias, other] = [idOf(10), idOf(11), idOf(12)];
    expect(am.register(real, { ...reg, name: 'c' }, ['m'], 'Counter')).toEqual({
      actorId: real,
      methods: ['m'],
      className: 'Counter',
    });
    create(real, { name: 'c', namespace: 'n' });
    constructed(real);
    expect(() => am.register(other, { ...reg, name: 'c' }, ['m'], 'Counter')).toThrow(InvalidArgumentError);
    expect(am.register(alias, { ...reg, name: 'c', getIfExists: true }, ['m'], 'Counter')).toMatchObject({
      actorId: real,
    });
    expect(am.register(other, { ...reg, name: 'c', namespace: 'elsewhere' }, ['m'], 'Counter')).toMatchObject(
      {
        actorId: other,
      },
    );
    expect(am.getActor('c', 'n')?.actorId).toEqual(real);
    expect(am.getActor('c', 'elsewhere')).toBeNull();
    // A creation for the alias creates nothing; calls to it reach the real actor, with its id.
    create(alias, { name: 'c', namespace: 'n' });
    call(alias, 'Counter.viaAlias');
    const sent = workerOf(real)!.executed.at(-1)!;
    expect([sent.name, sent.actorId.equals(real)]).toEqual(['Counter.viaAlias', true]);
    expect(am.localActor(alias)?.id).toEqual(real);
    expect(am.actorState(alias)).toMatchObject({ state: 'alive' });
    am.release(alias); // not the owner's handle: ends nothing
    expect(am.actorState(real)).toMatchObject({ state: 'alive' });
    am.kill(alias, true);
    expect(am.actorState(real)).toMatchObject({ state: 'dead' });
    expect(workerOf(real)?.killed ?? true).toBe(true);
    // Its name is free again.
    expect(am.register(idOf(13), { ...reg, name: 'c' }, ['m'], 'Counter')).toMatchObject({
      actorId: idOf(13),
    });
  });

  test('released by its owner, an actor ends once its calls are done; a detached one lives on', async () => {
    const { am, create, constructed, call, done, workerOf } = setup();
    const [a, d] = [idOf(14), idOf(15)];
    create(a);
    create(d, { detached: true });
    constructed(a);
    constructed(d);
    const w = workerOf(a)!;
    const m = call(a, 'Counter.m');
    am.release(a);
    am.release(d);
    expect(am.actorState(a)).toMatchObject({ state: 'alive' });
    done(m);
    await Promise.resolve();
    expect(am.actorState(a)).toMatchObject({ state: 'dead' });
    expect(w.stopCalls).toBe(1);
    expect(am.actorState(d)).toMatchObject({ state: 'alive' });
    expect(am.anyAlive()).toBe(true);
  });

  test('when its owner exits, an actor ends unless detached', () => {
    const { am, create, constructed, sinks, pool } = setup();
    const ownerWorker = pool.spawn();
    const ownerSink = new FakeOwner('worker', ownerWorker.index);
    sinks.set(ownerWorker, ownerSink);
    const [a, d] = [idOf(16), idOf(17)];
    create(a, {}, {}, ownerSink);
    create(d, { detached: true }, {}, ownerSink);
    constructed(a);
    constructed(d);
    ownerWorker.exit(0);
    expect(am.actorState(a)).toMatchObject({ state: 'dead' });
    expect(am.actorState(d)).toMatchObject({ state: 'alive' });
  });

  test('a constructor that throws: the actor is dead and its calls fail; its creation leaves the table', () => {
    const { am, create, constructed, call, owner, tasks, workerOf } = setup();
    const id = idOf(18);
    const t = create(id, { maxRestarts: 5 });
    call(id, 'Counter.early'); // waits for the constructor
    const w = workerOf(id)!;
    constructed(id, DoneStatus.Error);
    expect(am.actorState(id)).toMatchObject({ state: 'dead', restarts: 0 });
    expect(owner.failureOf('Counter.early')?.message).toMatch(/constructor threw an error/);
    expect(tasks.get(specKey(t.spec))).toBeUndefined();
    expect(w.stopCalls).toBe(1);
  });
});

describe('shared actors', () => {
  const shared = (perHost = 1000): Partial<ActorCreateOptions> => ({
    isolation: 'shared',
    actorsPerProcess: perHost,
  });
  /** The constructors each host was sent, by host index. */
  const constructorsByHost = (spawned: FakeWorker[]) =>
    spawned.filter((w) => w.sharedHost).map((w) => w.names().filter((n) => n.endsWith('constructor')).length);

  test('spread over one host per CPU, then packed into the least full with room; a new one when all are full', () => {
    const { create, spawner, am } = setup({ CPU: 2 });
    for (let i = 0; i < 5; i++) create(idOf(40 + i), shared(2));
    // a0 -> A, a1 -> B (spread), a2 -> A, a3 -> B (least full), a4 -> C (both full).
    expect(constructorsByHost(spawner.spawned)).toEqual([2, 2, 1]);
    // None holds a CPU: shared actors need none unless they ask.
    expect(am.counts()).toEqual({ actors: 5, waiting: 0 });
    const hostOf = (n: number) => am.actorState(idOf(n))?.pid;
    expect(hostOf(40)).toBe(hostOf(42));
    expect(hostOf(41)).toBe(hostOf(43));
    expect(new Set([hostOf(40), hostOf(41), hostOf(44)]).size).toBe(3);
  });

  test('kill of one drops it from its host, which runs on for its neighbours; with restarts it is placed again', () => {
    const { am, create, constructed, call, owner, spawner } = setup({ CPU: 1 });
    const [a, b, c] = [idOf(50), idOf(51), idOf(52)];
    create(a, shared());
    create(b, { ...shared(), maxRestarts: 1 });
    create(c, shared());
    for (const id of [a, b, c]) constructed(id);
    const [host] = spawner.spawned.filter((w) => w.sharedHost);
    if (!host) throw new Error('no host');
    am.kill(a, true);
    expect(host.frameTypes.at(-1)).toBe(Msg.DropActor);
    expect(host.killed || host.stopCalls > 0).toBe(false);
    expect(am.actorState(a)).toMatchObject({ state: 'dead' });
    call(a, 'Counter.late');
    expect(owner.failureOf('Counter.late')).toBeInstanceOf(ActorDiedError);
    call(c, 'Counter.next');
    expect(host.names().at(-1)).toBe('Counter.next');
    // Killed with restarts allowed: dropped, then constructed again in a host.
    am.kill(b, false);
    expect(am.actorState(b)).toMatchObject({ state: 'restarting', restarts: 1 });
    am.placeWaiting();
    expect(host.names().filter((n) => n === 'Counter.constructor')).toHaveLength(4);
    constructed(b);
    expect(am.actorState(b)).toMatchObject({ state: 'alive' });
  });

  test("a host's death restarts each of its actors under its own budget; the last to leave stops it", () => {
    const { am, create, constructed, spawner } = setup({ CPU: 1 });
    const [a, b] = [idOf(60), idOf(61)];
    create(a, { ...shared(), maxRestarts: 1 });
    create(b, shared());
    constructed(a);
    constructed(b);
    const [first] = spawner.spawned.filter((w) => w.sharedHost);
    first?.exit(null, 'SIGKILL');
    expect(am.actorState(a)).toMatchObject({ state: 'restarting', restarts: 1 });
    expect(am.actorState(b)).toMatchObject({ state: 'dead' });
    constructed(a);
    const second = spawner.spawned.filter((w) => w.sharedHost && !w.exited);
    expect(second).toHaveLength(1);
    am.kill(a, true);
    expect(second[0]?.stopCalls).toBe(1);
  });

  test('released by its owner, a shared actor leaves its host; a constructor that throws does too', () => {
    const { am, create, constructed, spawner } = setup({ CPU: 1 });
    const [a, b] = [idOf(80), idOf(81)];
    create(a, shared());
    create(b, shared());
    constructed(a);
    const [host] = spawner.spawned.filter((w) => w.sharedHost);
    if (!host) throw new Error('no host');
    am.release(a);
    expect(am.actorState(a)).toMatchObject({ state: 'dead' });
    expect(host.frameTypes.filter((t) => t === Msg.DropActor)).toHaveLength(1);
    expect(host.stopCalls).toBe(0); // b is still there (constructing)
    constructed(b, DoneStatus.Error);
    expect(am.actorState(b)).toMatchObject({ state: 'dead' });
    expect(host.frameTypes.filter((t) => t === Msg.DropActor)).toHaveLength(2);
    expect(host.stopCalls).toBe(1);
  });

  test('at the process cap a shared actor waits for room in a host, then takes it', () => {
    const { am, create, constructed, spawner } = setup({ CPU: 1 }, 1);
    create(idOf(70), shared(1));
    constructed(idOf(70));
    create(idOf(71), shared(1));
    expect(am.counts()).toEqual({ actors: 2, waiting: 1 });
    am.kill(idOf(70), true);
    // Its host stops once empty; its exit makes room (the node's dispatch pass then places).
    const [host] = spawner.spawned;
    expect(host?.stopCalls).toBe(1);
    am.placeWaiting();
    expect(am.counts().waiting).toBe(1);
    host?.exit(0);
    expect(am.counts()).toEqual({ actors: 1, waiting: 0 });
    expect(spawner.spawned.at(-1)?.names()).toEqual(['Counter.constructor']);
  });
});
