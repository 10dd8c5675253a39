// Fakes for the unit tests of lib/cluster's parts: a node manager (LocalNode) that
// records what it is asked, connections that record what is sent and let the test
// answer requests, and builders for specs, node records and ids. No processes, no
// sockets, no shared memory.

import type { LoadSnapshot, LocalNode } from '../../../lib/cluster/local-node.js';
import type { Message, NodeInfoMsg, Parsed } from '../../../lib/cluster/messages.js';
import type { PeerConn, PeerLinks } from '../../../lib/cluster/peers.js';
import type { LocalBundles } from '../../../lib/node/local-bundles.js';
import type { HandedOver } from '../../../lib/node/local-task-manager.js';
import type { NodeStats } from '../../../lib/node/node-stats.js';
import type { OwnerKind, ResultSink } from '../../../lib/node/owner-router.js';
import type { PlacementGroups } from '../../../lib/node/placement-groups.js';
import { TaskEventRecorder } from '../../../lib/node/task-events.js';
import type { LogLine } from '../../../lib/protocol/log-lines.js';
import { encodeArgs, type FunctionDef, NO_DEF, TaskKind, type TaskSpec } from '../../../lib/protocol/spec.js';
import type { ObjectStore } from '../../../lib/store/index.js';

/** A node id (32 hex digits) whose first byte is b: object ids built by objectOf start the same way. */
export function nodeIdOf(b: number): string {
  return Buffer.alloc(16, b).toString('hex');
}

/** An object id owned by a process of nodeId (an owner id starts with its node's first 6 bytes). */
export function objectOf(nodeId: string, index = 1): Buffer {
  const id = Buffer.alloc(28, 0x11);
  Buffer.from(nodeId, 'hex').copy(id, 0, 0, 6);
  id.writeUInt32LE(index, 24);
  return id;
}

let nextTask = 1;

/** A spec of the given kind with a fresh task id; fields may be overridden. */
export function specOf(kind: TaskKind, o: Partial<TaskSpec> = {}): TaskSpec {
  const taskId = Buffer.alloc(24);
  taskId.writeUInt32LE(nextTask++, 20);
  return {
    kind,
    taskId,
    fnId: 'f',
    name: `t${nextTask}`,
    numReturns: 1,
    args: encodeArgs([]),
    demand: { CPU: 1 },
    maxRetries: 0,
    retryExceptions: false,
    actorId: Buffer.alloc(16, 7),
    method: '',
    maxConcurrency: 1,
    strategy: '',
    retryOn: '',
    concurrencyGroup: '',
    stream: '',
    job: '',
    runtimeEnv: '',
    ...o,
  };
}

/** The id of return i of a task. */
export function returnOf(spec: TaskSpec, i = 0): Buffer {
  const id = Buffer.alloc(28);
  spec.taskId.copy(id, 0);
  id.writeUInt32LE(i + 1, 24);
  return id;
}

export function nodeInfo(
  nodeId: string,
  alive = true,
  address = `10.0.0.1:${nodeId.slice(0, 4)}`,
): NodeInfoMsg {
  return {
    nodeId,
    address,
    total: { CPU: 2 },
    available: { CPU: 2 },
    load: {},
    alive,
    isHead: false,
    labels: {},
    isDriver: false,
    jobId: '',
    pendingTasks: 0,
    infeasible: {},
    storeCapacity: 1 << 20,
    pendingActors: 0,
    actorsAwaitingProcess: 0,
    idleMs: 0,
    waitingActors: {},
  };
}

/**
 * An owner as the node manager's ResultSink: the cluster parts only pass it around and
 * hand it back (to submit, deliver, notifyFailed), so it records nothing itself.
 */
export function sinkOf(name: string, kind: OwnerKind = 'worker'): ResultSink & { name: string } {
  return {
    name,
    kind,
    workerIndex: -1,
    returned: () => {},
    deliver: () => {},
    failed: () => {},
    ownerDied: () => {},
  };
}

/** A node manager that records what the cluster asks of it. */
export class FakeLocal implements LocalNode {
  readonly store = {
    contains: () => false,
    delete: () => {},
  } as unknown as ObjectStore;
  readonly pool = { total: () => ({ CPU: 2 }), available: () => ({ CPU: 2 }) };
  readonly opts = { objectStoreMemory: 1 << 20 };
  /** No part under test here reaches placement groups. */
  readonly placementGroups = {} as PlacementGroups;
  readonly bundles = {} as LocalBundles;
  /** One row per kind, naming this node (the state API's gathering is checked with them). */
  readonly localState = { rows: (kind: string) => [{ kind, nodeId: this.nodeId }] };
  readonly remoteOwner = sinkOf('remote', 'remote');
  /** Lines other nodes sent for this node's driver. */
  readonly printed: Array<{ lines: LogLine[]; nodeId: string }> = [];
  readonly logs = { fromNode: (lines: LogLine[], nodeId: string) => this.printed.push({ lines, nodeId }) };
  readonly taskEvents: TaskEventRecorder;
  cluster = undefined;
  readonly submitted: Array<{ spec: TaskSpec; def: FunctionDef; owner: ResultSink }> = [];
  readonly failed: Array<{ spec: TaskSpec; owner: ResultSink; err: Error }> = [];
  readonly delivered: Array<{ owner: ResultSink; objectId: Buffer; payload: Buffer | undefined }> = [];
  readonly deadOwners: string[] = [];
  readonly toldOwnerDied: Array<{ to: ResultSink; ownerHex: string }> = [];
  /** Queued tasks this node cannot run (takeInfeasible hands them out). */
  infeasible: HandedOver[] = [];
  /** What submit does besides recording (the real one may forward again through the cluster). */
  onSubmit: ((spec: TaskSpec, def: FunctionDef, owner: ResultSink) => void) | undefined;

  constructor(readonly nodeId: string) {
    this.taskEvents = new TaskEventRecorder(nodeId, true, 100, () => undefined);
  }

  loadSnapshot(): LoadSnapshot {
    return {
      available: { CPU: 2 },
      load: {},
      pending: 0,
      infeasible: {},
      pendingActors: 0,
      actorsAwaitingProcess: 0,
      waitingActors: {},
    };
  }
  stats(): NodeStats {
    const z = { workers: 0, idle: 0, queued: 0, running: 1, actors: 0, pendingActors: 0 };
    return { ...z, directChannels: 0, sharedHosts: 0 };
  }
  takeInfeasible(room?: (demand: Record<string, number>) => boolean) {
    const n = this.infeasible.findIndex((t) => room !== undefined && !room(t.spec.demand));
    return this.infeasible.splice(0, n < 0 ? this.infeasible.length : n);
  }
  submit(spec: TaskSpec, def: FunctionDef, owner: ResultSink): void {
    this.submitted.push({ spec, def, owner });
    this.onSubmit?.(spec, def, owner);
  }
  notifyFailed(spec: TaskSpec, owner: ResultSink, err: Error): void {
    this.failed.push({ spec, owner, err });
  }
  deliver(owner: ResultSink, objectId: Buffer, _s: unknown, _k: unknown, payload: Buffer | undefined): void {
    this.delivered.push({ owner, objectId, payload });
  }
  readonly cancelled: Array<{ taskId: Buffer; force: boolean; recursive: boolean }> = [];
  readonly consumed: Array<{ taskId: Buffer; consumed: number }> = [];
  cancelTask(taskId: Buffer, force: boolean, recursive: boolean): void {
    this.cancelled.push({ taskId, force, recursive });
  }
  streamConsumed(taskId: Buffer, consumed: number): void {
    this.consumed.push({ taskId, consumed });
  }
  killActor(): void {}
  releaseActor(): void {}
  routeRemoteRefOps(): string[] {
    return [];
  }
  ownersDied(prefix: string): void {
    this.deadOwners.push(prefix);
  }
  tellOwnerDied(to: ResultSink, ownerHex: string): void {
    this.toldOwnerDied.push({ to, ownerHex });
  }
}

/** A connection that records what is sent; requests wait until the test answers them. */
export class FakeConn implements PeerConn {
  readonly sent: Message[] = [];
  readonly requests: Array<{ m: Message; cb: (p: Parsed | Error) => void }> = [];
  open = true;
  constructor(readonly peerId: string) {}
  get closed(): boolean {
    return !this.open;
  }
  send(m: Message): boolean {
    if (!this.open) return false;
    this.sent.push(m);
    return true;
  }
  requestCb(m: Message, cb: (p: Parsed | Error) => void): void {
    this.requests.push({ m, cb });
  }
  /** Answers the oldest open request. */
  answer(msg: Message): void {
    const r = this.requests.shift();
    if (!r) throw new Error(`no request waits on the fake connection to ${this.peerId}`);
    r.cb({ requestId: 0n, msg });
  }
}

/** Connections by node; nodes in `unreachable` cannot be dialed. */
export class FakePeers implements PeerLinks {
  readonly conns = new Map<string, FakeConn>();
  readonly unreachable = new Set<string>();
  conn(nodeId: string): FakeConn {
    let c = this.conns.get(nodeId);
    if (!c) this.conns.set(nodeId, (c = new FakeConn(nodeId)));
    return c;
  }
  peer(nodeId: string): Promise<PeerConn> {
    if (this.unreachable.has(nodeId)) return Promise.reject(new Error(`node ${nodeId} is not alive`));
    return Promise.resolve(this.conn(nodeId));
  }
  connected(nodeId: string): PeerConn | undefined {
    return this.conns.get(nodeId);
  }
}

/** Lets promise callbacks queued so far run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export { NO_DEF, TaskKind };
