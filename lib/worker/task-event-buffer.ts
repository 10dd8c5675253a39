// Task records only a process can make (protocol/task-events.ts): an owner's task that waits
// for its arguments before it is submitted (PENDING_ARGS_AVAIL), and the actor calls that
// came straight from their caller over a direct channel, which the node never sees (those,
// maybe 100,000 a second, written in binary as they end: Msg.DirectCallsRan). Both are
// batched and sent to the node once a second, which keeps them with its own.

import { Writer } from '../base/codec.js';
import type { TaskKind } from '../protocol/spec.js';
import { describeTask, eventTime, type TaskRecord } from '../protocol/task-events.js';
import { DirectCallsBatch } from '../protocol/worker-messages.js';

/** How often a process sends its batch (ms). */
const SEND_INTERVAL_MS = 1000;
/** Records a process holds before it sends them, timer or not. */
const BATCH = 10_000;

/** What a task waiting for its arguments is, before it has a spec. */
export interface WaitingTask {
  taskKey: string;
  name: string;
  kind: TaskKind;
  actorId: Buffer;
  job: string;
  demand: Record<string, number>;
}

/** A process's own task records, sent to its node in batches. */
export class TaskEventBuffer {
  private records: TaskRecord[] = [];
  /** Direct calls that ran, in Msg.DirectCallsRan's columns (made at the first). */
  private direct: DirectCallsBatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Whether events are recorded at all (the node's taskEvents option, told at start). */
  enabled = true;

  constructor(
    /** Sends a batch to the node. */
    private readonly send: (records: TaskRecord[]) => void,
    /** Sends a batch of direct calls that ran (Msg.DirectCallsRan's body: a worker's only). */
    private readonly sendDirect: ((body: Buffer) => void) | undefined,
  ) {}

  /** A task of ours waits for ref arguments to be ready before it is submitted. */
  waitingForArgs(t: WaitingTask): void {
    if (!this.enabled) return;
    this.push({
      taskId: Buffer.from(t.taskKey, 'latin1').toString('hex'),
      attempt: 0,
      state: 'PENDING_ARGS_AVAIL',
      waitingAt: eventTime(),
      ownerPid: process.pid,
      desc: describeTask(t),
    });
  }

  /**
   * An actor call that came over a direct channel ran here from startedAt to now (0: it was
   * refused without running); error: the encoded error record it failed with.
   */
  ranDirect(
    taskKey: string,
    actorId: Uint8Array,
    name: string,
    startedAt: number,
    error: Uint8Array | undefined,
    caller: number,
  ): void {
    if (!this.enabled || !this.sendDirect) return;
    this.direct ??= new DirectCallsBatch(BATCH);
    this.direct.add(taskKey, actorId, name, startedAt, eventTime(), error, caller);
    if (this.direct.full) this.flush();
    else this.arm();
  }

  private push(r: TaskRecord): void {
    this.records.push(r);
    if (this.records.length >= BATCH) this.flush();
    else this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, SEND_INTERVAL_MS);
    this.timer.unref();
  }

  /** Sends what is held now (before the process exits, or when the state API asks). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const direct = this.direct;
    if (direct && direct.count > 0 && this.sendDirect) {
      this.direct = undefined;
      const w = new Writer(64 + direct.count * 64);
      direct.write(w);
      this.sendDirect(Buffer.from(w.finish()));
    }
    if (this.records.length === 0) return;
    const batch = this.records;
    this.records = [];
    this.send(batch);
  }
}
