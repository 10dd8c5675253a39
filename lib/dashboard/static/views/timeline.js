// Timeline: the latest task runs as the Chrome trace shows them (GET /api/timeline), drawn
// as lanes, one per worker process grouped by node, a bar per run (hover: its name, time
// and task id); and the whole trace as a file for Perfetto or Chrome DevTools.

import { api, duration, h, svg } from '../lib.js';

const LANE = 22;
const LABEL = 240;
const AXIS = 24;

/** A colour per task name, the same on every draw. */
function colour(name) {
  let x = 0;
  for (const c of name) x = (x * 31 + c.charCodeAt(0)) >>> 0;
  return `hsl(${x % 360} 65% 55%)`;
}

/** The lanes and bars of a trace, `width` pixels wide. */
function draw(events, width) {
  const names = new Map();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'process_name') names.set(`${e.pid}`, e.args.name);
    if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
  }
  const slices = events.filter((e) => e.ph === 'X');
  if (slices.length === 0) return h('p', { class: 'muted', id: 'timeline-empty' }, 'No task has run yet.');
  const lanes = [...new Set(slices.map((e) => `${e.pid}:${e.tid}`))].sort((a, b) => {
    const [pa, ta] = a.split(':').map(Number);
    const [pb, tb] = b.split(':').map(Number);
    return pa - pb || ta - tb;
  });
  const begin = Math.min(...slices.map((e) => e.ts));
  const end = Math.max(...slices.map((e) => e.ts + e.dur));
  const span = Math.max(1, end - begin);
  const plot = width - LABEL - 10;
  const x = (us) => LABEL + ((us - begin) / span) * plot;
  const height = AXIS + lanes.length * LANE + 4;
  const root = svg('svg', { id: 'timeline-svg', width, height, viewBox: `0 0 ${width} ${height}` });
  for (let i = 0; i <= 5; i++) {
    const at = LABEL + (plot * i) / 5;
    root.append(
      svg('line', { x1: at, x2: at, y1: AXIS - 6, y2: height, class: 'grid' }),
      svg(
        'text',
        { x: at, y: 12, class: 'axis', 'text-anchor': i === 0 ? 'start' : i === 5 ? 'end' : 'middle' },
        duration((span * i) / 5 / 1000),
      ),
    );
  }
  lanes.forEach((lane, i) => {
    const y = AXIS + i * LANE;
    const [pid] = lane.split(':');
    const label = `${names.get(pid) ?? `node ${pid}`} / ${names.get(lane) ?? lane}`;
    root.append(
      svg('rect', { x: 0, y, width, height: LANE, class: i % 2 ? 'lane odd' : 'lane' }),
      svg(
        'text',
        { x: 4, y: y + 15, class: 'lane-label' },
        label.length > 36 ? `${label.slice(0, 35)}…` : label,
      ),
    );
  });
  const row = new Map(lanes.map((l, i) => [l, i]));
  for (const e of slices) {
    const y = AXIS + (row.get(`${e.pid}:${e.tid}`) ?? 0) * LANE + 3;
    const failed = e.args?.state === 'FAILED';
    root.append(
      svg(
        'rect',
        {
          x: x(e.ts),
          y,
          width: Math.max(1, (e.dur / span) * plot),
          height: LANE - 6,
          fill: colour(e.name),
          class: failed ? 'slice failed' : 'slice',
          'data-name': e.name,
        },
        svg(
          'title',
          {},
          `${e.name}: ${duration(e.dur / 1000)}${failed ? ` (failed: ${e.args.error})` : ''}\ntask ${e.args?.taskId}`,
        ),
      ),
    );
  }
  return root;
}

/** Mounts the timeline view. */
export function mount(root, ctx) {
  const body = h('div', { class: 'timeline' });
  const info = h('span', { class: 'muted' });
  const live = h('input', { type: 'checkbox', id: 'timeline-live', checked: true });
  let events = [];
  const render = () =>
    body.replaceChildren(draw(events, Math.max(600, body.clientWidth || root.clientWidth || 1000)));
  const refresh = async () => {
    events = await api('timeline?limit=2000');
    const runs = events.filter((e) => e.ph === 'X').length;
    info.textContent = `the latest ${runs} task runs`;
    render();
  };
  root.append(
    h(
      'div',
      { class: 'filters' },
      h('h2', {}, 'Timeline'),
      info,
      h('label', {}, live, ' live'),
      h('button', { onclick: refresh }, 'Refresh'),
      h(
        'a',
        { href: '/api/timeline.json', download: 'timeline.json', id: 'timeline-download' },
        'Download the trace (Perfetto, Chrome DevTools)',
      ),
    ),
    body,
  );
  ctx.poll(async () => {
    if (live.checked || events.length === 0) await refresh();
  }, 3000);
}
