// What every view of the dashboard uses: building DOM (text only: whatever a task or actor
// is called goes in as text, never as HTML), asking the API, tables, formats, and links
// to a worker's logs.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An element: attrs are attributes, `class`, `text`, or `on<event>` listeners; children nodes or text. */
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, as h(). */
export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** GET /api/<path> as JSON; without a session the page goes to the login. */
export async function api(path) {
  const res = await fetch(`/api/${path}`, { credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) {
    location.assign('/login');
    throw new Error('logged out');
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

/**
 * A table: columns are { title, get(row) -> text or node, cls? }; onRow(row, tr) may add
 * listeners. `id` names the table (tests find rows by it).
 */
export function table(id, columns, rows, { onRow, empty = 'None.' } = {}) {
  const head = h('tr', {}, ...columns.map((c) => h('th', { class: c.cls }, c.title)));
  const body = h('tbody');
  for (const row of rows) {
    const tr = h('tr', {}, ...columns.map((c) => h('td', { class: c.cls }, c.get(row))));
    onRow?.(row, tr);
    body.append(tr);
  }
  if (rows.length === 0)
    body.append(h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty)));
  // Scrolls sideways on its own when wider than the page.
  return h('div', { class: 'scroll' }, h('table', { id }, h('thead', {}, head), body));
}

/**
 * A view that is one table of an API's rows (GET /api/<kind>), polled every 2 s: its
 * mount(root, ctx). The table's id is `<kind>-table`.
 */
export function tableView(kind, title, columns) {
  return (root, ctx) => {
    const list = h('div');
    root.append(h('h2', {}, title), list);
    ctx.poll(async () => {
      const { rows } = await api(kind);
      list.replaceChildren(table(`${kind}-table`, columns, rows, { empty: `No ${kind}.` }));
    }, 2000);
  };
}

/** A heading with a count. */
export function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), ...children);
}

/** An id shortened to its first n characters, the whole in its tooltip. */
export function short(id, n = 8) {
  if (!id) return '';
  return h('span', { class: 'id', title: id }, id.slice(0, n));
}

/**
 * An id shortened to its last n characters (task, object and worker ids begin with their
 * owner's or node's id, so their ends tell them apart), the whole in its tooltip.
 */
export function tail(id, n = 10) {
  if (!id) return '';
  return h('span', { class: 'id', title: id }, `…${id.slice(-n)}`);
}

/** The Logs view's address of a worker's file: #/logs?node=&pid=&stream=. */
export function logsHref(nodeId, pid, stream = 'out') {
  return `#/logs?${new URLSearchParams({ node: nodeId, pid: String(pid), stream })}`;
}

/**
 * A link to a worker's stdout (or stderr) in the Logs view, showing `label` (default: the
 * pid); just the pid when there is no process to read.
 */
export function logLink(nodeId, pid, stream = 'out', label = undefined) {
  if (!nodeId || !pid) return pid ? String(pid) : '';
  const title = `its ${stream === 'err' ? 'stderr' : 'stdout'} in Logs`;
  return h('a', { href: logsHref(nodeId, pid, stream), class: 'log-link', title }, label ?? String(pid));
}

/** A state as a coloured badge. */
export function badge(state) {
  return h('span', { class: `badge s-${String(state).toLowerCase()}` }, state);
}

/** Bytes in B, KiB, MiB, GiB. */
export function bytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** A time of day (ms since the epoch). */
export function clock(ms) {
  return ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '';
}

/** A duration in ms, us or s. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1) return `${Math.round(ms * 1000)} us`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** used / total as a bar and its numbers. */
export function bar(used, total, fmt = (x) => String(Math.round(x * 100) / 100)) {
  const frac = total > 0 ? Math.min(1, Math.max(0, used / total)) : 0;
  const fillEl = h('span', { class: 'fill' });
  fillEl.style.width = `${(frac * 100).toFixed(1)}%`;
  return h(
    'span',
    { class: 'bar-wrap' },
    h('span', { class: 'bar' }, fillEl),
    `${fmt(used)} / ${fmt(total)}`,
  );
}

/** Counts by key as "KEY n" chips. */
export function counts(byKey) {
  const keys = Object.keys(byKey ?? {}).sort();
  if (keys.length === 0) return h('span', { class: 'muted' }, 'none');
  return h(
    'span',
    { class: 'chips' },
    ...keys.map((k) => h('span', { class: 'chip' }, badge(k), ` ${byKey[k]}`)),
  );
}

/** Resources a node uses: total less available, per resource. */
export function resourceBars(total, available) {
  const keys = Object.keys(total ?? {}).sort();
  return h(
    'span',
    { class: 'resources' },
    ...keys.map((k) =>
      h('span', { class: 'resource' }, h('b', {}, k), bar((total[k] ?? 0) - (available?.[k] ?? 0), total[k])),
    ),
  );
}
