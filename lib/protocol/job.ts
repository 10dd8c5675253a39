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
