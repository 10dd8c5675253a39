// A request's body read whole, up to a limit: the dashboard's login form and the job API's
// submissions and uploads. Past the limit the request is paused and the caller answers 413.
import type { IncomingMessage } from 'node:http';

/** The request's body, or undefined when it is longer than max bytes. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.pause();
        resolve(undefined);
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
