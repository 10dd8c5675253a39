// The terminal table, latest.json and the ratio chart (hand-written SVG).

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { num, ratio, withUnit } from './format.js';
import type { MachineInfo } from './machine.js';
import type { RowResult } from './types.js';

export const RAY_COLUMN = 'Ray 2.48 (64 vCPU, published)';

export function header(m: MachineInfo, mode: string): string {
  return [
    `sunray benchmarks (${mode})  ${m.date}`,
    `machine: ${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpuModel}; ${m.platform}; load ${m.loadavg.join(' ')}`,
    `node ${m.node}; commit ${m.commit}`,
    'figures: median (min–max) of the timed runs; ratio = sunray vs the first baseline, >1 = sunray better',
  ].join('\n');
}

function cell(r: RowResult): string {
  if (r.status !== 'ok') return `${r.status}: ${r.reason ?? ''}`;
  const m = r.measurement!;
  const range = m.runs.length > 1 ? ` (${num(m.min)}–${num(m.max)})` : '';
  const e = m.extra;
  const rss =
    e && e.driverPeakRssMiB !== undefined
      ? `; peak RSS driver ${e.driverPeakRssMiB} MiB (${e.driverRssAtStartMiB} at start), ` +
        (Number(e.workersSampled) > 0 ? `workers max ${e.workerPeakRssMaxMiB} MiB` : 'workers not found')
      : '';
  return `${withUnit(m.median, m.unit)}${range}${rss}`;
}

function baselineCell(r: RowResult): string {
  if (!r.baselines?.length) return '—';
  return r.baselines
    .map((b) => `${b.name.replace(/ \(2 threads\)$/, '')} ${withUnit(b.median, b.unit)}`)
    .join('; ');
}

function goalCell(r: RowResult): string {
  if (!r.goal) return '';
  if (r.goalMet === undefined) return r.goal;
  return `${r.goal} ${r.goalMet ? '✓' : '✗'}`;
}

/** Plain-text table; long cells are kept whole (the terminal wraps). */
export function table(rows: RowResult[], markdown = false): string {
  const head = ['benchmark', 'median (min–max)', 'baseline (same run)', 'ratio', RAY_COLUMN, 'goal'];
  const body = rows.map((r) => [
    r.name,
    cell(r),
    r.status === 'ok' ? baselineCell(r) : '',
    r.status === 'ok' ? ratio(r.ratio) : '',
    r.ray !== undefined ? num(r.ray) : '—',
    goalCell(r),
  ]);
  if (markdown) {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    return [
      `| ${head.join(' | ')} |`,
      `|${head.map(() => '---').join('|')}|`,
      ...body.map((b) => `| ${b.map(esc).join(' | ')} |`),
    ].join('\n');
  }
  const widths = head.map((h, i) => Math.min(90, Math.max(h.length, ...body.map((b) => b[i]!.length))));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}

const xmlEsc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars of each row's ratio against its baseline, on a log scale centred on 1×. */
export function ratiosSvg(rows: RowResult[], m: MachineInfo): string {
  const data = rows.filter(
    (r) => r.status === 'ok' && r.ratio !== undefined && Number.isFinite(r.ratio) && r.ratio > 0,
  );
  const labelW = 430;
  const plotW = 420;
  const rowH = 22;
  const top = 58;
  const h = top + Math.max(1, data.length) * rowH + 40;
  const w = labelW + plotW + 90;
  const lo = Math.log10(1 / 100);
  const hi = Math.log10(100);
  const x = (r: number) => labelW + ((Math.min(hi, Math.max(lo, Math.log10(r))) - lo) / (hi - lo)) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">sunray vs baselines measured in the same run (log scale, &gt;1× = sunray better)</text>`,
    `<text x="10" y="38" fill="#555">${xmlEsc(`${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpuModel}; node ${m.node}; commit ${m.commit}; ${m.date.slice(0, 10)}`)}</text>`,
  );
  for (const t of [0.01, 0.1, 1, 10, 100]) {
    const xx = x(t).toFixed(1);
    out.push(
      `<line x1="${xx}" y1="${top - 6}" x2="${xx}" y2="${h - 30}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`,
      `<text x="${xx}" y="${h - 14}" text-anchor="middle" fill="#555">${t}×</text>`,
    );
  }
  if (data.length === 0) {
    out.push(`<text x="${labelW}" y="${top + 14}" fill="#a00">no sunray row with a baseline ran</text>`);
  }
  data.forEach((r, i) => {
    const y = top + i * rowH;
    const r0 = x(1);
    const r1 = x(r.ratio!);
    const good = r.ratio! >= 1;
    const goal = r.goalMet === undefined ? '' : r.goalMet ? ' ✓' : ' ✗';
    const base = r.baselines?.[0]?.name ?? '';
    out.push(
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${xmlEsc(r.name)} <tspan fill="#888">vs ${xmlEsc(base.replace(/ \(.*\)$/, ''))}</tspan></text>`,
      `<rect x="${Math.min(r0, r1).toFixed(1)}" y="${y + 4}" width="${Math.max(1, Math.abs(r1 - r0)).toFixed(1)}" height="${rowH - 8}" fill="${good ? '#2b8a3e' : '#c92a2a'}"/>`,
      `<text x="${(Math.max(r0, r1) + 6).toFixed(1)}" y="${y + 15}">${ratio(r.ratio)}${goal}</text>`,
    );
  });
  out.push(
    `<text x="${w - 10}" y="${h - 14}" text-anchor="end" fill="#555">bar: ratio; ✓/✗: goal met or not</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
