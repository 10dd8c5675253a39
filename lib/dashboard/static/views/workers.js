// Workers: every worker process of every node and the drivers embedded in nodes, with what
// each does now (idle, leased for tasks, hosting an actor or shared actors).

import { api, badge, h, short, table, tail } from '../lib.js';

const columns = [
  { title: 'worker', get: (w) => tail(w.workerId) },
  { title: 'type', get: (w) => w.workerType },
  { title: 'node', get: (w) => short(w.nodeId) },
  { title: 'pid', cls: 'num', get: (w) => w.pid },
  { title: 'state', get: (w) => badge(w.state) },
  { title: 'alive', get: (w) => (w.isAlive ? 'yes' : 'no') },
  { title: 'actor', get: (w) => short(w.actorId, 12) },
  { title: 'shared actors', cls: 'num', get: (w) => (w.sharedActors ? w.sharedActors : '') },
];

/** Mounts the workers view. */
export function mount(root, ctx) {
  const list = h('div');
  root.append(h('h2', {}, 'Workers'), list);
  ctx.poll(async () => {
    const { rows } = await api('workers');
    list.replaceChildren(table('workers-table', columns, rows, { empty: 'No workers.' }));
  }, 2000);
}
