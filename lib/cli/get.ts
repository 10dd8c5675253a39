// `sunray get task|actor ID`: one task's or actor's whole record, as Ray's `ray get`: every
// field, a task's state changes with their times, a failed task's error and stack. Printed
// as YAML (the yaml package, as `sunray serve` prints configs), or JSON with --json.
import { stringify } from 'yaml';
import { queryState } from '../cluster/status.js';
import { parseFlags, UsageError, usage, type VerbSpec } from './args.js';
import { HEAD_FLAGS, headTarget } from './head-target.js';

/** The flags of `sunray get`. */
export const SPEC: VerbSpec = {
  name: 'get task|actor ID',
  summary: "One task's or actor's whole record (a failed task's error and stack), from the cluster's head.",
  flags: { ...HEAD_FLAGS, json: { type: 'boolean', help: 'print JSON instead of YAML' } },
};

export async function run(argv: string[]): Promise<number> {
  const [kind, id, ...rest] = argv;
  if (kind === '--help' || kind === '-h') {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  if (kind !== 'task' && kind !== 'actor')
    throw new UsageError(`what to get: task or actor (got ${kind ?? 'nothing'})`);
  if (!id || !/^[0-9a-f]+$/.test(id))
    throw new UsageError(`the ${kind}'s id in hex, as \`sunray list\` shows it (got ${id ?? 'nothing'})`);
  const f = parseFlags(SPEC, rest);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const { address, auth } = headTarget(f);
  const column = kind === 'task' ? 'taskId' : 'actorId';
  const selection = { filters: [[column, '=', id] as const], limit: 1 };
  const { rows } = await queryState(address, auth, kind === 'task' ? 'tasks' : 'actors', selection);
  const row = rows.find((r) => (r as Record<string, unknown>)[column] === id);
  if (!row) {
    process.stderr.write(`no ${kind} ${id} in the cluster's records\n`);
    return 1;
  }
  process.stdout.write(f.json ? `${JSON.stringify(row, null, 2)}\n` : stringify(row));
  return 0;
}
