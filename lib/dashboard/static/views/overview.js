// Overview: the cluster at a glance (nodes, actors, tasks now and in all, the store), the
// live charts of tasks per second and store bytes in use, and each node's resources.

import { lineChart } from '../chart.js';
import { bar, bytes, h, resourceBars, section, short, table } from '../lib.js';
import * as sampler from '../sampler.js';

function sum(nodes, get) {
  return nodes.reduce((n, node) => n + (node.usage ? get(node.usage) : 0), 0);
}

/** The overview's cards, from one sample. */
function cards(s) {
  const alive = s.nodes.filter((n) => n.state === 'ALIVE');
  const card = (id, label, value) =>
    h('div', { class: 'card', id }, h('div', { class: 'value' }, value), label);
  const now = (state) => sum(alive, (u) => u.tasksNow[state] ?? 0);
  return h(
    'div',
    { class: 'cards' },
    card('card-nodes', 'nodes alive', `${alive.length} / ${s.nodes.length}`),
    card('card-actors', 'actors alive', String(s.actors.ALIVE ?? 0)),
    card('card-running', 'tasks running', String(now('RUNNING') + now('SUBMITTED_TO_WORKER'))),
    card('card-queued', 'tasks queued', String(now('PENDING_NODE_ASSIGNMENT'))),
    card('card-ended', 'task runs ended', String(sum(alive, (u) => u.tasksEnded))),
    card('card-failed', 'of which failed', String(sum(alive, (u) => u.tasksFailed))),
    card(
      'card-store',
      `of ${bytes(sum(alive, (u) => u.store?.capacity ?? 0))} store in use`,
      bytes(sum(alive, (u) => u.store?.used ?? 0)),
    ),
  );
}

/** The nodes, briefly (the Nodes view has every column). */
export function nodesTable(id, nodes) {
  return table(
    id,
    [
      { title: 'node', get: (n) => short(n.nodeId) },
      { title: 'address', get: (n) => n.address || 'local' },
      { title: 'role', get: (n) => [n.isHead ? 'head' : 'node', n.isDriver ? ' (driver)' : ''].join('') },
      { title: 'state', get: (n) => h('span', { class: `badge s-${n.state.toLowerCase()}` }, n.state) },
      { title: 'resources used', get: (n) => resourceBars(n.resourcesTotal, n.usage?.resourcesAvailable) },
      {
        title: 'store',
        get: (n) => (n.usage?.store ? bar(n.usage.store.used, n.usage.store.capacity, bytes) : ''),
      },
    ],
    nodes,
  );
}

/** Mounts the overview. */
export function mount(root) {
  const top = h('div');
  const rate = lineChart({
    id: 'chart-tasks',
    title: 'Tasks per second',
    color: '#d97706',
    format: (v) => (v >= 100 ? String(Math.round(v)) : v.toFixed(1)),
  });
  const store = lineChart({
    id: 'chart-store',
    title: 'Object store in use',
    color: '#2563eb',
    format: bytes,
    minMax: 1 << 20,
  });
  const nodes = h('div');
  root.append(top, h('div', { class: 'charts' }, rate.el, store.el), section('Nodes', nodes));
  const unsubscribe = sampler.subscribe((s) => {
    if (!s) return;
    top.replaceChildren(cards(s));
    rate.draw(sampler.taskRates());
    store.draw(sampler.storeUsage().map(([t, used]) => [t, used]));
    nodes.replaceChildren(nodesTable('overview-nodes', s.nodes));
  });
  return unsubscribe;
}
