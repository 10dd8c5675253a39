// sunray/job: submitting programs to a cluster's job server and following them (Ray's job
// submission SDK). The server runs on the head's dashboard port (`sunray start --head
// --dashboard-port 8265`); see docs/cluster.md#jobs.

/**
 * Job submission: JobSubmissionClient submits, lists, follows and stops jobs over HTTP.
 *
 * @module sunray/job
 */

export { JobNotFoundError, JobServerError, type RuntimeEnv } from '../index.js';
export {
  isJobEnded,
  type JobClientOptions,
  type JobDetails,
  type JobStatus,
  JobSubmissionClient,
  type SubmitJobOptions,
} from './client.js';
