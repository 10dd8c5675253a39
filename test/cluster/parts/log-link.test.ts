// LogLink with fakes: lines go to the node whose table entry runs their job's driver, in
// batches; a job the table does not know yet is asked of the head, and its lines wait for
// the answer (dropped after UNKNOWN_JOB_MS); a queue past MAX_QUEUED_LINES drops its oldest
// and says so; what arrives is checked before it is printed.
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  ASK_MS,
  FLUSH_MS,
  LogLink,
  MAX_QUEUED_LINES,
  UNKNOWN_JOB_MS,
} from '../../../lib/cluster/log-link.js';
import { NodeTable } from '../../../lib/cluster/node-table.js';
import type { JobStateRow } from '../../../lib/protocol/job.js';
import type { LogLine } from '../../../lib/protocol/log-lines.js';
import { FakePeers, nodeIdOf, nodeInfo } from './fakes.js';

const SELF = nodeIdOf(0xa0);
const DRIVER = nodeIdOf(0xd0);
const line = (text: string, jobId = 'job1'): LogLine => ({ pid: 5, err: false, jobId, name: 'f', text });

afterEach(() => vi.useRealTimers());

describe('log link', () => {
  test("lines go in one batch to the node of their job's driver", async () => {
    vi.useFakeTimers();
    const table = new NodeTable(SELF);
    table.apply([nodeInfo(SELF), { ...nodeInfo(DRIVER), jobId: 'job1' }]);
    const peers = new FakePeers();
    const link = new LogLink(
      table,
      peers,
      () => {},
      () => Promise.resolve([]),
    );
    link.send('job1', [line('a'), line('b')]);
    link.send('job1', [line('c')]);
    expect(peers.conns.size).toBe(0);
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    const sent = peers.conn(DRIVER).sent;
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ t: 'logLines', dropped: 0 });
    expect(JSON.parse((sent[0] as { linesJson: string }).linesJson).map((l: LogLine) => l.text)).toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  test('a job the table lacks is asked of the head; unanswered, its lines go after UNKNOWN_JOB_MS', async () => {
    vi.useFakeTimers();
    let now = 0;
    const table = new NodeTable(SELF);
    table.apply([nodeInfo(SELF)]);
    const peers = new FakePeers();
    const jobs: JobStateRow[] = [];
    let asked = 0;
    const link = new LogLink(
      table,
      peers,
      () => {},
      () => {
        asked++;
        return Promise.resolve(jobs);
      },
      () => now,
    );
    link.send('job1', [line('early')]);
    link.send('gone', [line('lost', 'gone')]);
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(peers.conns.size).toBe(0);
    jobs.push({ jobId: 'job1', status: 'RUNNING', driverNodeId: DRIVER } as JobStateRow);
    now = ASK_MS; // the head is asked again no sooner than this
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(asked).toBe(2);
    expect(peers.conn(DRIVER).sent.map((m) => (m as { linesJson: string }).linesJson)).toEqual([
      JSON.stringify([line('early')]),
    ]);
    now = UNKNOWN_JOB_MS + 1;
    await vi.advanceTimersByTimeAsync(FLUSH_MS * 2);
    const askedBefore = asked;
    await vi.advanceTimersByTimeAsync(FLUSH_MS * 5);
    expect(asked).toBe(askedBefore); // nothing waits any more
  });

  test('past MAX_QUEUED_LINES the oldest are dropped and counted; received lines are checked', async () => {
    vi.useFakeTimers();
    const table = new NodeTable(SELF);
    table.apply([nodeInfo(SELF), { ...nodeInfo(DRIVER), jobId: 'job1' }]);
    const peers = new FakePeers();
    const printed: Array<{ lines: LogLine[]; from: string }> = [];
    const link = new LogLink(
      table,
      peers,
      (lines, from) => printed.push({ lines, from }),
      () => Promise.resolve([]),
    );
    link.send(
      'job1',
      Array.from({ length: MAX_QUEUED_LINES + 7 }, (_, i) => line(String(i))),
    );
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    const frames = peers.conn(DRIVER).sent as Array<{ t: 'logLines'; linesJson: string; dropped: number }>;
    expect(frames[0]?.dropped).toBe(7);
    const first = JSON.parse(frames[0]?.linesJson ?? '[]') as LogLine[];
    expect(first[0]?.text).toBe('7');

    link.onLines(
      {
        t: 'logLines',
        dropped: 2,
        linesJson: JSON.stringify([line('ok'), { pid: 'x', text: 'bad' }, null, { ...line('n'), name: 7 }]),
      },
      DRIVER,
    );
    link.onLines({ t: 'logLines', dropped: 0, linesJson: 'not json' }, DRIVER);
    expect(printed).toHaveLength(1);
    expect(printed[0]?.from).toBe(DRIVER);
    expect(printed[0]?.lines.map((l) => l.text)).toEqual([
      "[2 line(s) of this job's workers were dropped: its driver read slower than they wrote]",
      'ok',
    ]);
  });
});
