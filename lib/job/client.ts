// JobSubmissionClient (Ray's ray.job_submission.JobSubmissionClient): submits a program to a
// cluster's job server and follows it, over HTTP only (Node's fetch), so it runs anywhere
// the head's dashboard port can be reached. Every request carries the cluster token (the
// job API runs code: docs/cluster.md#jobs). A job's workingDir is packed here (packWorkingDir)
// and uploaded once by its content hash before the submission names it.
import { readFileSync } from 'node:fs';
import {
  InvalidArgumentError,
  JobNotFoundError,
  JobServerError,
  packWorkingDir,
  type RuntimeEnv,
  type SubmittedJob,
  type SubmittedJobStatus,
} from '../index.js';

/** A job's status (Ray's JobStatus). */
export type JobStatus = SubmittedJobStatus;

/** A submitted job as the job server reports it (Ray's JobDetails). */
export type JobDetails = SubmittedJob;

/** What submitJob() takes. */
export interface SubmitJobOptions {
  /** The command, as arguments: `['node', 'script.mjs']` (`node`: the server node's Node). */
  entrypoint: readonly string[];
  /** Its id (1-64 letters, digits, `_ . -`; default: made by the server). */
  submissionId?: string;
  /** Its runtime env: envVars (its driver's too), workingDir (a local directory, uploaded), npmDependencies. */
  runtimeEnv?: RuntimeEnv;
  /** Free-form labels kept with the job. */
  metadata?: Record<string, string>;
}

/** How a JobSubmissionClient reaches its server. */
export interface JobClientOptions {
  /** The cluster token; default: the file tokenFile names, else $SUNRAY_CLUSTER_TOKEN. */
  token?: string;
  /** A file holding the token (mode 0600 as `sunray start` writes it). */
  tokenFile?: string;
  /** Milliseconds a request may take (default 30 s; uploads 10 min; a followed log has none). */
  timeoutMs?: number;
}

/** Terminal statuses: the job's log grows no more. */
const ENDED: ReadonlySet<JobStatus> = new Set(['SUCCEEDED', 'FAILED', 'STOPPED']);

/** Whether a status is final (SUCCEEDED, FAILED or STOPPED). */
export function isJobEnded(status: JobStatus): boolean {
  return ENDED.has(status);
}

/** A client of a cluster's job server (`sunray start --head --dashboard-port 8265`). */
export class JobSubmissionClient {
  /** http://host:port of the server. */
  readonly address: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  /** address: the dashboard's `http://HOST:8265` (or `HOST:PORT`). */
  constructor(address: string, opts: JobClientOptions = {}) {
    this.address = (/^https?:\/\//.test(address) ? address : `http://${address}`).replace(/\/+$/, '');
    const token =
      opts.token ??
      (opts.tokenFile !== undefined
        ? readFileSync(opts.tokenFile, 'utf8').trim()
        : process.env.SUNRAY_CLUSTER_TOKEN);
    if (!token) {
      throw new InvalidArgumentError(
        'JobSubmissionClient needs the cluster token: pass { token } or { tokenFile }, or set SUNRAY_CLUSTER_TOKEN',
      );
    }
    this.token = token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Submits a job (uploading its workingDir first when the server lacks it); resolves to its submission id. */
  async submitJob(o: SubmitJobOptions): Promise<string> {
    const runtimeEnv: Record<string, unknown> = { ...(o.runtimeEnv ?? {}) };
    if (o.runtimeEnv?.workingDir !== undefined) {
      const packed = packWorkingDir(o.runtimeEnv.workingDir);
      const there = await this.request('GET', `/api/packages/${packed.hash}`, undefined, [200, 404]);
      if (there.status === 404) {
        await this.request('PUT', `/api/packages/${packed.hash}`, packed.gz, [200], 600_000);
      }
      runtimeEnv.workingDir = packed.hash;
    }
    const body = {
      entrypoint: [...o.entrypoint],
      runtimeEnv,
      ...(o.submissionId !== undefined ? { submissionId: o.submissionId } : {}),
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
    const r = await this.request('POST', '/api/jobs/', Buffer.from(JSON.stringify(body)));
    return ((await r.json()) as { submissionId: string }).submissionId;
  }

  /** A job's details; JobNotFoundError for an id the server does not know. */
  async getJobInfo(submissionId: string): Promise<JobDetails> {
    return (await (
      await this.request('GET', `/api/jobs/${encodeURIComponent(submissionId)}`)
    ).json()) as JobDetails;
  }

  /** A job's status. */
  async getJobStatus(submissionId: string): Promise<JobStatus> {
    return (await this.getJobInfo(submissionId)).status;
  }

  /** What the job's driver has printed so far (stdout and stderr). */
  async getJobLogs(submissionId: string): Promise<string> {
    const r = await this.request('GET', `/api/jobs/${encodeURIComponent(submissionId)}/logs`);
    return ((await r.json()) as { logs: string }).logs;
  }

  /** The job's output as it comes, until the job has ended (break out of the loop to stop following). */
  async *tailJobLogs(submissionId: string): AsyncGenerator<string, void, undefined> {
    const r = await this.request(
      'GET',
      `/api/jobs/${encodeURIComponent(submissionId)}/logs/tail`,
      undefined,
      [200],
      0,
    );
    if (!r.body) return;
    const decoder = new TextDecoder();
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      if (text !== '') yield text;
    }
    const rest = decoder.decode();
    if (rest !== '') yield rest;
  }

  /** Stops a job (SIGTERM to its driver, SIGKILL after a grace); false when it had ended already. */
  async stopJob(submissionId: string): Promise<boolean> {
    const r = await this.request('POST', `/api/jobs/${encodeURIComponent(submissionId)}/stop`);
    return ((await r.json()) as { stopped: boolean }).stopped;
  }

  /** Every job the server knows, newest first. */
  async listJobs(): Promise<JobDetails[]> {
    return ((await (await this.request('GET', '/api/jobs/')).json()) as { jobs: JobDetails[] }).jobs;
  }

  /** One request; an answer outside `ok` becomes JobNotFoundError (404) or JobServerError. */
  private async request(
    method: string,
    path: string,
    body?: Buffer,
    ok: readonly number[] = [200],
    timeoutMs = this.timeoutMs,
  ): Promise<Response> {
    let r: Response;
    try {
      r = await fetch(`${this.address}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body ? { 'content-type': method === 'PUT' ? 'application/gzip' : 'application/json' } : {}),
        },
        ...(body ? { body } : {}),
        ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new JobServerError(`the job server at ${this.address} could not be reached: ${cause}`);
    }
    if (ok.includes(r.status)) return r;
    const text = await r.text().catch(() => '');
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: as it came
    }
    if (r.status === 404 && path.startsWith('/api/jobs/')) throw new JobNotFoundError(message);
    throw new JobServerError(
      `the job server answered ${r.status} to ${method} ${path}: ${message}`,
      r.status,
    );
  }
}
