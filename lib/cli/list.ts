// `sunray list actors|workers|nodes|tasks|objects|jobs` and `sunray summary ...`: the state API
// from the command line, over the cluster the head runs (api/state.ts is the same from a
// program). Rows print as a table, or (--json) as one JSON array for scripts.
import { queryState } from '../cluster/status.js';
import {
  type ActorStateRow,
  type ObjectStateRow,
  STATE_KINDS,
  type StateFilter,
  type StateKind,
  selectRows,
  summarizeActorRows,
  summarizeObjectRows,
  summarizeTaskRows,
} from '../protocol/state-rows.js';
import type { TaskStateRow } from '../protocol/task-events.js';
import { parseFlags, stringFlag, stringFlags, UsageError, usage, type VerbSpec } from './args.js';
import { HEAD_FLAGS, headTarget } from './head-target.js';

/** The flags of `sunray list`. */
export const SPEC: VerbSpec = {
  name: 'list actors|workers|nodes|tasks|objects|jobs|placement-groups',
  summary:
    "Lists the cluster's actors, worker processes, nodes (dead ones too), tasks, object references, jobs (driver programs) or placement groups, as Ray's `ray list`.",
  flags: {
    ...HEAD_FLAGS,
    filter: {
      type: 'string',
      value: 'KEY=VALUE',
      help: 'only rows whose column KEY is VALUE (KEY!=VALUE: is not); may be given more than once',
      multiple: true,
    },
    limit: { type: 'string', value: 'N', help: 'at most N rows (default 100)' },
    detail: { type: 'boolean', help: 'every column, not only the default ones' },
    json: { type: 'boolean', help: 'print one JSON array instead of a table' },
  },
};

/** The flags of `sunray summary`. */
export const SUMMARY_SPEC: VerbSpec = {
  name: 'summary actors|tasks|objects',
  summary: 'Actors by class and tasks by name in each state, or objects by call site, over the cluster.',
  flags: { ...HEAD_FLAGS, json: { type: 'boolean', help: 'print one JSON object instead of a table' } },
};

export async function run(argv: string[]): Promise<number> {
  const [given, ...rest] = argv;
  // Ray's CLI spells it placement-groups; the state API's kind is placementGroups.
  const kind = given === 'placement-groups' ? 'placementGroups' : given;
  if (kind === '--help' || kind === '-h') {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  if (!STATE_KINDS.includes(kind as StateKind)) {
    throw new UsageError(`what to list: one of ${STATE_KINDS.join(', ')} (got ${kind ?? 'nothing'})`);
  }
  const f = parseFlags(SPEC, rest);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const limitFlag = stringFlag(f, 'limit');
  const sel = {
    filters: stringFlags(f, 'filter').map(parseFilter),
    ...(limitFlag !== undefined ? { limit: Number(limitFlag) } : {}),
    detail: f.detail === true,
  };
  const { address, auth } = headTarget(f);
  const k = kind as StateKind;
  const { rows, unreachable, dropped } = await queryState(address, auth, k, sel);
  const shown = selectRows(k, rows as never[], sel as never) as Record<string, unknown>[];
  if (dropped && dropped.tasks + dropped.events > 0) {
    process.stderr.write(
      `the head dropped ${dropped.tasks} task(s) past its taskEventsLimit (${dropped.events} event(s) lost)\n`,
    );
  }
  if (f.json) process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  else process.stdout.write(table(shown));
  if (unreachable.length > 0) process.stderr.write(`nodes that did not answer: ${unreachable.join(', ')}\n`);
  return 0;
}

/** `sunray summary actors`. */
export async function summary(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind === '--help' || kind === '-h') {
    process.stdout.write(usage(SUMMARY_SPEC));
    return 0;
  }
  if (kind !== 'actors' && kind !== 'tasks' && kind !== 'objects') {
    throw new UsageError(`what to summarize: actors, tasks or objects (got ${kind ?? 'nothing'})`);
  }
  const f = parseFlags(SUMMARY_SPEC, rest);
  if (f.help) {
    process.stdout.write(usage(SUMMARY_SPEC));
    return 0;
  }
  const { address, auth } = headTarget(f);
  if (kind === 'objects') {
    const { rows, unreachable } = await queryState(address, auth, 'objects');
    const s = summarizeObjectRows(rows as ObjectStateRow[]);
    if (f.json) process.stdout.write(`${JSON.stringify({ ...s, unreachableNodes: unreachable }, null, 2)}\n`);
    else {
      const lines = Object.entries(s.byCallSite).map(([callSite, e]) => ({
        callSite,
        objects: e.objects,
        bytes: e.sizeBytes,
        ...e.references,
      }));
      process.stdout.write(`${s.totalObjects} object(s), ${s.totalSizeBytes} bytes\n${table(lines)}`);
    }
    return 0;
  }
  if (kind === 'tasks') {
    const { rows } = await queryState(address, auth, 'tasks', { limit: Number.MAX_SAFE_INTEGER });
    const s = summarizeTaskRows(rows as TaskStateRow[]);
    if (f.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    else {
      const lines = Object.entries(s.byName).map(([name, e]) => ({ name, type: e.type, ...e.states }));
      process.stdout.write(`${s.total} task(s)\n${table(lines)}`);
    }
    return 0;
  }
  const { rows, unreachable } = await queryState(address, auth, 'actors');
  const s = summarizeActorRows(rows as ActorStateRow[]);
  if (f.json) process.stdout.write(`${JSON.stringify({ ...s, unreachableNodes: unreachable }, null, 2)}\n`);
  else {
    const lines = Object.entries(s.byClass).map(([cls, counts]) => ({ class: cls, ...counts }));
    process.stdout.write(`${s.total} actor(s)\n${table(lines)}`);
  }
  if (unreachable.length > 0) process.stderr.write(`nodes that did not answer: ${unreachable.join(', ')}\n`);
  return 0;
}

/** KEY=VALUE or KEY!=VALUE. */
function parseFilter(text: string): StateFilter<Record<string, unknown>> {
  const m = /^([^=!]+)(!=|=)(.*)$/.exec(text);
  if (!m) throw new UsageError(`--filter takes KEY=VALUE or KEY!=VALUE, got '${text}'`);
  return [m[1] as string, m[2] as '=' | '!=', m[3] as string];
}

/** Rows as aligned columns (objects as JSON), with a header. */
export function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)\n';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(cols), ...cells.map(line)].join('\n')}\n`;
}
