// A full store whose space is pinned by another process: an async get that must
// restore a spilled object waits for that process to release its pin, and
// fails (naming the pinned bytes) if it does not within the wait.
import { afterEach, expect, it } from 'vitest';
import { ObjectId, ObjectStore, ObjectStoreFullError } from '../../lib/store/index.js';
import { StoreChild } from './child.js';
import { fillPattern, verifyPattern } from './fixtures/pattern.js';

const MIB = 1024 * 1024;
const SIZE = 3 * MIB; // two fit in the 8 MiB store, a third does not
let store: ObjectStore | undefined;
let child: StoreChild | undefined;

afterEach(async () => {
  if (child && child.proc.exitCode === null && child.proc.signalCode === null) await child.kill9();
  child = undefined;
  store?.close();
  store = undefined;
});

function put(s: ObjectStore, seed: number): ObjectId {
  const id = ObjectId.random();
  fillPattern(s.create(id, SIZE), seed);
  s.seal(id);
  return id;
}

/** A spilled object b, and memory full of a (pinned by the child) and c (pinned here). */
async function fullOfPins() {
  store = ObjectStore.create({ capacity: 8 * MIB });
  const s = store;
  child = new StoreChild();
  await child.send({ op: 'attach', path: s.path });
  const a = put(s, 1);
  await child.send({ op: 'hold', id: a.hex() });
  const b = put(s, 2);
  const c = put(s, 3); // spills b
  expect(s.list().find((o) => o.id.equals(b))?.state).toBe('spilled');
  const mine = s.tryGet(c);
  expect(mine).not.toBeNull();
  return { s, b, mine: mine! };
}

it('a get that finds the store full waits until another process releases its pin', async () => {
  const { s, b, mine } = await fullOfPins();
  const started = Date.now();
  const got = s.get([b]);
  // The child lets go a little later; the get is still waiting then.
  await new Promise((r) => setTimeout(r, 300));
  await child!.send({ op: 'unhold' });
  const [obj] = await got;
  expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  expect(Date.now() - started).toBeLessThan(s.fullWaitMs);
  expect(verifyPattern(obj!.data, 2)).toBe(true);
  obj!.release();
  mine.release();
});

it('without the release it fails after the wait, naming the pinned bytes and its own views', async () => {
  const { s, b, mine } = await fullOfPins();
  const started = Date.now();
  const err = await s.get([b], { fullWaitMs: 400 }).catch((e: unknown) => e);
  expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  expect(err).toBeInstanceOf(ObjectStoreFullError);
  const e = err as ObjectStoreFullError;
  expect(e.code).toBe('OBJECT_STORE_FULL');
  expect(e.message).toContain(`${2 * SIZE} bytes (6.0 MiB) pinned in 2 object(s)`);
  expect(e.message).toMatch(/after waiting \d+ ms/);
  expect(e.message).toContain(`this process holds 1 view(s) over ${SIZE} bytes`);
  // Once this process lets go of its own pin, the get goes through.
  mine.release();
  const [obj] = await s.get([b], { fullWaitMs: 0 });
  expect(verifyPattern(obj!.data, 2)).toBe(true);
  obj!.release();
  expect(s.stats()).toMatchObject({ pinned: 1, pinnedBytes: SIZE });
});
