// Actors: how many of each class are in each state, and every actor of the cluster (dead
// ones with why they died), where it lives and its restarts; filtered by state. An
// actor's pid links to its process's stdout in the Logs view.

import { api, badge, counts, h, logLink, section, short, table } from '../lib.js';

const STATES = ['', 'ALIVE', 'PENDING_CREATION', 'RESTARTING', 'DEAD'];

const columns = [
  { title: 'actor', get: (a) => short(a.actorId, 12) },
  { title: 'class', get: (a) => a.className },
  { title: 'state', get: (a) => badge(a.state) },
  { title: 'name', get: (a) => (a.name ? `${a.namespace}/${a.name}` : '') },
  { title: 'node', get: (a) => short(a.nodeId) },
  { title: 'pid', cls: 'num', get: (a) => logLink(a.nodeId, a.pid) },
  { title: 'isolation', get: (a) => a.isolation },
  {
    title: 'restarts',
    cls: 'num',
    get: (a) =>
      a.maxRestarts === 0 ? '0' : `${a.numRestarts} / ${a.maxRestarts === -1 ? '∞' : a.maxRestarts}`,
  },
  { title: 'job', get: (a) => a.jobId },
  { title: 'death cause', cls: 'wrap', get: (a) => a.deathCause },
];

/** Mounts the actors view. */
export function mount(root, ctx) {
  const state = h(
    'select',
    { id: 'actor-state' },
    ...STATES.map((s) => h('option', { value: s }, s || 'any state')),
  );
  const summary = h('div');
  const list = h('div');
  root.append(
    section('Actors by class', summary),
    section('Actors', h('div', { class: 'filters' }, h('label', {}, 'State ', state)), list),
  );
  let last;
  const render = () => {
    if (!last) return;
    const rows = last.rows.filter((a) => !state.value || a.state === state.value);
    const classes = Object.entries(last.byClass).sort(([a], [b]) => a.localeCompare(b));
    summary.replaceChildren(
      table(
        'actor-classes',
        [
          { title: 'class', get: ([c]) => c },
          { title: 'states', get: ([, n]) => counts(n) },
        ],
        classes,
      ),
    );
    list.replaceChildren(table('actors-table', columns, rows, { empty: 'No actors.' }));
  };
  state.addEventListener('change', render);
  ctx.poll(async () => {
    last = await api('actors');
    render();
  }, 2000);
}
