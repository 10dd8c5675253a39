// Tasks: how many tasks are in each state, and the newest ones (filtered by state and by a
// part of their name); a click on a task shows all of it: its state changes and, for a
// failed one, its error's type, message and stack, and links to the logs of the worker
// that ran it.

import { api, badge, clock, duration, h, logLink, section, short, table, tail } from '../lib.js';

const columns = [
  { title: 'task', get: (t) => tail(t.taskId) },
  { title: 'name', get: (t) => t.name },
  { title: 'state', get: (t) => badge(t.state) },
  { title: 'type', get: (t) => t.type },
  { title: 'node', get: (t) => short(t.nodeId) },
  { title: 'worker pid', cls: 'num', get: (t) => t.workerPid ?? '' },
  { title: 'submitted', get: (t) => clock(t.creationTimeMs) },
  {
    title: 'ran',
    cls: 'num',
    get: (t) => (t.startTimeMs && t.endTimeMs ? duration(t.endTimeMs - t.startTimeMs) : ''),
  },
  { title: 'attempt', cls: 'num', get: (t) => t.attemptNumber },
  { title: 'error', cls: 'wrap', get: (t) => (t.errorType ? `${t.errorType}: ${t.errorMessage}` : '') },
];

/** Everything about one task (GET /api/tasks/<id>). */
function detail(t) {
  const field = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  const parts = [
    h('h3', {}, `${t.name} `, badge(t.state)),
    h(
      'dl',
      {},
      field('task id', t.taskId),
      field('type', t.type),
      field('function or class', t.funcOrClassName),
      t.actorId ? field('actor', t.actorId) : [],
      field('job', t.jobId),
      field('node', t.nodeId),
      field('worker', `${t.workerId} (pid ${t.workerPid ?? '?'})`),
      t.workerPid && t.nodeId
        ? field('logs', [
            logLink(t.nodeId, t.workerPid, 'out', 'stdout'),
            ' ',
            logLink(t.nodeId, t.workerPid, 'err', 'stderr'),
          ])
        : [],
      field('submitted by', `pid ${t.ownerPid ?? '?'} on node ${t.ownerNodeId.slice(0, 8)}`),
      field('resources', JSON.stringify(t.requiredResources)),
      field('attempt', String(t.attemptNumber)),
    ),
  ];
  if (t.errorType) {
    parts.push(
      h(
        'div',
        { class: 'error' },
        h('div', { class: 'error-type' }, t.errorType),
        h('div', { class: 'error-message' }, t.errorMessage),
        h('pre', { class: 'error-stack' }, t.errorStack),
      ),
    );
  }
  parts.push(
    table(
      'task-events',
      [
        { title: 'state', get: (e) => badge(e.state) },
        {
          title: 'time',
          get: (e) => `${clock(e.timeMs)}.${String(Math.floor(e.timeMs % 1000)).padStart(3, '0')}`,
        },
        { title: 'attempt', cls: 'num', get: (e) => e.attempt },
      ],
      t.events,
    ),
  );
  return parts;
}

/** Mounts the tasks view. */
export function mount(root, ctx) {
  // Its options come with the first answer: the states, in the order a task goes through them.
  const state = h('select', { id: 'task-state' }, h('option', { value: '' }, 'any state'));
  const name = h('input', {
    id: 'task-name',
    type: 'search',
    placeholder: 'name contains',
    autocomplete: 'off',
  });
  const chips = h('div', { class: 'chips', id: 'task-counts' });
  const list = h('div');
  const info = h('p', { class: 'muted' });
  const panel = h('aside', { id: 'task-detail', class: 'detail', hidden: true });
  let selected = '';
  root.append(
    section(
      'Tasks',
      chips,
      h('div', { class: 'filters' }, h('label', {}, 'State ', state), h('label', {}, 'Name ', name), info),
    ),
    h('div', { class: 'split' }, list, panel),
  );
  const open = async (taskId) => {
    selected = taskId;
    panel.hidden = false;
    panel.replaceChildren(h('p', { class: 'muted' }, 'Loading...'));
    try {
      const t = await api(`tasks/${taskId}`);
      if (selected === taskId)
        panel.replaceChildren(h('button', { class: 'quiet close', onclick: close }, 'Close'), ...detail(t));
    } catch (err) {
      panel.replaceChildren(h('p', { class: 'problem' }, err.message));
    }
  };
  const close = () => {
    selected = '';
    panel.hidden = true;
  };
  const refresh = async () => {
    const q = new URLSearchParams({ state: state.value, name: name.value.trim(), limit: '200' });
    const a = await api(`tasks?${q}`);
    if (state.options.length === 1) state.append(...a.states.map((s) => h('option', { value: s }, s)));
    chips.replaceChildren(
      ...a.states
        .filter((s) => a.byState[s])
        .map((s) =>
          h(
            'button',
            {
              class: 'chip',
              onclick: () => {
                state.value = s;
                refresh();
              },
            },
            badge(s),
            ` ${a.byState[s]}`,
          ),
        ),
    );
    info.textContent = `${a.matched} of ${a.total} tasks match; the newest ${a.rows.length} shown.${
      a.dropped.tasks ? ` ${a.dropped.tasks} older tasks were dropped (taskEventsLimit).` : ''
    }`;
    list.replaceChildren(
      table('tasks-table', columns, a.rows, {
        empty: 'No tasks match.',
        onRow: (t, tr) => {
          tr.classList.add('clickable');
          if (t.taskId === selected) tr.classList.add('selected');
          tr.dataset.taskId = t.taskId;
          tr.addEventListener('click', () => {
            for (const r of tr.parentElement.children) r.classList.remove('selected');
            tr.classList.add('selected');
            open(t.taskId);
          });
        },
      }),
    );
  };
  let typing;
  state.addEventListener('change', () => refresh());
  name.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(refresh, 250);
  });
  ctx.poll(refresh, 2000);
}
