// Tags every line this worker's JavaScript writes to stdout and stderr with the job and the
// task (or actor) whose call wrote it (protocol/log-lines.ts), so its node can write the
// line to the worker's log files and send it to that job's driver, which prints it as
// `(task pid=N) text`, as Ray does. A write that ends mid-line leaves the next write
// untagged: it continues the line.
import { lineTag } from '../protocol/log-lines.js';

/** Tags lines written to process.stdout and process.stderr from now on with whose they are. */
export function tagOutput(current: () => { jobId: string; name: string }): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
    let atLineStart = true;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (text.length === 0) return write(chunk, ...rest);
      const { jobId, name } = current();
      const tag = lineTag(jobId, name);
      const ends = text.endsWith('\n');
      const body = ends ? text.slice(0, -1) : text;
      let out = atLineStart ? tag : '';
      out += body.split('\n').join(`\n${tag}`);
      if (ends) out += '\n';
      atLineStart = ends;
      return write(out, ...rest);
    }) as typeof stream.write;
  }
}
