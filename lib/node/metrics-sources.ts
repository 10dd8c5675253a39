// Where a node's metrics (metrics.ts) are read from when scraped: its task table, actor
// manager, worker pool, store and cluster link; and the frames its processes send of what
// only they see (task records, direct calls that ran, programs' metrics). Functions, so
// that node-manager.ts only hands its parts over.
import type { Reader } from '../base/codec.js';
import type { TaskRecord } from '../protocol/task-events.js';
import type { UserMetricUpdate } from '../protocol/user-metrics.js';
import { Msg } from '../protocol/worker-messages.js';
import type { ObjectStore } from '../store/index.js';
import type { ActorManager } from './actor-manager.js';
import type { ClusterHooks } from './cluster-hooks.js';
import type { MetricsSources, NodeMetrics } from './metrics.js';
import type { TaskEventRecorder, TaskRef } from './task-events.js';
import type { WorkerSlot } from './worker-slot.js';

/** What a node's workers are looked up in (by index). */
interface Workers {
  values(): Iterable<WorkerSlot>;
  get(index: number): WorkerSlot | undefined;
}

/** The sources of a node's metrics, from its parts. */
export function metricsSources(parts: {
  nodeId: string;
  tasks: { values(): Iterable<TaskRef> };
  recorder: TaskEventRecorder;
  actors: Pick<ActorManager<WorkerSlot>, 'stateRows'>;
  workers: Workers;
  store: ObjectStore;
  cluster: () => ClusterHooks | undefined;
}): MetricsSources {
  const count = <T>(items: Iterable<T>, key: (x: T) => string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const x of items) {
      const k = key(x);
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  };
  return {
    nodeId: parts.nodeId,
    liveTasks: () =>
      count(parts.tasks.values(), (t) =>
        Number.isNaN(t.sentAt)
          ? 'PENDING_NODE_ASSIGNMENT'
          : Number.isNaN(t.runningAt)
            ? 'SUBMITTED_TO_WORKER'
            : 'RUNNING',
      ),
    taskTotals: () => parts.recorder.totals,
    actors: () => count(parts.actors.stateRows(parts.nodeId), (a) => a.state),
    workers: () => count(parts.workers.values(), (w) => w.state.toUpperCase()),
    store: () => {
      try {
        return parts.store.stats();
      } catch {
        return undefined; // closed
      }
    },
    transfers: () => parts.cluster()?.transfers(),
  };
}

/**
 * Handles Msg.UserMetrics, Msg.TaskEvents and Msg.DirectCallsRan (after their type byte);
 * and has the recorder tell the metrics how long each ended attempt waited and ran.
 */
export function observedFrames(parts: {
  recorder: TaskEventRecorder;
  metrics: NodeMetrics;
  workers: Workers;
  actors: Pick<ActorManager<WorkerSlot>, 'jobOf'>;
}): (r: Reader, type: number) => void {
  const { recorder, metrics, workers, actors } = parts;
  recorder.onEnded = (waited, ran) => metrics.taskEnded(waited, ran);
  return (r, type) => {
    const w = workers.get(r.u32());
    if (type === Msg.UserMetrics) metrics.applyUser(JSON.parse(r.str()) as UserMetricUpdate[]);
    else if (type === Msg.TaskEvents) recorder.fromProcess(JSON.parse(r.str()) as TaskRecord[]);
    else if (w)
      recorder.directCalls(
        r,
        w,
        (i) => workers.get(i)?.pid,
        (hex) => actors.jobOf(hex),
      );
  };
}
