// The head's job table with a fake clock: a driver's job runs from its node's registration
// until it leaves (shut down or exit 0: SUCCEEDED; another exit code: FAILED) or its node
// is declared dead (FAILED, with why); re-registering runs it again; ended jobs are bounded.
// Also a peer's DriverJob JSON, checked field by field before the table takes it.
import { describe, expect, test } from 'vitest';
import { JobTable, MAX_ENDED_JOBS } from '../../../lib/cluster/job-table.js';
import { type DriverJob, readDriverJob } from '../../../lib/protocol/job.js';

const job = (jobId: string, pid = 100): DriverJob => ({
  jobId,
  namespace: 'default',
  entrypoint: 'node main.js',
  pid,
  startTime: 1000,
});

describe('job table', () => {
  test('a job runs from registration and ends as its driver ends', () => {
    let now = 5000;
    const t = new JobTable(() => now);
    t.started('n1', job('0000000a'));
    t.started('n2', job('0000000b'));
    t.started('n3', job('0000000c'));
    t.started('n4', job('0000000d'));
    expect(t.rows().map((r) => [r.jobId, r.status, r.driverNodeId, r.endTime])).toEqual([
      ['0000000a', 'RUNNING', 'n1', null],
      ['0000000b', 'RUNNING', 'n2', null],
      ['0000000c', 'RUNNING', 'n3', null],
      ['0000000d', 'RUNNING', 'n4', null],
    ]);
    now = 6000;
    t.left('n1', -1);
    t.left('n2', 0);
    t.left('n3', 3);
    t.died('n4', 'no heartbeat for 3000 ms');
    // A death after the leave (the head marks a node that left dead too) changes nothing.
    t.died('n1', 'it left the cluster');
    expect(t.rows().map((r) => [r.status, r.endTime, r.message])).toEqual([
      ['SUCCEEDED', 6000, 'the driver shut down'],
      ['SUCCEEDED', 6000, 'the driver exited'],
      ['FAILED', 6000, 'the driver exited with code 3'],
      ['FAILED', 6000, "the driver's node died: no heartbeat for 3000 ms"],
    ]);
    // A daemon's node (no job) leaving or dying is not a job's end.
    t.left('daemon', 0);
    t.died('daemon', 'gone');
    expect(t.rows()).toHaveLength(4);
  });

  test('a driver declared dead that registers again runs again', () => {
    const t = new JobTable(() => 1);
    t.started('n1', job('0000000a'));
    t.died('n1', 'no heartbeat');
    t.started('n1', job('0000000a'));
    expect(t.rows()).toEqual([expect.objectContaining({ status: 'RUNNING', endTime: null, message: '' })]);
  });

  test('ended jobs past MAX_ENDED_JOBS are forgotten, oldest first; running ones never', () => {
    const t = new JobTable(() => 1);
    t.started('running', job('ffffffff'));
    for (let i = 0; i < MAX_ENDED_JOBS + 5; i++) {
      t.started(`n${i}`, job(i.toString(16).padStart(8, '0')));
      t.left(`n${i}`, 0);
    }
    const rows = t.rows();
    expect(rows).toHaveLength(MAX_ENDED_JOBS + 1);
    expect(rows[0]?.jobId).toBe('ffffffff');
    expect(rows[1]?.jobId).toBe((5).toString(16).padStart(8, '0'));
  });

  test("a peer's job JSON is taken only when every field is what it should be", () => {
    const good = job('0a0b0c0d');
    expect(readDriverJob(JSON.stringify({ ...good, extra: 'dropped' }))).toEqual(good);
    for (const bad of [
      '',
      'not json',
      'null',
      '[]',
      JSON.stringify({ ...good, jobId: 'XYZ' }),
      JSON.stringify({ ...good, jobId: '0a0b0c0d0e' }),
      JSON.stringify({ ...good, pid: -1 }),
      JSON.stringify({ ...good, startTime: 'soon' }),
      JSON.stringify({ ...good, entrypoint: 'x'.repeat(5000) }),
      JSON.stringify({ ...good, namespace: 7 }),
    ]) {
      expect(readDriverJob(bad), bad).toBeUndefined();
    }
  });
});
