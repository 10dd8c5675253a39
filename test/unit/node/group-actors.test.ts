// The node's list of actors by placement group: a group's removal takes exactly its own
// actors, once, and an actor of another group or of none is never among them.
import { expect, test } from 'vitest';
import { GroupActors } from '../../../lib/node/group-actors.js';

test("a removed group's actors come out once, in the order they were placed", () => {
  const g = new GroupActors<string>();
  g.add('pg1', 'a');
  g.add('pg2', 'b');
  g.add('pg1', 'c');
  expect(g.take('pg1')).toEqual(['a', 'c']);
  expect(g.take('pg1')).toEqual([]);
  expect(g.take('pg2')).toEqual(['b']);
  expect(g.take('never-made')).toEqual([]);
});
