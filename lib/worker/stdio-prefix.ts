// Worker output reaches the driver's terminal directly (inherited fds); each
// line is prefixed with the task that printed it and the worker's pid, as Ray
// does, so interleaved output from many workers stays readable.
export function prefixOutput(label: () => string): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
    let atLineStart = true;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (text.length === 0) return write(chunk, ...rest);
      const prefix = `(${label()}) `;
      let out = atLineStart ? prefix : '';
      const body = text.endsWith('\n') ? text.slice(0, -1) : text;
      out += body.split('\n').join(`\n${prefix}`);
      if (text.endsWith('\n')) out += '\n';
      atLineStart = text.endsWith('\n');
      return write(out, ...rest);
    }) as typeof stream.write;
  }
}
