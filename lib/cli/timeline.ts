// `sunray timeline [--output FILE]`: the tasks the cluster recorded, as a Chrome trace
// (protocol/timeline.ts) for ui.perfetto.dev or Chrome DevTools: Ray's `ray timeline`.
import { writeFileSync } from 'node:fs';
import { queryState } from '../cluster/status.js';
import type { TaskStateRow } from '../protocol/task-events.js';
import { chromeTrace } from '../protocol/timeline.js';
import { parseFlags, stringFlag, usage, type VerbSpec } from './args.js';
import { HEAD_FLAGS, headTarget } from './head-target.js';

/** The flags of `sunray timeline`. */
export const SPEC: VerbSpec = {
  name: 'timeline',
  summary: 'The recorded tasks and actor calls as a Chrome trace (open it at ui.perfetto.dev).',
  flags: {
    ...HEAD_FLAGS,
    output: {
      type: 'string',
      value: 'FILE',
      help: 'where to write the trace (default: timeline-<time>.json here)',
    },
  },
};

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(SPEC, argv);
  if (f.help) {
    process.stdout.write(usage(SPEC));
    return 0;
  }
  const { address, auth } = headTarget(f);
  const { rows } = await queryState(address, auth, 'tasks', { limit: Number.MAX_SAFE_INTEGER });
  const events = chromeTrace(rows as TaskStateRow[]);
  const file = stringFlag(f, 'output') ?? `timeline-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(events));
  const slices = events.filter((e) => e.ph === 'X').length;
  process.stdout.write(
    `wrote ${slices} task run(s) to ${file}: open it at https://ui.perfetto.dev (or Chrome DevTools' Performance panel: Load trace)\n`,
  );
  return 0;
}
