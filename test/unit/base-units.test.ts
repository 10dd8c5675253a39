// Small pieces of the ground layers, moved or made single by the restructure
// (issue #16): the Deque of task queues, the one object id size, and the one
// key of a name within a namespace.
import { describe, expect, test } from 'vitest';
import { Deque } from '../../lib/base/deque.js';
import { OBJECT_ID_SIZE as BASE_OBJECT_ID_SIZE, TASK_ID_SIZE } from '../../lib/base/ids.js';
import { namespacedKey } from '../../lib/protocol/namespaced-key.js';
import { OBJECT_ID_SIZE, ObjectId } from '../../lib/store/index.js';

describe('Deque', () => {
  test('pops in push order, takes items back at the front, and removes from the middle', () => {
    const q = new Deque<number>();
    for (let i = 0; i < 5; i++) q.push(i);
    expect(q.shift()).toBe(0);
    q.unshift(100);
    expect(q.peek()).toBe(100);
    expect(q.remove((x) => x === 3)).toBe(3);
    expect(q.remove((x) => x === 42)).toBeUndefined();
    expect([...q]).toEqual([100, 1, 2, 4]);
    expect(q.length).toBe(4);
  });

  test('keeps its order across the compaction of a long queue', () => {
    const q = new Deque<number>();
    for (let i = 0; i < 5000; i++) q.push(i);
    for (let i = 0; i < 3000; i++) expect(q.shift()).toBe(i);
    expect(q.length).toBe(2000);
    expect(q.peek()).toBe(3000);
    q.push(5000);
    const rest: number[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) rest.push(x);
    expect(rest).toEqual(Array.from({ length: 2001 }, (_, i) => 3000 + i));
    expect(q.shift()).toBeUndefined();
  });
});

test('the store and the ids agree on one object id size', () => {
  expect(OBJECT_ID_SIZE).toBe(BASE_OBJECT_ID_SIZE);
  expect(ObjectId.random().bytes.length).toBe(BASE_OBJECT_ID_SIZE);
  expect(TASK_ID_SIZE).toBeLessThan(OBJECT_ID_SIZE);
});

test('a name within a namespace has one key, distinct from the same name elsewhere', () => {
  expect(namespacedKey('ns', 'name')).toBe('ns\u0000name');
  expect(namespacedKey('a', 'b')).not.toBe(namespacedKey('b', 'a'));
  expect(namespacedKey('', 'x')).not.toBe(namespacedKey('x', ''));
});
