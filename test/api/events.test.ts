// sunray.events in a driver with an embedded node: a worker that exits, an actor restarted
// and then dead, an actor killed, work no node can run; each event says what and why.
import * as sunray from 'sunray';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { until } from '../helpers.js';

beforeAll(() => sunray.init({ numCpus: 2, objectStoreMemory: 64 << 20 }));
afterAll(() => sunray.shutdown());
afterEach(() => {
  sunray.events.removeAllListeners();
});

/** Every event of these kinds from now on, in order. */
function record<K extends keyof sunray.SunrayEventMap>(
  ...names: K[]
): Array<[K, sunray.SunrayEventMap[K][0]]> {
  const seen: Array<[K, sunray.SunrayEventMap[K][0]]> = [];
  for (const name of names) {
    (sunray.events.on as (n: K, l: (e: sunray.SunrayEventMap[K][0]) => void) => void)(name, (e) =>
      seen.push([name, e]),
    );
  }
  return seen;
}

const Tally = sunray.remote(
  class Tally {
    n = 0;
    bump() {
      return ++this.n;
    }
    pid() {
      return process.pid;
    }
  },
);

test('a task worker killed with SIGKILL: workerExit with its pid and signal', async () => {
  const seen = record('workerExit');
  const pidOf = sunray.remote(() => process.pid);
  const pid = await sunray.get(pidOf.remote());
  process.kill(pid, 'SIGKILL');
  await until(() => seen.some(([, e]) => e.pid === pid), 10_000, 'workerExit');
  const e = seen.find(([, x]) => x.pid === pid)![1];
  expect(e).toMatchObject({
    nodeId: sunray.getRuntimeContext().nodeId,
    signal: 'SIGKILL',
    exitCode: null,
    how: 'was killed by SIGKILL',
    outOfMemory: false,
    actorId: undefined,
    expected: false,
  });
  expect(e.workerId).toMatch(/^[0-9a-f]{32}$/);
});

test('an actor whose process dies restarts (actorRestarted), then dies for good (actorDied)', async () => {
  const seen = record('actorRestarted', 'actorDied', 'workerExit');
  const a = Tally.options({ maxRestarts: 1, name: 'tally-events' }).remote();
  const pid1 = await sunray.get(a.pid.remote());
  process.kill(pid1, 'SIGKILL');
  await until(() => seen.some(([n]) => n === 'actorRestarted'), 10_000, 'actorRestarted');
  expect(seen.find(([n]) => n === 'actorRestarted')![1]).toEqual({
    actorId: a.actorId,
    className: 'Tally',
    name: 'tally-events',
    restarts: 1,
    reason: `its process (pid ${pid1}) was killed by SIGKILL`,
  });
  const pid2 = await sunray.get(a.pid.remote());
  expect(pid2).not.toBe(pid1);
  process.kill(pid2, 'SIGKILL');
  await until(() => seen.some(([n]) => n === 'actorDied'), 10_000, 'actorDied');
  const died = seen.find(([n]) => n === 'actorDied')![1] as sunray.ActorDiedEvent;
  expect(died).toMatchObject({ actorId: a.actorId, className: 'Tally', name: 'tally-events' });
  expect(died.reason).toMatch(/maxRestarts \(1\) is used up/);
  // The two worker exits name the actor they hosted.
  const hosted = () => seen.filter(([n, e]) => n === 'workerExit' && (e as sunray.WorkerExitEvent).actorId);
  await until(() => hosted().length >= 2, 10_000, 'two workerExit');
  const exits = seen
    .filter(([n, e]) => n === 'workerExit' && (e as sunray.WorkerExitEvent).actorId === a.actorId)
    .map(([, e]) => e as sunray.WorkerExitEvent);
  expect(exits.map((e) => [e.pid, e.actorId])).toEqual([
    [pid1, a.actorId],
    [pid2, a.actorId],
  ]);
});

test('kill() of an actor: actorDied says it was killed', async () => {
  const seen = record('actorDied');
  const a = Tally.remote();
  await sunray.get(a.bump.remote());
  sunray.kill(a);
  await until(() => seen.length > 0, 10_000, 'actorDied');
  expect(seen[0]![1]).toMatchObject({ actorId: a.actorId, className: 'Tally' });
  expect(seen[0]![1].reason).toMatch(/killed with sunray.kill\(\)/);
});

test('a task and an actor that ask for more than the node has: infeasible, once each', async () => {
  const seen = record('infeasible');
  const huge = sunray.remote(() => 1, { numCpus: 64, name: 'huge-task' });
  const refs = [huge.remote(), huge.remote()]; // the same class of task: reported once
  const Big = sunray.remote(class Big {}, { resources: { gpuish: 2 } });
  const big = Big.remote();
  await until(() => seen.length >= 2, 10_000, 'infeasible');
  await new Promise((r) => setTimeout(r, 100));
  const byKind = new Map(seen.map(([, e]) => [e.kind, e]));
  expect(seen).toHaveLength(2);
  expect(byKind.get('task')).toMatchObject({
    name: 'huge-task',
    demand: { CPU: 64 },
    nodeId: sunray.getRuntimeContext().nodeId,
    nodeResources: expect.objectContaining({ CPU: 2 }),
  });
  expect(byKind.get('actor')).toMatchObject({ name: 'Big', demand: expect.objectContaining({ gpuish: 2 }) });
  for (const r of refs) sunray.cancel(r);
  sunray.kill(big);
});

test('with no listener nothing is reported, and the node goes on', async () => {
  expect(sunray.events.listenerCount('workerExit')).toBe(0);
  const pidOf = sunray.remote(() => process.pid);
  process.kill(await sunray.get(pidOf.remote()), 'SIGKILL');
  expect(await sunray.get(sunray.remote((x: number) => x + 1).remote(1))).toBe(2);
});
