// Task records across the cluster: every node but the head ships the records it appended
// (node/task-events.ts) to the head once a second, so the head's ring is the cluster's
// table of tasks, kept when nodes die. Tasks still on a node (queued, running) are asked of
// each node when a query comes (their state changes too often to ship). A node asked for
// tasks ships what it holds first, on the same connection as its question, so its own
// tasks are in the answer; other nodes' records arrive within a second.
import { within } from '../base/deadline.js';
import type { TaskEventRecorder, TaskEventsDropped, TaskRowsAnswer } from '../node/task-events.js';
import type { RowSelection } from '../protocol/state-rows.js';
import type { TaskRecord, TaskStateRow } from '../protocol/task-events.js';
import type { Conn } from './connection.js';
import type { HeadConn } from './membership.js';
import type { Message, Parsed } from './messages.js';
import type { GatheredRows } from './state-query.js';

/** How long the head has to answer a task query. */
const ANSWER_MS = 5000;

/** Ships this node's task records to the head, or (on the head) keeps everyone's and answers for them. */
export class TaskEventsLink {
  /** Records that could not be shipped (no head connection): told to the head with the next batch. */
  private lost = 0;

  constructor(
    private readonly recorder: TaskEventRecorder,
    private readonly isHead: boolean,
    private readonly headConn: () => HeadConn | undefined,
    /** Every alive node's tasks now (StateQueries.gather('liveTasks')). */
    private readonly gatherLive: () => Promise<GatheredRows>,
  ) {
    if (!isHead) recorder.shipTo((records, lost) => this.ship(records, lost));
  }

  private ship(records: TaskRecord[], lost: number): void {
    const c = this.headConn();
    if (!c || c.closed) {
      this.lost += records.length + lost;
      return;
    }
    c.send({ t: 'taskEvents', eventsJson: JSON.stringify(records), dropped: lost + this.lost });
    this.lost = 0;
  }

  /** A batch from another node (on the head). */
  onEvents(m: Extract<Message, { t: 'taskEvents' }>): void {
    if (this.isHead) this.recorder.fromNode(JSON.parse(m.eventsJson) as TaskRecord[], m.dropped);
  }

  /** The tasks that match sel, from the head's table (whole rows: the caller picks columns). */
  async rows(sel: RowSelection<TaskStateRow>): Promise<TaskRowsAnswer> {
    this.recorder.flush();
    if (this.isHead) return this.answer(sel);
    const c = this.headConn();
    if (!c || c.closed) throw new Error('the head is not reachable; try again once this node rejoined it');
    const selectionJson = JSON.stringify({ filters: sel.filters ?? [], limit: sel.limit });
    const answer = await within(
      new Promise<Parsed | Error>((resolve) =>
        c.requestCb({ t: 'stateQuery', kind: 'tasks', cluster: false, selectionJson }, resolve),
      ),
      ANSWER_MS,
    );
    if (answer === undefined) throw new Error(`the head did not answer within ${ANSWER_MS} ms`);
    if (answer instanceof Error) throw answer;
    if (answer.msg.t !== 'stateRows') throw new Error(`the head answered a task query with ${answer.msg.t}`);
    const dropped = JSON.parse(answer.msg.extraJson || '{"tasks":0,"events":0}') as TaskEventsDropped;
    return {
      rows: JSON.parse(answer.msg.rowsJson) as TaskStateRow[],
      dropped,
      unreachable: JSON.parse(answer.msg.unreachableJson) as string[],
    };
  }

  /** The head's table with every node's tasks now. */
  private async answer(sel: RowSelection<TaskStateRow>): Promise<TaskRowsAnswer> {
    const live = await this.gatherLive();
    const answer = this.recorder.table(live.rows as TaskRecord[], sel);
    return { ...answer, unreachable: live.unreachable };
  }

  /** A task query from another node or a client (on the head). */
  async serve(c: Conn, p: Parsed, m: Extract<Message, { t: 'stateQuery' }>): Promise<void> {
    let answer: TaskRowsAnswer = { rows: [], dropped: { tasks: 0, events: 0 }, unreachable: [] };
    if (this.isHead) {
      this.recorder.flush();
      try {
        const sel = (m.selectionJson ? JSON.parse(m.selectionJson) : {}) as RowSelection<TaskStateRow>;
        answer = await this.answer(sel);
      } catch {
        // a selection this head cannot apply: no rows (the asking API checked it first)
      }
    }
    c.reply(p.requestId, {
      t: 'stateRows',
      rowsJson: JSON.stringify(answer.rows),
      unreachableJson: JSON.stringify(answer.unreachable ?? []),
      extraJson: JSON.stringify(answer.dropped),
    });
  }
}
