// A small line chart on a canvas: one series of [time ms, value] points over the last
// `spanMs` (less while there is less history, 30 s at least), a grid of four lines with
// their values, the latest value in the corner.

import { h } from './lib.js';

/** A chart element: call draw(points) to redraw it. */
export function lineChart({ id, title, color, format, spanMs = 120_000, minMax = 1 }) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': title });
  const now = h('span', { class: 'chart-now', id: `${id}-now` });
  const el = h('figure', { class: 'chart' }, h('figcaption', {}, title, now), canvas);
  function draw(points) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 400;
    const ht = canvas.clientHeight || 160;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(ht * dpr);
    const g = canvas.getContext('2d');
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, ht);
    const left = 64;
    const bottom = ht - 18;
    const end = points.length > 0 ? points[points.length - 1][0] : Date.now();
    const span = Math.min(spanMs, Math.max(30_000, end - (points[0]?.[0] ?? end)));
    const begin = end - span;
    const shown = points.filter((p) => p[0] >= begin);
    const max = Math.max(minMax, ...shown.map((p) => p[1])) * 1.1;
    const x = (t) => left + ((t - begin) / span) * (w - left - 8);
    const y = (v) => bottom - (v / max) * (bottom - 8);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#6b7280';
    g.strokeStyle = '#e5e7eb';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = (max / 4) * i;
      g.beginPath();
      g.moveTo(left, y(v));
      g.lineTo(w - 8, y(v));
      g.stroke();
      g.fillText(format(v), 4, y(v) + 4);
    }
    g.fillText(`-${Math.round(span / 1000)} s`, left, ht - 4);
    g.fillText('now', w - 30, ht - 4);
    if (shown.length > 0) {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      shown.forEach(([t, v], i) => {
        if (i === 0) g.moveTo(x(t), y(v));
        else g.lineTo(x(t), y(v));
      });
      g.stroke();
      now.textContent = ` ${format(shown[shown.length - 1][1])}`;
    }
  }
  return { el, draw };
}
