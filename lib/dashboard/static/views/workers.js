// Workers: every worker process of every node and the drivers embedded in nodes, with what
// each does now (idle, leased for tasks, hosting an actor or shared actors); a worker's pid
// links to its logs.

import { badge, logLink, short, tableView, tail } from '../lib.js';

const columns = [
  { title: 'worker', get: (w) => tail(w.workerId) },
  { title: 'type', get: (w) => w.workerType },
  { title: 'node', get: (w) => short(w.nodeId) },
  // A worker's pid links to its stdout (a driver's output is its own, not kept by the node).
  { title: 'pid', cls: 'num', get: (w) => (w.workerType === 'WORKER' ? logLink(w.nodeId, w.pid) : w.pid) },
  { title: 'state', get: (w) => badge(w.state) },
  { title: 'alive', get: (w) => (w.isAlive ? 'yes' : 'no') },
  { title: 'actor', get: (w) => short(w.actorId, 12) },
  { title: 'shared actors', cls: 'num', get: (w) => (w.sharedActors ? w.sharedActors : '') },
];

/** Mounts the workers view. */
export const mount = tableView('workers', 'Workers', columns);
