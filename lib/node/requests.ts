// The node's answers to its processes' requests (NodeRequests in worker/backend.ts):
// getActor, registerActor, kill, cancel, resources, pulls. A worker asks with Msg.Request
// on the completion ring and is answered with Msg.Reply in its inbox; the driver calls
// handle() directly. One handler per request kind, typed from NodeRequests, so what each
// takes and returns is checked where it is written.

import { type Reader, Writer } from '../base/codec.js';
import { InvalidArgumentError } from '../base/errors.js';
import { deserialize, serialize } from '../base/serialization.js';
import { errorRecord } from '../protocol/error-record.js';
import { type DriverJob, runningJobRow } from '../protocol/job.js';
import { type LogChunk, NO_LOG_FILE } from '../protocol/log-lines.js';
import { NODE_ID_LABEL } from '../protocol/node-labels.js';
import { nodeRow, type RowSelection, type TableNode } from '../protocol/state-rows.js';
import type { TaskStateRow } from '../protocol/task-events.js';
import { Msg } from '../protocol/worker-messages.js';
import { ObjectId, type ObjectStore } from '../store/index.js';
import type { NodeInfo, NodeRequests } from '../worker/backend.js';
import type { ActorManager } from './actor-manager.js';
import type { ClusterHooks, FetchOutcome } from './cluster-hooks.js';
import { type PlacementGroups, runGroupOp } from './placement-groups.js';
import type { LocalState } from './state-rows.js';
import type { TaskEventRecorder, TaskRef } from './task-events.js';
import type { WorkerSlot } from './worker-slot.js';

/** One handler per request kind, taking its arguments and giving its answer (a promise for those answered later). */
export type RequestHandlers = {
  [K in keyof NodeRequests]: (...args: Parameters<NodeRequests[K]>) => ReturnType<NodeRequests[K]>;
};

/** What the answers come from. */
export interface RequestTargets {
  readonly actors: Pick<
    ActorManager<WorkerSlot>,
    'getActor' | 'register' | 'actorState' | 'kill' | 'release' | 'exited'
  >;
  readonly store: ObjectStore;
  /** The cluster this node is part of, if any. */
  cluster(): ClusterHooks | undefined;
  cancelTask(taskId: Buffer, force: boolean, recursive: boolean): void;
  childrenCancelled(taskId: Buffer): void;
  /** The owner of a streaming task consumed `taken` of its items (task-streams.ts). */
  streamConsumed(taskId: Buffer, taken: number): void;
  /** This node's free resources (LocalTaskManager.available). */
  available(): Record<string, number>;
  /** This node's resources in all. */
  total(): Record<string, number>;
  readonly nodeId: string;
  /** This node's labels (as it was started with them). */
  readonly labels: Record<string, string>;
  /** The driver's job this node is embedded in (none for a daemon). */
  readonly driverJob: DriverJob | undefined;
  /** This node's rows of the state API. */
  readonly localState: Pick<LocalState, 'rows'>;
  /** This node's task records (the table of tasks when it is on its own), and its tasks now. */
  readonly taskEvents: Pick<TaskEventRecorder, 'table' | 'live'>;
  readonly tasks: { values(): Iterable<TaskRef> };
  /** The placement groups this node keeps when it is in no cluster (the head's answer otherwise). */
  readonly placementGroups: PlacementGroups;
}

/**
 * The node's handlers. Each takes its own copy of the ids it is given (from a worker they
 * arrive as Uint8Array views of the request). Resources are the whole cluster's in one.
 */
export function nodeRequestHandlers(node: RequestTargets): RequestHandlers {
  return {
    getActor: (name, namespace) => {
      const local = node.actors.getActor(name, namespace);
      const cluster = node.cluster();
      // Not here: it may live on another node of the cluster (async for drivers and workers alike).
      if (!local && cluster) return cluster.lookupNamed(name, namespace);
      return local;
    },
    killActor: (actorId, noRestart) => node.actors.kill(Buffer.from(actorId), noRestart),
    cancelTask: (taskId, force, recursive) => node.cancelTask(Buffer.from(taskId), force, recursive ?? true),
    childrenCancelled: (taskId) => node.childrenCancelled(Buffer.from(taskId)),
    streamConsumed: (taskId, taken) => node.streamConsumed(Buffer.from(taskId), taken),
    availableResources: () => node.cluster()?.clusterResources('available') ?? node.available(),
    clusterResources: () => node.cluster()?.clusterResources('total') ?? node.total(),
    nodes: () => {
      const cluster = node.cluster();
      return cluster ? cluster.nodes().map(nodeInfo) : [nodeInfo(selfNode(node))];
    },
    registerActor: (actorId, o, methods, className) =>
      node.actors.register(Buffer.from(actorId), o, methods, className),
    actorState: (actorId) => node.actors.actorState(Buffer.from(actorId)),
    memorySummary: () => node.store.stats(),
    releaseActor: (actorId) => node.actors.release(Buffer.from(actorId)),
    actorExited: (actorId) => node.actors.exited(Buffer.from(actorId)),
    logFiles: () => {
      const cluster = node.cluster();
      return cluster
        ? cluster.stateRows('logFiles')
        : { rows: node.localState.rows('logFiles') as unknown[], unreachable: [] };
    },
    readLog: (req) => {
      const cluster = node.cluster();
      if (req.nodeId === node.nodeId) {
        const [chunk] = node.localState.rows('logRead', JSON.stringify(req)) as LogChunk[];
        return chunk ?? NO_LOG_FILE;
      }
      // Another node's file: asked of it, or (no cluster) there is no such node.
      return cluster ? cluster.readLog(req) : NO_LOG_FILE;
    },
    // No cluster, no autoscaler: the request has nothing to ask (Ray's request_resources does the same).
    requestResources: (bundles) => node.cluster()?.requestResources(bundles),
    pullObject: (objectId, timeoutMs) => pullObject(node, Buffer.from(objectId), timeoutMs),
    placementGroup: (op) => node.cluster()?.placementGroupOp(op) ?? runGroupOp(node.placementGroups, op),
    listState: (kind, selection) => {
      const cluster = node.cluster();
      if (kind === 'tasks') {
        const sel = (selection ?? {}) as unknown as RowSelection<TaskStateRow>;
        // In a cluster the head's table answers (taskRows ships this node's records first).
        const answer = cluster
          ? cluster.taskRows(sel)
          : Promise.resolve(node.taskEvents.table(node.taskEvents.live(node.tasks.values()), sel));
        return answer.then((a) => ({ rows: a.rows, unreachable: a.unreachable ?? [], dropped: a.dropped }));
      }
      if (kind === 'jobs') {
        const own = node.driverJob ? [runningJobRow(node.driverJob, node.nodeId)] : [];
        return cluster
          ? cluster.jobRows().then((rows) => ({ rows, unreachable: [] }))
          : { rows: own, unreachable: [] };
      }
      if (kind === 'placementGroups') {
        const op = { op: 'table' } as const;
        const rows = cluster ? cluster.placementGroupOp(op) : runGroupOp(node.placementGroups, op);
        return rows.then((r) => ({ rows: r as unknown[], unreachable: [] }));
      }
      if (kind === 'nodes') {
        return { rows: (cluster ? cluster.nodes() : [selfNode(node)]).map(nodeRow), unreachable: [] };
      }
      if (kind !== 'actors' && kind !== 'workers' && kind !== 'objects')
        throw new InvalidArgumentError(`no state kind ${String(kind)}`);
      if (cluster) return cluster.stateRows(kind);
      const rows = node.localState.rows(kind);
      return rows instanceof Promise
        ? rows.then((r) => ({ rows: r, unreachable: [] }))
        : { rows, unreachable: [] };
    },
  };
}

/** A node table entry as the public API gives it (copies: the caller may keep and change it). */
/** This node as the cluster's table would list it (a node on its own: no cluster). */
function selfNode(node: RequestTargets): TableNode {
  const self = { nodeId: node.nodeId, address: '', alive: true, isHead: true, isDriver: false };
  return { ...self, total: node.total(), labels: node.labels };
}

function nodeInfo(n: TableNode): NodeInfo {
  return {
    nodeId: n.nodeId,
    address: n.address,
    alive: n.alive,
    isHead: n.isHead,
    isDriver: n.isDriver,
    resources: { ...n.total },
    labels: { ...n.labels, [NODE_ID_LABEL]: n.nodeId },
  };
}

/**
 * Makes an object readable in this node's store: waits for it here, or (in a
 * cluster) pulls it from its owner's node. Resolves 'lost' when no copy can be had.
 */
function pullObject(
  node: RequestTargets,
  objectId: Buffer,
  timeoutMs: number | undefined,
): Promise<FetchOutcome> {
  const oid = ObjectId.fromBytes(objectId);
  if (node.store.contains(oid)) return Promise.resolve('ok');
  const cluster = node.cluster();
  if (cluster) return cluster.fetch(objectId, timeoutMs);
  return node.store.get([oid], timeoutMs === undefined ? {} : { timeout: timeoutMs }).then(([o]) => {
    o?.release();
    return o ? 'ok' : 'timeout';
  });
}

/** Answers requests from the node's processes (Msg.Request) and the driver, one typed handler each. */
export class RequestServer {
  constructor(
    private readonly handlers: RequestHandlers,
    /** The worker of an index, while it runs (answers to a worker that exited are dropped). */
    private readonly workerOf: (index: number) => WorkerSlot | undefined,
  ) {}

  /** Answers one request (the driver's, in this process). */
  handle<K extends keyof NodeRequests>(
    kind: K,
    args: Parameters<NodeRequests[K]>,
  ): ReturnType<NodeRequests[K]> {
    const handler: RequestHandlers[K] | undefined = Object.hasOwn(this.handlers, kind)
      ? this.handlers[kind]
      : undefined;
    if (!handler) throw new InvalidArgumentError(`unknown node request '${String(kind)}'`);
    return handler(...args);
  }

  /**
   * Msg.Request from a worker: u32 its index, u32 request id, str kind, bytes the serialized
   * arguments. Answered with Msg.Reply (some requests, such as pullObject, answer later).
   */
  onFrame(r: Reader): void {
    const index = r.u32();
    const reqId = r.u32();
    const kind = r.str();
    const args = deserialize(r.bytes());
    const send = (reply: Buffer) => {
      const w = this.workerOf(index);
      if (!w) return;
      const f = new Writer(32 + reply.length).u8(Msg.Reply).u32(reqId).bytes(reply);
      w.send(Buffer.from(f.finish()));
    };
    const fail = (err: Error) =>
      send(serialize({ ok: false, error: errorRecord(err), message: err.message }));
    try {
      if (!isRequestKind(kind, this.handlers) || !Array.isArray(args)) {
        throw new InvalidArgumentError(`unknown node request '${kind}'`);
      }
      // What a worker sent is checked by its handler's own use of it, as the driver's is.
      const value: unknown = this.handle(kind, args as Parameters<NodeRequests[typeof kind]>);
      if (value instanceof Promise) value.then((v) => send(serialize({ ok: true, value: v })), fail);
      else send(serialize({ ok: true, value }));
    } catch (err) {
      fail(err as Error);
    }
  }
}

function isRequestKind(kind: string, handlers: RequestHandlers): kind is keyof NodeRequests {
  return Object.hasOwn(handlers, kind);
}
