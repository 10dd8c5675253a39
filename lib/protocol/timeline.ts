// The timeline (Ray's `ray timeline`): recorded tasks as Chrome trace events, which
// Perfetto (ui.perfetto.dev) and Chrome DevTools' Performance panel open. Each node is a process, each worker
// process a thread (named by its pid), each run of a task a complete slice ('X'); an arrow
// (flow events 's' -> 'f') goes from where a task was submitted to where it ran.
// Built from task rows (task-events.ts) by the API and the CLI alike.
import type { TaskStateRow } from './task-events.js';

/** One event of the Chrome trace event format (the JSON array form). */
export interface TraceEvent {
  /** What it is named in the viewer. */
  name: string;
  /** Phase: 'X' a slice, 's'/'f' a flow's start and end, 'M' metadata. */
  ph: 'X' | 's' | 'f' | 'M';
  /** Its process (a node, numbered from 1). */
  pid: number;
  /** Its thread (a worker's or driver's process id). */
  tid: number;
  /** Start, in microseconds. */
  ts?: number;
  /** A slice's length, in microseconds. */
  dur?: number;
  /** Its category (a task's type; 'submit' for flows). */
  cat?: string;
  /** A flow's id (its start and end share it). */
  id?: number;
  /** A flow's end binds to the slice it points into. */
  bp?: 'e';
  /** What the viewer shows of it (a task's id, attempt, state, error; a name for metadata). */
  args?: Record<string, unknown>;
}

/** The tasks that ran (a start and an end), as trace events, oldest first. */
export function chromeTrace(rows: readonly TaskStateRow[]): TraceEvent[] {
  const nodes = new Map<string, number>();
  const threads = new Set<string>();
  const meta: TraceEvent[] = [];
  const nodeNumber = (nodeId: string): number => {
    let n = nodes.get(nodeId);
    if (n === undefined) {
      n = nodes.size + 1;
      nodes.set(nodeId, n);
      const name = nodeId === '' ? 'node (unknown)' : `node ${nodeId.slice(0, 12)}`;
      meta.push({ name: 'process_name', ph: 'M', pid: n, tid: 0, args: { name } });
    }
    return n;
  };
  const thread = (pid: number, tid: number, label: string): void => {
    const key = `${pid}:${tid}`;
    if (threads.has(key)) return;
    threads.add(key);
    meta.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: `${label} ${tid}` } });
  };
  const out: TraceEvent[] = [];
  let flowId = 0;
  const ran = rows
    .filter((r) => r.startTimeMs !== null && r.endTimeMs !== null && r.workerPid !== null)
    .sort((a, b) => (a.startTimeMs ?? 0) - (b.startTimeMs ?? 0));
  for (const r of ran) {
    const pid = nodeNumber(r.nodeId);
    const tid = r.workerPid ?? 0;
    thread(pid, tid, 'worker');
    const ts = micros(r.startTimeMs ?? 0);
    out.push({
      name: r.name,
      cat: r.type,
      ph: 'X',
      pid,
      tid,
      ts,
      dur: Math.max(0, micros(r.endTimeMs ?? 0) - ts),
      args: {
        taskId: r.taskId,
        attempt: r.attemptNumber,
        state: r.state,
        funcOrClassName: r.funcOrClassName,
        ...(r.actorId ? { actorId: r.actorId } : {}),
        ...(r.errorType ? { error: `${r.errorType}: ${r.errorMessage}` } : {}),
      },
    });
    if (r.ownerPid !== null && r.ownerNodeId !== '') {
      const from = nodeNumber(r.ownerNodeId);
      thread(from, r.ownerPid, 'process');
      flowId++;
      const flow = { name: 'submit', cat: 'submit', id: flowId } as const;
      out.push({ ...flow, ph: 's', pid: from, tid: r.ownerPid, ts: Math.min(micros(r.creationTimeMs), ts) });
      out.push({ ...flow, ph: 'f', bp: 'e', pid, tid, ts });
    }
  }
  return [...meta, ...out];
}

function micros(ms: number): number {
  return Math.round(ms * 1000);
}
