// Nodes: every node the head knows (dead ones too), with its resources used and in all,
// its store, worker processes, tasks now and in all, the machine's load and memory, labels.

import { bar, bytes, counts, h, resourceBars, short, table } from '../lib.js';
import * as sampler from '../sampler.js';

const columns = [
  { title: 'node', get: (n) => short(n.nodeId, 12) },
  { title: 'address', get: (n) => n.address || 'local' },
  { title: 'role', get: (n) => (n.isHead ? 'head' : 'node') + (n.isDriver ? ' (driver)' : '') },
  { title: 'state', get: (n) => h('span', { class: `badge s-${n.state.toLowerCase()}` }, n.state) },
  { title: 'resources used', get: (n) => resourceBars(n.resourcesTotal, n.usage?.resourcesAvailable) },
  {
    title: 'object store',
    get: (n) =>
      n.usage?.store
        ? [
            bar(n.usage.store.used, n.usage.store.capacity, bytes),
            h('div', { class: 'muted' }, `${n.usage.store.objects} objects`),
          ]
        : '',
  },
  { title: 'workers', get: (n) => (n.usage ? counts(n.usage.workers) : '') },
  { title: 'tasks now', get: (n) => (n.usage ? counts(n.usage.tasksNow) : '') },
  {
    title: 'runs ended / failed',
    cls: 'num',
    get: (n) => (n.usage ? `${n.usage.tasksEnded} / ${n.usage.tasksFailed}` : ''),
  },
  {
    title: 'load (1 min)',
    cls: 'num',
    get: (n) => (n.usage ? `${n.usage.load1.toFixed(2)} / ${n.usage.cpus} CPUs` : ''),
  },
  {
    title: 'memory free',
    get: (n) => (n.usage ? `${bytes(n.usage.memAvailable)} of ${bytes(n.usage.memTotal)}` : ''),
  },
  {
    title: 'labels',
    get: (n) =>
      Object.entries(n.labels ?? {})
        .filter(([k]) => k !== 'sunray.io/node-id')
        .map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`)),
  },
];

/** Mounts the nodes view. */
export function mount(root) {
  const body = h('div');
  root.append(h('h2', {}, 'Nodes'), body);
  return sampler.subscribe((s) => {
    if (s) body.replaceChildren(table('nodes-table', columns, s.nodes));
  });
}
