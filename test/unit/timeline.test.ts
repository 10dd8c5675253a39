// The timeline's trace (protocol/timeline.ts) and the task summary, from task rows.
import { describe, expect, test } from 'vitest';
import { summarizeTaskRows } from '../../lib/protocol/state-rows.js';
import { newTaskRow, type TaskStateRow } from '../../lib/protocol/task-events.js';
import { chromeTrace } from '../../lib/protocol/timeline.js';

function row(taskId: string, more: Partial<TaskStateRow>): TaskStateRow {
  return { ...newTaskRow(taskId), name: 'f', type: 'NORMAL_TASK', creationTimeMs: 1, ...more };
}

describe('timeline', () => {
  test('one slice per run on its worker, an arrow from its submitter; tasks that never ran are left out', () => {
    const rows = [
      row('t2', {
        nodeId: 'B',
        workerPid: 20,
        startTimeMs: 5,
        endTimeMs: 7.5,
        ownerPid: 1,
        ownerNodeId: 'A',
        state: 'FINISHED',
      }),
      row('t1', {
        nodeId: 'A',
        workerPid: 10,
        startTimeMs: 2,
        endTimeMs: 3,
        ownerPid: 1,
        ownerNodeId: 'A',
        state: 'FAILED',
        errorType: 'TypeError',
        errorMessage: 'bad',
      }),
      row('t3', { state: 'PENDING_NODE_ASSIGNMENT' }),
    ];
    const trace = chromeTrace(rows);
    const slices = trace.filter((e) => e.ph === 'X');
    expect(slices.map((s) => [s.args?.taskId, s.ts, s.dur, s.tid])).toEqual([
      ['t1', 2000, 1000, 10],
      ['t2', 5000, 2500, 20],
    ]);
    expect(slices[0]?.args?.error).toBe('TypeError: bad');
    const names = trace.filter((e) => e.name === 'process_name').map((e) => e.args?.name);
    expect(names).toEqual(['node A', 'node B']);
    const nodeOf = (id: string) =>
      trace.find((e) => e.name === 'process_name' && e.args?.name === `node ${id}`)?.pid;
    const flows = trace.filter((e) => e.ph === 's' || e.ph === 'f');
    expect(flows).toHaveLength(4);
    const toT2 = flows.filter((f) => f.id === 2);
    expect(toT2.map((f) => [f.ph, f.pid, f.tid, f.ts])).toEqual([
      ['s', nodeOf('A'), 1, 1000],
      ['f', nodeOf('B'), 20, 5000],
    ]);
    // Loadable as Chrome's JSON array form.
    expect(JSON.parse(JSON.stringify(trace))).toEqual(trace);
  });

  test('summary: tasks by name and state', () => {
    const s = summarizeTaskRows([
      row('a', { state: 'FINISHED' }),
      row('b', { state: 'FINISHED' }),
      row('c', { name: 'g', type: 'ACTOR_TASK', state: 'RUNNING' }),
    ]);
    expect(s).toEqual({
      total: 3,
      byName: {
        f: { type: 'NORMAL_TASK', states: { FINISHED: 2 } },
        g: { type: 'ACTOR_TASK', states: { RUNNING: 1 } },
      },
    });
  });
});
