// Jobs: every driver program that joined the cluster (the head's job table), newest
// first: running, or how it ended (SUCCEEDED, FAILED and why), when and for how long.

import { badge, clock, duration, h, short, tableView } from '../lib.js';

const columns = [
  { title: 'job', get: (j) => h('span', { class: 'id' }, j.jobId) },
  { title: 'status', get: (j) => badge(j.status) },
  { title: 'type', get: (j) => j.type },
  { title: 'submission', get: (j) => j.submissionId ?? '' },
  { title: 'entrypoint', cls: 'wrap', get: (j) => j.entrypoint },
  { title: 'namespace', get: (j) => j.namespace },
  { title: 'driver pid', cls: 'num', get: (j) => j.driverPid },
  { title: 'driver node', get: (j) => short(j.driverNodeId) },
  { title: 'started', get: (j) => clock(j.startTime) },
  { title: 'ran', cls: 'num', get: (j) => duration((j.endTime ?? Date.now()) - j.startTime) },
  { title: 'message', cls: 'wrap', get: (j) => j.message },
];

/** Mounts the jobs view. */
export const mount = tableView('jobs', 'Jobs', columns);
