// The head's table of jobs (Ray's GCS job table): each driver program that joined the
// cluster, from its node's registration (which carries its DriverJob) to its end. A driver
// that shuts down, or exits with code 0, SUCCEEDED; one that exits with another code, or
// whose node the head declares dead (killed, stalled past its heartbeats), FAILED. Ended
// jobs are kept, the oldest forgotten past MAX_ENDED_JOBS.
import { type DriverJob, type JobStateRow, runningJobRow } from '../protocol/job.js';

/** Ended jobs the table keeps (the oldest are forgotten past it). */
export const MAX_ENDED_JOBS = 1000;

/** Jobs by id, and which node runs each driver. */
export class JobTable {
  private readonly jobs = new Map<string, JobStateRow>();
  private readonly byNode = new Map<string, string>();
  /** Called after each change (the head saves its directory: head-state.ts). */
  onChange: () => void = () => {};

  constructor(private readonly now: () => number = Date.now) {}

  /** The table as JSON-able data, for restore() in a head started again. */
  save(): { jobs: JobStateRow[]; byNode: [string, string][] } {
    return { jobs: this.rows(), byNode: [...this.byNode] };
  }

  /** Takes back what save() gave (jobs still RUNNING stay so: their drivers register again, or die). */
  restore(saved: unknown): void {
    const s = saved as { jobs: JobStateRow[]; byNode: [string, string][] };
    for (const j of s.jobs) this.jobs.set(j.jobId, { ...j });
    for (const [node, job] of s.byNode) this.byNode.set(node, job);
  }

  /** A driver's node registered (again, after being declared dead: its job runs again). */
  started(nodeId: string, job: DriverJob): void {
    this.byNode.set(nodeId, job.jobId);
    this.jobs.delete(job.jobId); // re-inserted last: the map's order is the order of starts
    this.jobs.set(job.jobId, runningJobRow(job, nodeId));
    this.onChange();
  }

  /** A driver's node left: exitCode -1 when it shut down, else its process's exit code. */
  left(nodeId: string, exitCode: number): void {
    if (exitCode <= 0)
      this.end(nodeId, 'SUCCEEDED', exitCode === 0 ? 'the driver exited' : 'the driver shut down');
    else this.end(nodeId, 'FAILED', `the driver exited with code ${exitCode}`);
  }

  /** A node was declared dead: a driver's job that had not ended failed. */
  died(nodeId: string, why: string): void {
    this.end(nodeId, 'FAILED', `the driver's node died: ${why}`);
  }

  /** Every job, in the order they started. */
  rows(): JobStateRow[] {
    return [...this.jobs.values()].map((j) => ({ ...j }));
  }

  private end(nodeId: string, status: 'SUCCEEDED' | 'FAILED', message: string): void {
    const jobId = this.byNode.get(nodeId);
    if (jobId === undefined) return;
    this.byNode.delete(nodeId);
    const job = this.jobs.get(jobId);
    if (!job || job.status !== 'RUNNING') return;
    job.status = status;
    job.endTime = this.now();
    job.message = message;
    this.forgetOld();
    this.onChange();
  }

  private forgetOld(): void {
    let ended = 0;
    for (const j of this.jobs.values()) if (j.status !== 'RUNNING') ended++;
    for (const [id, j] of this.jobs) {
      if (ended <= MAX_ENDED_JOBS) break;
      if (j.status === 'RUNNING') continue;
      this.jobs.delete(id);
      ended--;
    }
  }
}
