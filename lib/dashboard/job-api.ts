// The job server's HTTP API, on the dashboard's port (Ray's /api/jobs/): submit, list, get,
// logs (whole, or followed as a stream), stop; and /api/packages/<hash> for the archives of
// jobs' working directories. The job API runs code on the cluster, so every request proves
// the cluster token (`Authorization: Bearer <token>`, compared in constant time) before
// anything of it is read or parsed; failures are limited per client address (429 past
// the limit) and logged at most a line a second. A browser's dashboard session does not
// count here: cross-site pages cannot send the header, so there is nothing to forge.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError, JobNotFoundError, SunrayError } from '../base/errors.js';
import { LogLimiter } from '../cluster/log-limiter.js';
import type { NodeManager } from '../node/node-manager.js';
import { archiveHash, MAX_WORKING_DIR_BYTES } from '../protocol/package-archive.js';
import { LoginLimiter, tokenMatches } from './auth.js';
import { type JobManager, jobRuntimeEnv } from './job-manager.js';
import { readBody } from './request-body.js';

/** The most bytes of a submission's JSON. */
const MAX_SUBMIT_BODY = 1024 * 1024;
/** How often a followed log is looked at for more. */
const TAIL_POLL_MS = 200;
/** Entrypoint arguments at most, and characters of each. */
const MAX_ARGS = 256;
const MAX_ARG_CHARS = 8192;

/** Whether a request path is the job API's (the dashboard's own /api/jobs view is not: no slash). */
export function isJobApiPath(path: string): boolean {
  return path.startsWith('/api/jobs/') || path.startsWith('/api/packages/');
}

/** Answers the job API's requests for one node's JobManager. */
export class JobApi {
  private readonly failures = new LoginLimiter();
  private readonly limiter: LogLimiter;

  constructor(
    private readonly jobs: JobManager,
    private readonly manager: NodeManager,
    private readonly token: string,
    log: (line: string) => void,
  ) {
    this.limiter = new LogLimiter(log, 1000);
  }

  /** Answers req (its path is the job API's: isJobApiPath). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const client = req.socket.remoteAddress ?? '';
    const wait = this.failures.waitMs(client);
    if (wait > 0) {
      res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
      return refuse(res, 429, 'too many requests with a wrong token: try again later');
    }
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : '';
    if (!tokenMatches(this.token, given)) {
      this.failures.failed(client);
      this.limiter.line('job-api', `sunray job server: refused a request from ${client} (no or wrong token)`);
      res.setHeader('www-authenticate', 'Bearer');
      return refuse(res, 401, 'the job API needs the cluster token: Authorization: Bearer <token>');
    }
    this.failures.succeeded(client);
    try {
      await this.route(req, res, url);
    } catch (err) {
      const status = err instanceof JobNotFoundError ? 404 : err instanceof SunrayError ? 400 : 500;
      if (!res.headersSent)
        json(res, status, { error: (err as Error).message, code: (err as SunrayError).code });
      else res.destroy();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    let parts: string[];
    try {
      parts = url.pathname
        .split('/')
        .filter((p) => p !== '')
        .map(decodeURIComponent);
    } catch {
      throw new InvalidArgumentError(`a malformed path: ${url.pathname}`);
    }
    // ['api', 'packages', hash] or ['api', 'jobs', id?, 'logs'|'stop'?, 'tail'?]
    if (parts[1] === 'packages' && parts.length === 3) {
      const hash = parts[2] as string;
      if (!/^[0-9a-f]{64}$/.test(hash))
        throw new InvalidArgumentError('a package is named by its sha256 (hex)');
      if (method === 'GET') {
        const has = this.manager.envs.hasPackage(hash);
        return json(res, has ? 200 : 404, { exists: has });
      }
      if (method === 'PUT') return this.upload(req, res, hash);
    } else if (parts[1] === 'jobs') {
      const [, , id, what, more] = parts;
      if (id === undefined) {
        if (method === 'GET') return json(res, 200, { jobs: this.jobs.list() });
        if (method === 'POST') return this.submit(req, res);
      } else if (what === undefined && method === 'GET') return json(res, 200, this.jobs.get(id));
      else if (what === 'stop' && more === undefined && method === 'POST') {
        return json(res, 200, { stopped: this.jobs.stop(id) });
      } else if (what === 'logs' && method === 'GET') {
        if (more === undefined) return json(res, 200, { logs: this.jobs.readLog(id).text.toString('utf8') });
        if (more === 'tail') return this.tail(req, res, id);
      }
    }
    json(res, 404, { error: `no job API ${method} ${url.pathname}` });
  }

  private async submit(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_SUBMIT_BODY);
    if (body === undefined)
      return refuse(res, 413, `a submission is JSON of at most ${MAX_SUBMIT_BODY} bytes`);
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new InvalidArgumentError('a submission is a JSON object');
    }
    if (typeof v !== 'object' || v === null) throw new InvalidArgumentError('a submission is a JSON object');
    const entry = v.entrypoint;
    if (
      !Array.isArray(entry) ||
      entry.length === 0 ||
      entry.length > MAX_ARGS ||
      !entry.every((a) => typeof a === 'string' && a.length <= MAX_ARG_CHARS && !a.includes('\0'))
    ) {
      throw new InvalidArgumentError(
        `entrypoint must be the command as an array of strings (e.g. ["node", "script.mjs"]), at most ${MAX_ARGS}`,
      );
    }
    const sid = v.submissionId;
    if (sid !== undefined && (typeof sid !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(sid))) {
      throw new InvalidArgumentError('submissionId must be 1-64 letters, digits, _ . or -');
    }
    const metadata = (v.metadata ?? {}) as Record<string, unknown>;
    if (typeof metadata !== 'object' || Object.values(metadata).some((x) => typeof x !== 'string')) {
      throw new InvalidArgumentError('metadata must be an object of strings');
    }
    const id = this.jobs.submit({
      entrypoint: entry as string[],
      ...(sid !== undefined ? { submissionId: sid as string } : {}),
      runtimeEnv: jobRuntimeEnv(v.runtimeEnv),
      metadata: metadata as Record<string, string>,
    });
    json(res, 200, { submissionId: id });
  }

  /** PUT /api/packages/<hash>: a working directory's archive, checked against its hash, kept here and at the head. */
  private async upload(req: IncomingMessage, res: ServerResponse, hash: string): Promise<void> {
    const gz = await readBody(req, MAX_WORKING_DIR_BYTES + 1024 * 1024);
    if (gz === undefined) {
      return refuse(
        res,
        413,
        `a working directory is at most ${MAX_WORKING_DIR_BYTES} bytes (runtimeEnv.workingDir)`,
      );
    }
    if (archiveHash(gz) !== hash)
      throw new InvalidArgumentError('the uploaded archive does not match its hash');
    this.manager.envs.addPackage(hash, gz);
    await this.manager.cluster?.putPackage(hash, gz);
    json(res, 200, { stored: hash });
  }

  /** GET /api/jobs/<id>/logs/tail: the log as it grows, until the job has ended and all of it was sent. */
  private async tail(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.jobs.get(id); // 404 before the stream starts
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    let closed = false;
    req.once('close', () => {
      closed = true;
    });
    let at = 0;
    for (;;) {
      const ended = this.jobs.ended(id); // before the read: a job that ended has written its last
      const { text } = this.jobs.readLog(id, at);
      at += text.length;
      if (text.length > 0 && !res.write(text)) {
        await new Promise((r) => {
          res.once('drain', r);
          res.once('close', r);
        });
      }
      if (closed || (ended && text.length === 0)) break;
      if (text.length === 0) await new Promise((r) => setTimeout(r, TAIL_POLL_MS));
    }
    res.end();
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** An answer that ends the connection: whatever the client still sends is not read. */
function refuse(res: ServerResponse, status: number, error: string): void {
  res.setHeader('connection', 'close');
  json(res, status, { error });
}
