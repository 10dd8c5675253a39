// The job server's jobs (Ray's JobManager): a submitted job is a driver process supervised
// by the node that serves the job API, usually the head. Its runtime env is set up on this
// node first (PENDING), then its entrypoint runs without a shell (argv as given; `node`
// means this node's own binary), in the env's working directory, with the env's variables,
// its output appended to a log file, and its cluster, token, namespace and env in a 0600
// file its init() reads (protocol/job-driver-config.ts): RUNNING. It ends SUCCEEDED (exit
// 0), FAILED (another exit, or its env could not be set up), or STOPPED: stop() sends its
// process group SIGTERM, then SIGKILL after a grace period; its node's link to the head
// closes with it, and the head ends the tasks and actors it owned, on every node.
// Everything lives in a private directory of the session directory, removed at close().
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, JobNotFoundError } from '../base/errors.js';
import { makeFreshDir, privateSessionDir } from '../base/private-dir.js';
import type { NodeManager } from '../node/node-manager.js';
import type { SubmittedJob, SubmittedJobStatus } from '../protocol/job.js';
import { writeJobDriverConfig } from '../protocol/job-driver-config.js';
import { parseRuntimeEnvText, type ResolvedRuntimeEnv, runtimeEnvText } from '../protocol/runtime-env.js';

/** A submission, checked (job-api.ts checks the request's JSON into this). */
export interface JobRequest {
  /** The command, as arguments (`node` is this node's Node). */
  entrypoint: string[];
  /** Its id, if the submitter gave one. */
  submissionId?: string;
  /** Resolved: workingDir as { hash, source: '' } of an archive uploaded here. */
  runtimeEnv: ResolvedRuntimeEnv;
  /** Labels kept with the job. */
  metadata: Record<string, string>;
}

/** Grace between SIGTERM and SIGKILL when a job is stopped. */
export const JOB_STOP_GRACE_MS = 3000;
/** Jobs kept at most (ended ones are forgotten oldest first). */
const MAX_JOBS = 1000;

interface JobRec {
  info: SubmittedJob;
  dir: string;
  log: string;
  proc: ChildProcess | undefined;
  stopRequested: boolean;
  ended: Promise<void>;
  end: () => void;
}

/** The jobs submitted to this node's job server. */
export class JobManager {
  private readonly jobs = new Map<string, JobRec>();
  private root: string | undefined;
  private closed = false;

  constructor(
    private readonly manager: NodeManager,
    /** The head's host:port, for the drivers to join. */
    private readonly headAddress: string,
    private readonly token: string,
  ) {}

  /** Starts a job (its env is set up in the background); returns its submission id. */
  submit(req: JobRequest): string {
    if (this.closed) throw new InvalidArgumentError('the job server is shutting down');
    const id = req.submissionId ?? `sunray_job_${randomBytes(8).toString('hex')}`;
    if (this.jobs.has(id)) throw new InvalidArgumentError(`a job with submission id ${id} exists already`);
    if (req.runtimeEnv.workingDir && !this.manager.envs.hasPackage(req.runtimeEnv.workingDir.hash)) {
      throw new InvalidArgumentError(
        `runtimeEnv.workingDir ${req.runtimeEnv.workingDir.hash} was not uploaded: PUT it to /api/packages/<hash> first`,
      );
    }
    this.prune();
    const dir = makeFreshDir(this.jobsRoot(), 'job');
    const log = join(dir, 'driver.log');
    closeSync(
      openSync(log, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600),
    );
    let end = () => {};
    const ended = new Promise<void>((r) => {
      end = r;
    });
    const submitted: Record<string, unknown> = { ...req.runtimeEnv };
    if (req.runtimeEnv.workingDir) submitted.workingDir = req.runtimeEnv.workingDir.hash;
    const rec: JobRec = {
      info: {
        submissionId: id,
        status: 'PENDING',
        entrypoint: req.entrypoint,
        message: '',
        namespace: id,
        runtimeEnv: submitted,
        metadata: req.metadata,
        startTime: Date.now(),
        endTime: null,
        driverPid: null,
        driverExitCode: null,
      },
      dir,
      log,
      proc: undefined,
      stopRequested: false,
      ended,
      end,
    };
    this.jobs.set(id, rec);
    this.start(rec, req).catch((err: Error) =>
      this.finish(rec, 'FAILED', `it could not start: ${err.message}`, null),
    );
    return id;
  }

  /** Sets the job's env up on this node, then starts its driver. */
  private async start(rec: JobRec, req: JobRequest): Promise<void> {
    let env: Awaited<ReturnType<NodeManager['envs']['prepare']>> | undefined;
    const text = runtimeEnvText(req.runtimeEnv);
    try {
      if (text !== '') env = await this.manager.envs.prepare(text);
    } catch (err) {
      this.finish(rec, 'FAILED', `its runtime env could not be set up: ${(err as Error).message}`, null);
      return;
    }
    if (rec.stopRequested || this.closed) {
      this.finish(rec, 'STOPPED', 'stopped before its driver started', null);
      return;
    }
    // Its tasks run in the job's env; files of its copy of the working directory (the driver's
    // own code) are found in each node's copy.
    const jobEnv: ResolvedRuntimeEnv = { ...req.runtimeEnv };
    if (jobEnv.workingDir && env?.cwd) jobEnv.workingDir = { hash: jobEnv.workingDir.hash, source: env.cwd };
    const config = join(rec.dir, 'driver.json');
    writeJobDriverConfig(config, {
      submissionId: rec.info.submissionId,
      address: this.headAddress,
      token: this.token,
      namespace: rec.info.namespace,
      runtimeEnv: runtimeEnvText(jobEnv),
    });
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...(env?.envVars ?? {}),
      SUNRAY_JOB_CONFIG: config,
    };
    delete childEnv.SUNRAY_CLUSTER_TOKEN;
    delete childEnv.SUNRAY_WORKER_CONFIG;
    const [cmd = 'node', ...args] = req.entrypoint;
    const fd = openSync(rec.log, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
    let proc: ChildProcess;
    try {
      proc = spawn(cmd === 'node' ? process.execPath : cmd, args, {
        cwd: env?.cwd ?? process.cwd(),
        env: childEnv,
        stdio: ['ignore', fd, fd],
        shell: false,
        // Its own process group: stop() signals the driver and whatever it started.
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    rec.proc = proc;
    proc.once('error', (err) =>
      this.finish(rec, 'FAILED', `its entrypoint could not start: ${err.message}`, null),
    );
    proc.once('exit', (code, signal) => {
      if (rec.stopRequested) this.finish(rec, 'STOPPED', 'stopped by request', code);
      else if (code === 0) this.finish(rec, 'SUCCEEDED', 'its driver exited with code 0', 0);
      else
        this.finish(
          rec,
          'FAILED',
          `its driver ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`,
          code,
        );
    });
    if (proc.pid !== undefined) {
      rec.info.driverPid = proc.pid;
      rec.info.status = 'RUNNING';
    }
  }

  private finish(rec: JobRec, status: SubmittedJobStatus, message: string, code: number | null): void {
    if (rec.info.endTime !== null) return;
    Object.assign(rec.info, { status, message, endTime: Date.now(), driverExitCode: code });
    rmSync(join(rec.dir, 'driver.json'), { force: true }); // the token is needed no more
    rec.end();
  }

  /** A job's details; JobNotFoundError for an unknown id. */
  get(id: string): SubmittedJob {
    return { ...this.rec(id).info };
  }

  /** Every job, newest first. */
  list(): SubmittedJob[] {
    return [...this.jobs.values()].map((r) => ({ ...r.info })).sort((a, b) => b.startTime - a.startTime);
  }

  /** Bytes of a job's log from `from` on (at most `max`), and the log's size. */
  readLog(id: string, from = 0, max = 4 * 1024 * 1024): { text: Buffer; size: number } {
    const rec = this.rec(id);
    const fd = openSync(rec.log, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const size = statSync(rec.log).size;
      const n = Math.max(0, Math.min(max, size - from));
      const buf = Buffer.alloc(n);
      const got = n > 0 ? readSync(fd, buf, 0, n, from) : 0;
      return { text: buf.subarray(0, got), size };
    } finally {
      closeSync(fd);
    }
  }

  /** Whether a job has ended (its log grows no more). */
  ended(id: string): boolean {
    return this.rec(id).info.endTime !== null;
  }

  /** Stops a job: true if it was running or pending (SIGTERM, SIGKILL after graceMs), false if it had ended. */
  stop(id: string, graceMs = JOB_STOP_GRACE_MS): boolean {
    const rec = this.rec(id);
    if (rec.info.endTime !== null) return false;
    rec.stopRequested = true;
    const pid = rec.proc?.pid;
    if (pid !== undefined) {
      signalGroup(pid, 'SIGTERM');
      const t = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      void rec.ended.then(() => clearTimeout(t));
    }
    return true;
  }

  /** Stops every job (waiting for them to end) and removes their files. */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.jobs.values()].filter((r) => r.info.endTime === null);
    for (const r of running) this.stop(r.info.submissionId, 1000);
    await Promise.race([Promise.all(running.map((r) => r.ended)), new Promise((r) => setTimeout(r, 5000))]);
    if (this.root) rmSync(this.root, { recursive: true, force: true });
  }

  private rec(id: string): JobRec {
    const rec = this.jobs.get(id);
    if (!rec) throw new JobNotFoundError(`no job with submission id ${id}: \`sunray job list\` lists them`);
    return rec;
  }

  /** Past MAX_JOBS, the oldest ended jobs (and their logs) are forgotten. */
  private prune(): void {
    if (this.jobs.size < MAX_JOBS) return;
    for (const [id, r] of this.jobs) {
      if (this.jobs.size < MAX_JOBS) break;
      if (r.info.endTime === null) continue;
      rmSync(r.dir, { recursive: true, force: true });
      this.jobs.delete(id);
    }
  }

  private jobsRoot(): string {
    this.root ??= makeFreshDir(privateSessionDir(), `jobs-${this.manager.nodeId.slice(0, 8)}`);
    return this.root;
  }
}

/** Signals a process group (the job's driver and what it started); gone already is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ended
  }
}

/** A JobRequest's runtime env from the API's JSON, workingDir being an uploaded archive's hash. */
export function jobRuntimeEnv(v: unknown): ResolvedRuntimeEnv {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidArgumentError('runtimeEnv must be an object');
  const { workingDir, ...rest } = v as Record<string, unknown>;
  const text = JSON.stringify({
    ...rest,
    ...(workingDir !== undefined ? { workingDir: { hash: workingDir, source: '' } } : {}),
  });
  return parseRuntimeEnvText(text);
}
