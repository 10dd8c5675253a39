// Reading what a Ray session prints: Ray's figure lines, as Ray's timeit writes them
// (ray_microbenchmark_helpers.py: `print(name, "per second", round(mean, 2), "+-",
// round(sd, 2))`), and the session's markers (bench/ray/python/sunray_session.py). A test
// the bench asked for and found no figure for is an error, never a silently empty cell.

/** Prefix of the session's own lines; anything else on stdout is Ray's. */
export const MARK = '@@sunray-ray';

/** One figure as Ray printed it: operations per second, mean of its runs and their sd. */
export interface RayFigure {
  name: string;
  perSecond: number;
  sd: number;
}

/** Ray's output lacks a figure the bench expected, or has one that is not a number. */
export class RayOutputError extends Error {
  static readonly code = 'SUNRAY_BENCH_RAY_OUTPUT';
  readonly code = RayOutputError.code;
  override name = 'RayOutputError';
}

/** The session reported that a test failed on Ray's side (its message, one line). */
export class RayTestError extends Error {
  static readonly code = 'SUNRAY_BENCH_RAY_TEST';
  readonly code = RayTestError.code;
  override name = 'RayTestError';
}

const FIGURE = /^(\S.*?) per second (\S+) \+- (\S+)$/;

function toNumber(text: string, what: string, line: string): number {
  // Python prints nan / inf for a broken run: no figure, said so.
  const x = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(x)) throw new RayOutputError(`Ray printed a ${what} that is not a number: ${line}`);
  return x;
}

/** Every figure line in text, in order. Lines that are not figures (logs, markers) are ignored. */
export function parseFigures(text: string): RayFigure[] {
  const out: RayFigure[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line.startsWith(MARK)) continue;
    const m = FIGURE.exec(line);
    if (!m) continue;
    out.push({ name: m[1]!, perSecond: toNumber(m[2]!, 'mean', line), sd: toNumber(m[3]!, 'sd', line) });
  }
  return out;
}

/**
 * The figure of each expected test. Throws RayOutputError naming every expected test with no
 * figure, or with two different ones (the output of two runs mixed up).
 */
export function requireFigures(text: string, expected: readonly string[]): Map<string, RayFigure> {
  const byName = new Map<string, RayFigure>();
  const twice = new Set<string>();
  for (const f of parseFigures(text)) {
    const seen = byName.get(f.name);
    if (seen && (seen.perSecond !== f.perSecond || seen.sd !== f.sd)) twice.add(f.name);
    byName.set(f.name, f);
  }
  const missing = expected.filter((n) => !byName.has(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`no figure for ${missing.map((n) => JSON.stringify(n)).join(', ')}`);
  const doubled = expected.filter((n) => twice.has(n));
  if (doubled.length) problems.push(`two figures for ${doubled.map((n) => JSON.stringify(n)).join(', ')}`);
  if (problems.length) throw new RayOutputError(`Ray's output: ${problems.join('; ')}`);
  return new Map(expected.map((n) => [n, byName.get(n)!]));
}

/** A session's marker line, or undefined for any other line. */
export type Marker =
  | { kind: 'done' | 'error'; name: string; message?: string }
  | { kind: 'ready'; name: string; setup: Record<string, unknown> }
  | { kind: 'stopped' };

export function parseMarker(line: string): Marker | undefined {
  if (!line.startsWith(`${MARK} `)) return undefined;
  const rest = line.slice(MARK.length + 1).trimEnd();
  if (rest === 'stopped') return { kind: 'stopped' };
  if (rest.startsWith('done ')) return { kind: 'done', name: rest.slice(5) };
  if (rest.startsWith('ready ')) {
    // `ready {"name": <test>, ...setup}`: a test set up, waiting for its load (session.drive).
    try {
      const o: unknown = JSON.parse(rest.slice(6));
      if (
        o &&
        typeof o === 'object' &&
        !Array.isArray(o) &&
        typeof (o as { name?: unknown }).name === 'string'
      )
        return { kind: 'ready', name: (o as { name: string }).name, setup: o as Record<string, unknown> };
    } catch {
      // not ours: ignored as any other line
    }
    return undefined;
  }
  if (rest.startsWith('error ')) {
    // `error <name>: <message>`; names contain no ': ' (Ray's test names don't).
    const body = rest.slice(6);
    const at = body.indexOf(': ');
    return at < 0
      ? { kind: 'error', name: body, message: 'failed' }
      : { kind: 'error', name: body.slice(0, at), message: body.slice(at + 2) };
  }
  return undefined;
}

/**
 * The outcome of one test from the lines the session printed for it (from the `run`
 * command to its `done` or `error` marker): its figure, or RayTestError / RayOutputError.
 */
export function figureOf(lines: readonly string[], name: string): RayFigure {
  for (const line of lines) {
    const m = parseMarker(line);
    if (m?.kind === 'error' && m.name === name) throw new RayTestError(`Ray: ${name}: ${m.message}`);
  }
  return requireFigures(lines.join('\n'), [name]).get(name)!;
}
