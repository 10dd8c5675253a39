// sunray.timeline(): the tasks the cluster recorded, as a Chrome trace (protocol/timeline.ts)
// that Perfetto and Chrome DevTools' Performance panel open: Ray's `ray.timeline(filename)`.
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../base/errors.js';
import { chromeTrace, type TraceEvent } from '../protocol/timeline.js';
import { fetchRows } from './state.js';

export type { TraceEvent } from '../protocol/timeline.js';

/**
 * The recorded tasks and actor calls as Chrome trace events: one row per worker process, one
 * slice per run, arrows from submitter to executor. With a file name, also writes them there
 * as JSON (open it at ui.perfetto.dev, or in Chrome DevTools' Performance panel).
 */
export async function timeline(file?: string): Promise<TraceEvent[]> {
  if (file !== undefined && (typeof file !== 'string' || file === '')) {
    throw new InvalidArgumentError(`timeline(file): a file name, got ${JSON.stringify(file)}`);
  }
  const events = chromeTrace((await fetchRows('tasks')).rows);
  if (file !== undefined) await writeFile(file, JSON.stringify(events));
  return events;
}
