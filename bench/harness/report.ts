// The terminal table, latest.json and the ratio chart (hand-written SVG).

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { num, ratio, withUnit } from './format.js';
import type { MachineInfo } from './machine.js';
import type { RowResult } from './types.js';

export const RAY_COLUMN = 'Ray 2.48 (64 vCPU, published)';
export const RAY_HERE_COLUMN = 'Ray here';
export const VS_RAY_COLUMN = 'vs Ray';

/** What the run says about the Ray column (--vs-ray): measured with which Ray, or why not. */
export type RayHereInfo = { version: string; settleSec: number } | { unavailable: string };

export function header(m: MachineInfo, mode: string, ray?: RayHereInfo): string {
  const lines = [
    `sunray benchmarks (${mode})  ${m.date}`,
    `machine: ${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpuModel}; ${m.platform}; load ${m.loadavg.join(' ')}`,
    `node ${m.node}; commit ${m.commit}`,
    'figures: median (min–max) of the timed runs; ratio = sunray vs the first baseline, >1 = sunray better',
  ];
  if (ray && 'version' in ray)
    lines.push(
      `${RAY_HERE_COLUMN}: Ray ${ray.version} on this machine, measured right after each sunray row by ray_perf's own tests` +
        ` (or our scripts, Ray's public API), Ray's timeit: mean ± sd of 4 runs of 2 s after a ${ray.settleSec} s pause` +
        ` and 1 s warm-up; ${VS_RAY_COLUMN} = sunray vs that, >1 = sunray better`,
    );
  else if (ray) lines.push(`${RAY_HERE_COLUMN}: not measured (${ray.unavailable})`);
  return lines.join('\n');
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

/** The Ray-here cell: Ray's figure (mean ± sd) in the row's unit, or why there is none. */
export function rayHereCell(r: RowResult): string {
  const h = r.rayHere;
  if (!h) return '—';
  if (h.status !== 'ok') return `${h.status === 'skipped' ? 'none' : h.status}: ${h.reason ?? ''}`;
  return `${withUnit(h.mean!, h.unit ?? '')} ±${num(h.sd!)}`;
}

/**
 * Plain-text table; long cells are kept whole (the terminal wraps). With vsRay, the Ray-here
 * and vs-Ray columns come after the baseline's ratio.
 */
export function table(rows: RowResult[], markdown = false, vsRay = false): string {
  const head = [
    'benchmark',
    'median (min–max)',
    'baseline (same run)',
    'ratio',
    ...(vsRay ? [RAY_HERE_COLUMN, VS_RAY_COLUMN] : []),
    RAY_COLUMN,
    'goal',
  ];
  const body = rows.map((r) => [
    r.name,
    cell(r),
    r.status === 'ok' ? baselineCell(r) : '',
    r.status === 'ok' ? ratio(r.ratio) : '',
    ...(vsRay ? [rayHereCell(r), ratio(r.rayRatio)] : []),
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

const finite = (r: number | undefined): r is number => r !== undefined && Number.isFinite(r) && r > 0;

/**
 * Horizontal bars of each row's ratio against its baseline, on a log scale centred on 1×;
 * with rayVersion (a --vs-ray run), a second bar per row: the ratio to Ray measured here.
 */
export function ratiosSvg(rows: RowResult[], m: MachineInfo, rayVersion?: string): string {
  const vsRay = rayVersion !== undefined;
  const data = rows.filter((r) => r.status === 'ok' && (finite(r.ratio) || (vsRay && finite(r.rayRatio))));
  const labelW = 430;
  const plotW = 420;
  const rowH = vsRay ? 32 : 22;
  const top = 58;
  const h = top + Math.max(1, data.length) * rowH + (vsRay ? 58 : 40);
  const w = labelW + plotW + (vsRay ? 200 : 90);
  const all = data.flatMap((r) => [r.ratio, vsRay ? r.rayRatio : undefined]).filter(finite);
  const lo = Math.log10(1 / 100);
  const hi = Math.log10(all.some((r) => r > 100) ? 1000 : 100);
  const x = (r: number) => labelW + ((Math.min(hi, Math.max(lo, Math.log10(r))) - lo) / (hi - lo)) * plotW;
  const ticks = [0.01, 0.1, 1, 10, 100, 1000].filter((t) => Math.log10(t) <= hi);
  const out: string[] = [];
  const title = vsRay
    ? `sunray vs baselines and vs Ray ${rayVersion}, measured in the same run (log scale, &gt;1× = sunray better)`
    : 'sunray vs baselines measured in the same run (log scale, &gt;1× = sunray better)';
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${title}</text>`,
    `<text x="10" y="38" fill="#555">${xmlEsc(`${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpuModel}; node ${m.node}; commit ${m.commit}; ${m.date.slice(0, 10)}`)}</text>`,
  );
  const axisY = h - (vsRay ? 44 : 30);
  for (const t of ticks) {
    const xx = x(t).toFixed(1);
    out.push(
      `<line x1="${xx}" y1="${top - 6}" x2="${xx}" y2="${axisY}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`,
      `<text x="${xx}" y="${axisY + 16}" text-anchor="middle" fill="#555">${t}×</text>`,
    );
  }
  if (data.length === 0) {
    out.push(`<text x="${labelW}" y="${top + 14}" fill="#a00">no sunray row with a baseline ran</text>`);
  }
  const bar = (y: number, height: number, r: number, fill: string, label: string) => {
    const r0 = x(1);
    const r1 = x(r);
    out.push(
      `<rect x="${Math.min(r0, r1).toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(r1 - r0)).toFixed(1)}" height="${height}" fill="${fill}"/>`,
      `<text x="${(Math.max(r0, r1) + 6).toFixed(1)}" y="${y + height - 1}" font-size="11">${xmlEsc(label)}</text>`,
    );
  };
  data.forEach((r, i) => {
    const y = top + i * rowH;
    const goal = r.goalMet === undefined ? '' : r.goalMet ? ' ✓' : ' ✗';
    const base = (r.baselines?.[0]?.name ?? '').replace(/ \(.*\)$/, '');
    if (vsRay) {
      out.push(`<text x="${labelW - 8}" y="${y + 19}" text-anchor="end">${xmlEsc(r.name)}</text>`);
      if (finite(r.ratio))
        bar(y + 3, 12, r.ratio, r.ratio >= 1 ? '#2b8a3e' : '#c92a2a', `${ratio(r.ratio)} ${base}${goal}`);
      if (finite(r.rayRatio))
        bar(y + 16, 12, r.rayRatio, r.rayRatio >= 1 ? '#1971c2' : '#e8590c', `${ratio(r.rayRatio)} Ray`);
    } else {
      out.push(
        `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${xmlEsc(r.name)} <tspan fill="#888">vs ${xmlEsc(base)}</tspan></text>`,
      );
      bar(y + 4, rowH - 8, r.ratio!, r.ratio! >= 1 ? '#2b8a3e' : '#c92a2a', `${ratio(r.ratio)}${goal}`);
    }
  });
  if (vsRay) {
    const ly = h - 12;
    out.push(
      `<rect x="10" y="${ly - 10}" width="12" height="10" fill="#2b8a3e"/><rect x="24" y="${ly - 10}" width="12" height="10" fill="#c92a2a"/>`,
      `<text x="42" y="${ly}" fill="#555">vs the row's first baseline (named), ✓/✗ goal met or not</text>`,
      `<rect x="420" y="${ly - 10}" width="12" height="10" fill="#1971c2"/><rect x="434" y="${ly - 10}" width="12" height="10" fill="#e8590c"/>`,
      `<text x="452" y="${ly}" fill="#555">vs Ray ${xmlEsc(rayVersion)} measured here, right after the row</text>`,
    );
  } else {
    out.push(
      `<text x="${w - 10}" y="${h - 14}" text-anchor="end" fill="#555">bar: ratio; ✓/✗: goal met or not</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
