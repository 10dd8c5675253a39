// Object recovery (lib/worker/object-recovery.ts) with a fake node that runs
// tasks in-process and keeps results in a fake store (test/unit/fake-node.ts):
// a lost result is rebuilt from its lineage under the same id, lost store
// arguments first; rebuilds stop at the task's maxRetries; lineage dropped to
// stay under lineageMemory cannot rebuild (and lets go of what it held).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ObjectLostError } from '../../lib/base/errors.js';
import { taskKeyOf } from '../../lib/base/ids.js';
import type { ObjectRef } from '../../lib/base/object-ref.js';
import { ArgKind, decodeArgs } from '../../lib/protocol/spec.js';
import { CoreWorker } from '../../lib/worker/core-worker.js';
import { FakeBackend, FakeStore, taskOf } from './fake-node.js';

let store: FakeStore;
let backend: FakeBackend;
let core: CoreWorker;

function start(lineageMemory?: number): void {
  store = new FakeStore();
  backend = new FakeBackend(store);
  core = new CoreWorker(backend, store, undefined, lineageMemory);
  backend.core = core;
  backend.resultsInStore = true;
  backend.functions.set('make', () => 5);
  backend.functions.set('add1', (x) => (x as number) + 1);
  backend.functions.set('len', (b) => (b as Buffer).length);
}

function submit(name: string, args: unknown[] = [], maxRetries = 3): ObjectRef<unknown> {
  const { def, base } = taskOf(name, { maxRetries });
  const [ref] = core.submit(def, base, args);
  if (!ref) throw new Error('no ref');
  return ref;
}

const names = () => backend.submitted.map((s) => s.name);
const taskKeys = () => backend.submitted.map((s) => taskKeyOf(s.taskId));

afterEach(() => core.close());

describe('rebuilding lost results', () => {
  beforeEach(() => start());

  test('a lost result is made again under the same id, up to maxRetries times', async () => {
    const ref = submit('make', [], 2);
    expect(await core.getOne(ref, undefined)).toBe(5);
    store.lose(ref.hex);
    expect(await core.getOne(ref, undefined)).toBe(5);
    store.lose(ref.hex);
    expect(await core.get([ref], undefined)).toEqual([5]);
    expect(names()).toEqual(['make', 'make', 'make']);
    expect(new Set(taskKeys()).size).toBe(1); // the same task each time
    store.lose(ref.hex);
    const err = await core.getOne(ref, undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectLostError);
    expect(String(err)).toMatch(/already rebuilt 2 time\(s\), the task's maxRetries/);
    expect(backend.submitted).toHaveLength(3);
  });

  test('lost store arguments are rebuilt first, then the task that takes them', async () => {
    const a = submit('make');
    const b = submit('add1', [a]);
    expect(await core.getOne(b, undefined)).toBe(6);
    expect(names()).toEqual(['make', 'add1']);
    const arg = decodeArgs(backend.submitted[1]?.args ?? Buffer.alloc(4))[0];
    expect(arg?.kind).toBe(ArgKind.StoreRef); // a was in the store when b was sent
    store.lose(a.hex);
    store.lose(b.hex);
    expect(await core.getOne(b, undefined)).toBe(6);
    expect(names()).toEqual(['make', 'add1', 'make', 'add1']);
    expect(store.has(a.hex)).toBe(true);
  });

  test('a small result kept in memory goes back to the store without running again', async () => {
    backend.resultsInStore = false;
    const ref = submit('make');
    expect(await core.getOne(ref, undefined)).toBe(5);
    core.markEscaped([ref]); // handed to another process: promoted to the store
    expect(store.has(ref.hex)).toBe(true);
    store.lose(ref.hex);
    expect(await core.getOne(ref, undefined)).toBe(5);
    expect(store.has(ref.hex)).toBe(true);
    expect(backend.submitted).toHaveLength(1);
  });

  test('a put whose copy is lost cannot be rebuilt, and says so', async () => {
    const ref = core.put('value');
    store.lose(ref.hex);
    await expect(core.getOne(ref, undefined)).rejects.toThrow(/created by put\(\) and every copy is gone/);
  });
});

describe('lineage memory', () => {
  test('the oldest lineage is dropped past the cap: its result cannot be rebuilt, its temporaries go', async () => {
    // One task's lineage is about 256 bytes plus its arguments (ownership/lineage.ts): the
    // cap keeps one at a time.
    start(400);
    const big = Buffer.alloc(200 * 1024, 2); // a large argument: a store temporary held by the lineage
    const first = submit('len', [big]);
    expect(await core.getOne(first, undefined)).toBe(big.length);
    const temp = decodeArgs(backend.submitted[0]?.args ?? Buffer.alloc(4))[0];
    if (temp?.kind !== ArgKind.StoreRef) throw new Error('the large argument did not go through the store');
    expect(store.has(temp.id.toString('hex'))).toBe(true); // kept for a rebuild
    const second = submit('make');
    expect(await core.getOne(second, undefined)).toBe(5);
    expect(store.has(temp.id.toString('hex'))).toBe(false); // dropped with its lineage
    store.lose(first.hex);
    await expect(core.getOne(first, undefined)).rejects.toThrow(/lineage to rebuild it was dropped/);
    store.lose(second.hex);
    expect(await core.getOne(second, undefined)).toBe(5);
    expect(names()).toEqual(['len', 'make', 'make']);
  });

  test('lineage goes with the last result that uses it', async () => {
    start();
    const big = Buffer.alloc(200 * 1024, 3);
    const ref = submit('len', [big]);
    expect(await core.getOne(ref, undefined)).toBe(big.length);
    const temp = decodeArgs(backend.submitted[0]?.args ?? Buffer.alloc(4))[0];
    if (temp?.kind !== ArgKind.StoreRef) throw new Error('the large argument did not go through the store');
    ref.release();
    expect(store.has(ref.hex)).toBe(false);
    expect(store.has(temp.id.toString('hex'))).toBe(false);
  });
});
