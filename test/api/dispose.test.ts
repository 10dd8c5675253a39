// `await using ray = await sunray.init()` ends the session at the end of the block (its
// workers exit), and `using store = ObjectStore.create()` closes the store handle.
import * as sunray from 'sunray';
import { ObjectId, ObjectStore, StoreClosedError } from 'sunray/store';
import { afterEach, describe, expect, test } from 'vitest';
import { isRunning, until } from '../helpers.js';

afterEach(() => sunray.shutdown());

const pidOf = sunray.remote(() => process.pid);

describe('disposal', () => {
  test('await using: the end of the block shuts sunray down, and its workers exit', async () => {
    let pid = 0;
    {
      await using ray = await sunray.init({ numCpus: 1, objectStoreMemory: 64 << 20 });
      expect(ray.started).toBe(true);
      pid = await sunray.get(pidOf.remote());
      expect(isRunning(pid)).toBe(true);
    }
    expect(sunray.isInitialized()).toBe(false);
    await until(() => !isRunning(pid), 10_000, 'the worker to exit');
  });

  test('disposing a handle whose init() started nothing (ignoreReinitError) leaves the session running', async () => {
    const ray = await sunray.init({ numCpus: 1, objectStoreMemory: 64 << 20 });
    {
      await using again = await sunray.init({ ignoreReinitError: true });
      expect(again.started).toBe(false);
    }
    expect(sunray.isInitialized()).toBe(true);
    expect(await sunray.get(sunray.put(5))).toBe(5);
    await ray.shutdown();
    expect(sunray.isInitialized()).toBe(false);
    // A handle of a session that ended does not end the next one.
    await sunray.init({ numCpus: 1, objectStoreMemory: 64 << 20 });
    await ray[Symbol.asyncDispose]();
    expect(sunray.isInitialized()).toBe(true);
  });

  test('using: an ObjectStore is closed at the end of its block', () => {
    let outer: ObjectStore | undefined;
    {
      using store = ObjectStore.create({ capacity: 1 << 20 });
      outer = store;
      expect(store.contains(ObjectId.random())).toBe(false);
    }
    expect(() => outer?.contains(ObjectId.random())).toThrow(StoreClosedError);
  });
});
