// The job a task or actor call belongs to, as its spec carries it (TaskSpec.job): the driver
// program's id (8 hex digits, as Ray's JobID) followed by its namespace. Every call a job
// makes, and every call those make in turn, carries it, so a worker that serves several
// drivers (a `sunray start` node's) knows whose call it runs: getRuntimeContext().jobId and
// namespace, and the namespace getActor() and named actors default to.

/** Hex digits of a job id. */
const JOB_ID_CHARS = 8;

/** A spec's job field for a job id and its namespace. */
export function jobOf(jobId: string, namespace: string): string {
  return `${jobId}${namespace}`;
}

/** The job id of a spec's job field (undefined for ''). */
export function jobIdOf(job: string): string | undefined {
  return job === '' ? undefined : job.slice(0, JOB_ID_CHARS);
}

/** The namespace of a spec's job field (undefined for ''). */
export function namespaceOf(job: string): string | undefined {
  return job === '' ? undefined : job.slice(JOB_ID_CHARS);
}

/** A driver program as it tells the head when its node joins: the job it runs. */
export interface DriverJob {
  /** Its job id (8 hex digits). */
  jobId: string;
  /** The namespace it runs in. */
  namespace: string;
  /** How it was started: `node script.js args` (the executable's base name). */
  entrypoint: string;
  /** Its process id, on its node. */
  pid: number;
  /** When it started (ms since the epoch). */
  startTime: number;
  /** The job server's submission id, for the driver of a submitted job. */
  submissionId?: string;
}

/** A job's state: Ray's JobStatus names (a driver job is RUNNING until its driver ends). */
export type JobStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

/** One job of the cluster (Ray's JobState): a driver program that joined it. */
export interface JobStateRow {
  /** Its id (8 hex digits, as getRuntimeContext().jobId gives it). */
  jobId: string;
  /** 'DRIVER': a program that called init(); 'SUBMISSION': the driver of a job submitted to the job server. */
  type: 'DRIVER' | 'SUBMISSION';
  /** Its submission id (`sunray job status ID`), for a submitted job; else undefined. */
  submissionId?: string;
  /** RUNNING while its driver runs; SUCCEEDED when it shut down or exited with code 0; FAILED otherwise. */
  status: JobStatus;
  /** How its driver was started. */
  entrypoint: string;
  /** Its namespace. */
  namespace: string;
  /** The driver's process id. */
  driverPid: number;
  /** The driver's embedded node (hex). */
  driverNodeId: string;
  /** When it started (ms since the epoch). */
  startTime: number;
  /** When it ended (ms since the epoch; null while it runs). */
  endTime: number | null;
  /** Why it failed, or how it ended ('' while it runs). */
  message: string;
}

/** A DriverJob from a peer's JSON, checked field by field (undefined when absent or malformed). */
export function readDriverJob(json: string | null | undefined): DriverJob | undefined {
  if (!json) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const j = v as Record<string, unknown>;
  const text = (x: unknown, max: number) => typeof x === 'string' && x.length <= max;
  const whole = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!text(j.jobId, JOB_ID_CHARS) || !/^[0-9a-f]*$/.test(j.jobId as string)) return undefined;
  if (!text(j.namespace, 1024) || !text(j.entrypoint, 4096) || !whole(j.pid) || !whole(j.startTime)) {
    return undefined;
  }
  const { jobId, namespace, entrypoint, pid, startTime, submissionId } = j as unknown as DriverJob;
  const submitted = typeof submissionId === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(submissionId);
  return { jobId, namespace, entrypoint, pid, startTime, ...(submitted ? { submissionId } : {}) };
}

/** A driver's job as listJobs shows it while it runs. */
export function runningJobRow(job: DriverJob, driverNodeId: string): JobStateRow {
  return {
    jobId: job.jobId,
    type: job.submissionId !== undefined ? 'SUBMISSION' : 'DRIVER',
    ...(job.submissionId !== undefined ? { submissionId: job.submissionId } : {}),
    status: 'RUNNING',
    entrypoint: job.entrypoint,
    namespace: job.namespace,
    driverPid: job.pid,
    driverNodeId,
    startTime: job.startTime,
    endTime: null,
    message: '',
  };
}

/** A submitted job's status (Ray's JobStatus): PENDING while its env is set up, then RUNNING, SUCCEEDED, FAILED or STOPPED. */
export type SubmittedJobStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'STOPPED';

/**
 * A job submitted to the job server, as its API answers it (Ray's JobDetails, camelCased);
 * sunray/job's JobDetails.
 */
export interface SubmittedJob {
  /** Its id: given at submission, or `sunray_job_<16 hex>`. */
  submissionId: string;
  /** PENDING while its env is set up, RUNNING, then SUCCEEDED, FAILED or STOPPED. */
  status: SubmittedJobStatus;
  /** Its command, as arguments. */
  entrypoint: string[];
  /** How it ended, or why it failed ('' while it runs). */
  message: string;
  /** Its driver's namespace (its submission id). */
  namespace: string;
  /** The runtime env as submitted (workingDir: the hash of the uploaded archive). */
  runtimeEnv: Record<string, unknown>;
  /** Labels given at submission. */
  metadata: Record<string, string>;
  /** When it was submitted (ms since the epoch). */
  startTime: number;
  /** When it ended (null while it runs). */
  endTime: number | null;
  /** Its driver's pid on this node (null before it started). */
  driverPid: number | null;
  /** Its driver's exit code (null while it runs, or when a signal ended it). */
  driverExitCode: number | null;
}
