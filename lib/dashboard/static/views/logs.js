// Logs: every worker's stdout and stderr files on every node (node, pid, stream, size,
// alive), filtered by node. A click on one shows its last lines; "follow" appends what the
// worker writes from then on, polling from the offset where the last read ended (a file
// found shorter than that was rotated: it is read again from its start). The address
// #/logs?node=&pid=&stream= opens a file: the Actors, Workers and Tasks views link here.
// Log lines are whatever a program printed: they go into the page as text, never as HTML.

import { api, bytes, h, logsHref, section, short, table } from '../lib.js';

/** How often a followed file is read again. */
const FOLLOW_MS = 1000;
/** Characters the viewer keeps (the oldest lines go first when following adds more). */
const MAX_CHARS = 4 << 20;

const columns = [
  { title: 'node', get: (f) => short(f.nodeId) },
  { title: 'pid', cls: 'num', get: (f) => f.pid },
  { title: 'stream', get: (f) => f.stream },
  { title: 'size', cls: 'num', get: (f) => bytes(f.size) },
  { title: 'alive', get: (f) => (f.alive ? 'yes' : 'no') },
];

const same = (a, b) => a && b && a.nodeId === b.nodeId && a.pid === b.pid && a.stream === b.stream;

/** Mounts the logs view. */
export function mount(root, ctx) {
  const asked = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const node = h('select', { id: 'log-node' }, h('option', { value: '' }, 'every node'));
  const info = h('p', { class: 'muted' });
  const list = h('div', { class: 'log-files' });
  const title = h('h3', { id: 'log-title' }, 'No file open');
  const lines = h('input', { id: 'log-tail', type: 'number', min: '0', max: '10000', value: '1000' });
  const follow = h('input', { id: 'log-follow', type: 'checkbox' });
  const status = h('span', { id: 'log-status', class: 'muted' });
  const text = document.createTextNode('');
  const pre = h('pre', { id: 'log-text', class: 'log' }, text);
  const viewer = h(
    'div',
    { class: 'log-viewer' },
    h(
      'div',
      { class: 'filters' },
      title,
      h('label', {}, 'Last ', lines, ' lines'),
      h('label', {}, follow, ' follow'),
      status,
    ),
    pre,
  );
  viewer.hidden = true;
  root.append(
    section(
      'Logs',
      h('div', { class: 'filters' }, h('label', {}, 'Node ', node), info),
      h('div', { class: 'log-split' }, list, viewer),
    ),
  );

  /** The file shown: node, pid, stream, and where the next read starts. */
  let open;
  let files = [];
  let nodes = '';
  /** The nodes that did not answer the last listing. */
  let silent = '';
  let reading = false;

  const render = () => {
    const rows = files.filter((f) => !node.value || f.nodeId === node.value);
    const workers = new Set(rows.map((f) => `${f.nodeId}:${f.pid}`)).size;
    info.textContent = `${rows.length} of ${files.length} files: ${workers} workers.`;
    if (silent) info.textContent += ` Not answering: ${silent}.`;
    list.replaceChildren(
      table('logs-table', columns, rows, {
        empty: 'No log files.',
        onRow: (f, tr) => {
          tr.classList.add('clickable');
          if (same(f, open)) tr.classList.add('selected');
          tr.addEventListener('click', () => show(f));
        },
      }),
    );
  };

  /** Appends what was read, keeping the view at the end when it was there. */
  const append = (more) => {
    if (more === '') return;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    text.appendData(more);
    if (text.length > MAX_CHARS) {
      const cut = text.data.indexOf('\n', text.length - MAX_CHARS);
      text.deleteData(0, cut < 0 ? text.length - MAX_CHARS : cut + 1);
    }
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  };

  const query = (f, extra) =>
    `logs/file?${new URLSearchParams({ node: f.nodeId, pid: String(f.pid), stream: f.stream, ...extra })}`;

  /** Opens a file: its last lines, then (when following) what comes after. */
  const show = async (f) => {
    const file = { nodeId: f.nodeId, pid: Number(f.pid), stream: f.stream, offset: -1 };
    open = file;
    // The address names the file (to share or reload); replaceState fires no hashchange.
    history.replaceState(null, '', logsHref(file.nodeId, file.pid, file.stream));
    render();
    viewer.hidden = false;
    const stream = file.stream === 'err' ? 'stderr' : 'stdout';
    title.textContent = `node ${file.nodeId.slice(0, 8)} · pid ${file.pid} · ${stream}`;
    text.data = '';
    status.textContent = 'Loading...';
    try {
      const a = await api(query(file, { tail: lines.value || '0' }));
      if (open !== file) return;
      text.data = a.text;
      file.offset = a.offset;
      pre.scrollTop = pre.scrollHeight;
      status.textContent = a.text === '' ? 'Empty.' : '';
    } catch (err) {
      if (open === file) status.textContent = err.message;
    }
  };

  /** One read of what the followed file gained. */
  const followOnce = async () => {
    const file = open;
    if (!file || !follow.checked || file.offset < 0 || reading) return;
    reading = true;
    try {
      const a = await api(query(file, { offset: String(file.offset) }));
      if (open !== file) return;
      if (a.offset < file.offset) {
        // Shorter than where we were: the file was rotated; its new part starts at 0.
        file.offset = 0;
        status.textContent = 'The file was rotated: following the new one.';
      } else {
        append(a.text);
        file.offset = a.offset;
        if (a.text !== '') status.textContent = '';
      }
    } catch (err) {
      if (open === file) status.textContent = err.message;
    } finally {
      reading = false;
    }
  };

  node.addEventListener('change', render);
  lines.addEventListener('change', () => open && show(open));
  follow.addEventListener('change', () => {
    status.textContent = follow.checked ? 'Following.' : '';
    followOnce();
  });

  if (asked.get('node') && asked.get('pid')) {
    const nodeId = asked.get('node');
    node.append(h('option', { value: nodeId }, nodeId.slice(0, 8)));
    node.value = nodeId;
    show({ nodeId, pid: asked.get('pid'), stream: asked.get('stream') === 'err' ? 'err' : 'out' });
  }

  ctx.poll(async () => {
    const a = await api('logs');
    files = a.rows;
    const ids = [...new Set([...files.map((f) => f.nodeId), node.value].filter(Boolean))].sort();
    // Rebuilt only when the nodes change (a rebuild would close the list under the pointer).
    if (ids.join() !== nodes) {
      nodes = ids.join();
      const chosen = node.value;
      node.replaceChildren(
        h('option', { value: '' }, 'every node'),
        ...ids.map((id) => h('option', { value: id }, id.slice(0, 8))),
      );
      node.value = chosen;
    }
    silent = a.unreachable.map((n) => n.slice(0, 8)).join(', ');
    render();
  }, 2000);
  ctx.poll(followOnce, FOLLOW_MS);
}
