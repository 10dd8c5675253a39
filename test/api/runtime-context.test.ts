// getRuntimeContext() in the driver, a task and actors: the job id (the driver's, shared by
// its workers), the resources the running task or actor holds, and the namespace.
import * as sunray from 'sunray';
import { afterAll, beforeAll, expect, test } from 'vitest';

beforeAll(() =>
  sunray.init({ numCpus: 2, resources: { disk: 2 }, namespace: 'ctx-ns', objectStoreMemory: 64 << 20 }),
);
afterAll(() => sunray.shutdown());

const Holder = sunray.remote(
  class Holder {
    async context() {
      return (await import('sunray')).getRuntimeContext();
    }
  },
);

test('the driver has a job id, holds no resources, and has init’s namespace', () => {
  const ctx = sunray.getRuntimeContext();
  expect(ctx.jobId).toMatch(/^[0-9a-f]{8}$/);
  expect(ctx.assignedResources).toEqual({});
  expect(ctx.namespace).toBe('ctx-ns');
  expect(ctx.isWorker).toBe(false);
});

test('a task reports the driver’s job, the resources it holds, and the namespace', async () => {
  const f = sunray.remote(async () => (await import('sunray')).getRuntimeContext());
  const plain = await sunray.get(f.remote());
  expect(plain.jobId).toBe(sunray.getRuntimeContext().jobId);
  expect(plain.assignedResources).toEqual({ CPU: 1 });
  expect(plain.namespace).toBe('ctx-ns');
  expect(plain.isWorker).toBe(true);
  const sized = await sunray.get(f.options({ numCpus: 0.5, resources: { disk: 1 } }).remote());
  expect(sized.assignedResources).toEqual({ CPU: 0.5, disk: 1 });
});

test('an actor’s calls report what the actor holds for its life', async () => {
  const plain = Holder.remote();
  const sized = Holder.options({ numCpus: 1, resources: { disk: 2 } }).remote();
  const [a, b] = await sunray.get([plain.context.remote(), sized.context.remote()]);
  expect(a.assignedResources).toEqual({});
  expect(b.assignedResources).toEqual({ CPU: 1, disk: 2 });
  expect(a.actorId).toBe(plain.actorId);
  expect([a.jobId, b.jobId]).toEqual([sunray.getRuntimeContext().jobId, sunray.getRuntimeContext().jobId]);
  expect(b.namespace).toBe('ctx-ns');
  sunray.kill(plain);
  sunray.kill(sized);
});

test('each driver session is a new job', async () => {
  const before = sunray.getRuntimeContext().jobId;
  await sunray.shutdown();
  await sunray.init({ numCpus: 1, objectStoreMemory: 64 << 20 });
  const after = sunray.getRuntimeContext().jobId;
  expect(after).toMatch(/^[0-9a-f]{8}$/);
  expect(after).not.toBe(before);
  const f = sunray.remote(async () => (await import('sunray')).getRuntimeContext().jobId);
  expect(await sunray.get(f.remote())).toBe(after);
});
