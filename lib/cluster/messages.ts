// Every node-to-node message as a plain object, and its flatbuffers form
// (schema/wire.fbs). parseFrame turns any malformed input into a FrameError:
// the flatbuffers accessors trust offsets, so every read runs inside one try
// and vector lengths are checked against the frame size before any loop.
import * as flatbuffers from 'flatbuffers';
import { readDriverJob } from '../protocol/job.js';
import { decodeFrame, FrameError, withLength } from './frame.js';
import {
  Body,
  CancelTask,
  Challenge,
  ErrorReply,
  Event,
  Frame,
  FreeObject,
  GroupOp,
  GroupReply,
  Heartbeat,
  Hello,
  KillActor,
  KvDelete,
  KvGet,
  KvPut,
  KvReply,
  LeaveNode,
  LogLines,
  NodeInfo,
  NodeTable,
  ObjectChunk,
  OwnersDied,
  Proof,
  PullObject,
  RefOps,
  RefOpsAck,
  RegisterNode,
  ReleaseActor,
  Resource,
  StateQuery,
  StateRows,
  StatusRequest,
  StreamConsumed,
  SubmitTask,
  TaskEvents,
  TaskResult,
} from './generated/wire_generated.js';
import type { Message, NodeInfoMsg, Parsed, Resources } from './message-types.js';

export {
  ErrorCode,
  type Message,
  type NodeInfoMsg,
  type Parsed,
  type Resources,
} from './message-types.js';

const FIXED = 10_000; // resources travel as fixed point, 1/10000 units

// ---------------------------------------------------------------- encode

function bytes(b: flatbuffers.Builder, v: Uint8Array): number {
  return b.createByteVector(v);
}

function resources(b: flatbuffers.Builder, r: Resources): number {
  const offs = Object.entries(r).map(([k, v]) =>
    Resource.createResource(b, b.createString(k), BigInt(Math.round(v * FIXED))),
  );
  return vectorOfOffsets(b, offs);
}

function vectorOfOffsets(b: flatbuffers.Builder, offs: number[]): number {
  b.startVector(4, offs.length, 4);
  for (let i = offs.length - 1; i >= 0; i--) b.addOffset(offs[i] as number); // i is in bounds
  return b.endVector();
}

function hexBytes(b: flatbuffers.Builder, hex: string): number {
  return bytes(b, Buffer.from(hex, 'hex'));
}

function body(b: flatbuffers.Builder, m: Message): [Body, number] {
  switch (m.t) {
    case 'hello':
      return [Body.Hello, Hello.createHello(b, m.version, bytes(b, m.nodeId), bytes(b, m.nonce))];
    case 'challenge':
      return [Body.Challenge, Challenge.createChallenge(b, m.version, bytes(b, m.nonce))];
    case 'proof':
      return [Body.Proof, Proof.createProof(b, bytes(b, m.proof), bytes(b, m.nodeId))];
    case 'register':
      return [
        Body.RegisterNode,
        RegisterNode.createRegisterNode(
          b,
          hexBytes(b, m.nodeId),
          b.createString(m.address),
          resources(b, m.resources),
          BigInt(m.storeCapacity),
          m.isDriver,
          b.createString(JSON.stringify(m.labels)),
          b.createString(m.job ? JSON.stringify(m.job) : ''),
        ),
      ];
    case 'heartbeat':
      return [
        Body.Heartbeat,
        Heartbeat.createHeartbeat(
          b,
          hexBytes(b, m.nodeId),
          resources(b, m.available),
          m.pendingTasks,
          resources(b, m.load),
          b.createString(JSON.stringify(m.infeasible)),
          m.pendingActors,
          m.actorsAwaitingProcess,
          BigInt(Math.max(0, Math.round(m.idleMs))),
          b.createString(JSON.stringify(m.waitingActors)),
        ),
      ];
    case 'leave':
      return [Body.LeaveNode, LeaveNode.createLeaveNode(b, hexBytes(b, m.nodeId), m.exitCode)];
    case 'nodeTable': {
      const nodes = m.nodes.map((n) =>
        NodeInfo.createNodeInfo(
          b,
          hexBytes(b, n.nodeId),
          b.createString(n.address),
          resources(b, n.total),
          resources(b, n.available),
          resources(b, n.load),
          n.alive,
          n.isHead,
          n.isDriver,
          n.pendingTasks,
          b.createString(JSON.stringify(n.infeasible)),
          BigInt(n.storeCapacity),
          n.pendingActors,
          b.createString(JSON.stringify(n.labels)),
          n.actorsAwaitingProcess,
          b.createString(n.jobId),
          BigInt(Math.max(0, Math.round(n.idleMs))),
          b.createString(JSON.stringify(n.waitingActors)),
        ),
      );
      return [Body.NodeTable, NodeTable.createNodeTable(b, vectorOfOffsets(b, nodes), m.heartbeatTimeoutMs)];
    }
    case 'status':
      return [Body.StatusRequest, StatusRequest.createStatusRequest(b)];
    case 'kvPut':
      return [
        Body.KvPut,
        KvPut.createKvPut(
          b,
          b.createString(m.namespace),
          b.createString(m.key),
          bytes(b, m.value),
          m.overwrite,
        ),
      ];
    case 'kvGet':
      return [Body.KvGet, KvGet.createKvGet(b, b.createString(m.namespace), b.createString(m.key))];
    case 'kvReply':
      return [Body.KvReply, KvReply.createKvReply(b, m.found, bytes(b, m.value))];
    case 'submit':
      return [
        Body.SubmitTask,
        SubmitTask.createSubmitTask(b, hexBytes(b, m.origin), bytes(b, m.spec), bytes(b, m.def)),
      ];
    case 'result':
      return [
        Body.TaskResult,
        TaskResult.createTaskResult(b, bytes(b, m.objectId), m.status, m.kind, bytes(b, m.payload)),
      ];
    case 'cancel':
      return [Body.CancelTask, CancelTask.createCancelTask(b, bytes(b, m.taskId), m.force, m.recursive)];
    case 'streamConsumed':
      return [Body.StreamConsumed, StreamConsumed.createStreamConsumed(b, bytes(b, m.taskId), m.consumed)];
    case 'event':
      return [Body.Event, Event.createEvent(b, b.createString(m.name), b.createString(m.payloadJson))];
    case 'stateQuery':
      return [
        Body.StateQuery,
        StateQuery.createStateQuery(
          b,
          b.createString(m.kind),
          m.cluster,
          b.createString(m.selectionJson ?? ''),
        ),
      ];
    case 'stateRows':
      return [
        Body.StateRows,
        StateRows.createStateRows(
          b,
          b.createString(m.rowsJson),
          b.createString(m.unreachableJson),
          b.createString(m.extraJson ?? ''),
        ),
      ];
    case 'taskEvents':
      return [Body.TaskEvents, TaskEvents.createTaskEvents(b, b.createString(m.eventsJson), m.dropped)];
    case 'groupOp':
      return [Body.GroupOp, GroupOp.createGroupOp(b, b.createString(m.bodyJson))];
    case 'groupReply':
      return [Body.GroupReply, GroupReply.createGroupReply(b, b.createString(m.bodyJson))];
    case 'logLines':
      return [Body.LogLines, LogLines.createLogLines(b, b.createString(m.linesJson), m.dropped)];
    case 'killActor':
      return [Body.KillActor, KillActor.createKillActor(b, bytes(b, m.actorId), m.noRestart)];
    case 'releaseActor':
      return [Body.ReleaseActor, ReleaseActor.createReleaseActor(b, bytes(b, m.actorId))];
    case 'kvDelete':
      return [
        Body.KvDelete,
        KvDelete.createKvDelete(b, b.createString(m.namespace), b.createString(m.key), bytes(b, m.ifValue)),
      ];
    case 'free':
      return [Body.FreeObject, FreeObject.createFreeObject(b, bytes(b, m.objectId))];
    case 'pull':
      return [
        Body.PullObject,
        PullObject.createPullObject(b, bytes(b, m.objectId), m.chunkIndex, m.chunkSize, m.waitMs),
      ];
    case 'chunk':
      return [
        Body.ObjectChunk,
        ObjectChunk.createObjectChunk(
          b,
          bytes(b, m.objectId),
          m.chunkIndex,
          BigInt(m.totalSize),
          m.metadataSize,
          m.dataSize,
          bytes(b, m.metadata),
        ),
      ];
    case 'error':
      return [Body.ErrorReply, ErrorReply.createErrorReply(b, m.code, b.createString(m.message))];
    case 'refOps':
      return [Body.RefOps, RefOps.createRefOps(b, bytes(b, m.ops))];
    case 'refOpsAck':
      return [Body.RefOpsAck, RefOpsAck.createRefOpsAck(b, bytes(b, m.deadOwners))];
    case 'ownersDied':
      return [Body.OwnersDied, OwnersDied.createOwnersDied(b, bytes(b, m.ownerIds))];
  }
}

/** One message as a length-prefixed frame, ready to write. */
export function encodeMessage(m: Message, requestId = 0n): Buffer {
  const b = new flatbuffers.Builder(256);
  const [type, off] = body(b, m);
  b.finish(Frame.createFrame(b, requestId, type, off));
  return withLength(b.asUint8Array());
}

// ---------------------------------------------------------------- decode

/** Frame decoding with every read checked: the caller gets a message or a FrameError. */
export function parseFrame(frameBody: Uint8Array): Parsed {
  const frame = decodeFrame(frameBody);
  try {
    return { requestId: frame.requestId(), msg: readBody(frame, frameBody.length) };
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError(`malformed frame: ${(err as Error).message}`);
  }
}

function buf(a: Uint8Array | null): Buffer {
  return a ? Buffer.from(a) : Buffer.alloc(0);
}

function hex(a: Uint8Array | null): string {
  return buf(a).toString('hex');
}

function checkLen(n: number, limit: number, what: string): number {
  if (n < 0 || n * 4 > limit) throw new FrameError(`${what}: ${n} entries cannot fit in the frame`);
  return n;
}

function readResources(
  len: number,
  at: (i: number, r: Resource) => Resource | null,
  limit: number,
): Resources {
  const out: Resources = {};
  checkLen(len, limit, 'resources');
  for (let i = 0; i < len; i++) {
    const r = at(i, new Resource());
    if (!r) throw new FrameError('a resource entry is missing');
    const name = r.name();
    if (!name) throw new FrameError('a resource entry has no name');
    out[name] = Number(r.amount()) / FIXED;
  }
  return out;
}

function readJson(s: string | null): Record<string, number> {
  if (!s) return {};
  const v = JSON.parse(s) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FrameError('expected a JSON object');
  return v as Record<string, number>;
}

/** A labels object (string values only) from its JSON. */
function readLabels(s: string | null): Record<string, string> {
  if (!s) return {};
  const v = JSON.parse(s) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FrameError('expected a JSON object');
  for (const x of Object.values(v))
    if (typeof x !== 'string') throw new FrameError('a label is not a string');
  return v as Record<string, string>;
}

function readNodeInfo(n: NodeInfo, limit: number): NodeInfoMsg {
  return {
    nodeId: hex(n.nodeIdArray()),
    address: n.address() ?? '',
    total: readResources(n.totalLength(), (i, r) => n.total(i, r), limit),
    available: readResources(n.availableLength(), (i, r) => n.available(i, r), limit),
    load: readResources(n.loadLength(), (i, r) => n.load(i, r), limit),
    alive: n.alive(),
    isHead: n.isHead(),
    isDriver: n.isDriver(),
    pendingTasks: n.pendingTasks(),
    infeasible: readJson(n.infeasibleJson()),
    storeCapacity: Number(n.storeCapacity()),
    pendingActors: n.pendingActors(),
    actorsAwaitingProcess: n.actorsAwaitingProcess(),
    labels: readLabels(n.labelsJson()),
    jobId: n.jobId() ?? '',
    idleMs: Number(n.idleMs()),
    waitingActors: readJson(n.waitingActorsJson()),
  };
}

function readBody(f: Frame, limit: number): Message {
  switch (f.bodyType()) {
    case Body.Hello: {
      const m = f.body(new Hello()) as Hello;
      return { t: 'hello', version: m.version(), nodeId: buf(m.nodeIdArray()), nonce: buf(m.nonceArray()) };
    }
    case Body.Challenge: {
      const m = f.body(new Challenge()) as Challenge;
      return { t: 'challenge', version: m.version(), nonce: buf(m.nonceArray()) };
    }
    case Body.Proof: {
      const m = f.body(new Proof()) as Proof;
      return { t: 'proof', proof: buf(m.proofArray()), nodeId: buf(m.nodeIdArray()) };
    }
    case Body.RegisterNode: {
      const m = f.body(new RegisterNode()) as RegisterNode;
      const job = readDriverJob(m.jobJson());
      return {
        t: 'register',
        nodeId: hex(m.nodeIdArray()),
        address: m.address() ?? '',
        resources: readResources(m.resourcesLength(), (i, r) => m.resources(i, r), limit),
        storeCapacity: Number(m.storeCapacity()),
        isDriver: m.isDriver(),
        labels: readLabels(m.labelsJson()),
        ...(job ? { job } : {}),
      };
    }
    case Body.Heartbeat: {
      const m = f.body(new Heartbeat()) as Heartbeat;
      return {
        t: 'heartbeat',
        nodeId: hex(m.nodeIdArray()),
        available: readResources(m.availableLength(), (i, r) => m.available(i, r), limit),
        load: readResources(m.loadLength(), (i, r) => m.load(i, r), limit),
        pendingTasks: m.pendingTasks(),
        infeasible: readJson(m.infeasibleJson()),
        pendingActors: m.pendingActors(),
        actorsAwaitingProcess: m.actorsAwaitingProcess(),
        idleMs: Number(m.idleMs()),
        waitingActors: readJson(m.waitingActorsJson()),
      };
    }
    case Body.LeaveNode: {
      const m = f.body(new LeaveNode()) as LeaveNode;
      return { t: 'leave', nodeId: hex(m.nodeIdArray()), exitCode: m.exitCode() };
    }
    case Body.NodeTable: {
      const m = f.body(new NodeTable()) as NodeTable;
      const n = checkLen(m.nodesLength(), limit, 'nodes');
      const nodes: NodeInfoMsg[] = [];
      for (let i = 0; i < n; i++) {
        const info = m.nodes(i, new NodeInfo());
        if (!info) throw new FrameError('a node entry is missing');
        nodes.push(readNodeInfo(info, limit));
      }
      return { t: 'nodeTable', nodes, heartbeatTimeoutMs: m.heartbeatTimeoutMs() };
    }
    case Body.StatusRequest:
      return { t: 'status' };
    case Body.KvPut: {
      const m = f.body(new KvPut()) as KvPut;
      return {
        t: 'kvPut',
        namespace: m.namespace() ?? '',
        key: m.key() ?? '',
        value: buf(m.valueArray()),
        overwrite: m.overwrite(),
      };
    }
    case Body.KvGet: {
      const m = f.body(new KvGet()) as KvGet;
      return { t: 'kvGet', namespace: m.namespace() ?? '', key: m.key() ?? '' };
    }
    case Body.KvReply: {
      const m = f.body(new KvReply()) as KvReply;
      return { t: 'kvReply', found: m.found(), value: buf(m.valueArray()) };
    }
    case Body.SubmitTask: {
      const m = f.body(new SubmitTask()) as SubmitTask;
      return { t: 'submit', origin: hex(m.originArray()), spec: buf(m.specArray()), def: buf(m.defArray()) };
    }
    case Body.TaskResult: {
      const m = f.body(new TaskResult()) as TaskResult;
      return {
        t: 'result',
        objectId: buf(m.objectIdArray()),
        status: m.status(),
        kind: m.kind(),
        payload: buf(m.payloadArray()),
      };
    }
    case Body.CancelTask: {
      const m = f.body(new CancelTask()) as CancelTask;
      return { t: 'cancel', taskId: buf(m.taskIdArray()), force: m.force(), recursive: m.recursive() };
    }
    case Body.StreamConsumed: {
      const m = f.body(new StreamConsumed()) as StreamConsumed;
      return { t: 'streamConsumed', taskId: buf(m.taskIdArray()), consumed: m.consumed() };
    }
    case Body.Event: {
      const m = f.body(new Event()) as Event;
      return { t: 'event', name: m.name() ?? '', payloadJson: m.payloadJson() ?? '' };
    }
    case Body.StateQuery: {
      const m = f.body(new StateQuery()) as StateQuery;
      const selectionJson = m.selectionJson();
      return {
        t: 'stateQuery',
        kind: m.kind() ?? '',
        cluster: m.cluster(),
        ...(selectionJson ? { selectionJson } : {}),
      };
    }
    case Body.StateRows: {
      const m = f.body(new StateRows()) as StateRows;
      const extraJson = m.extraJson();
      return {
        t: 'stateRows',
        rowsJson: m.rowsJson() ?? '[]',
        unreachableJson: m.unreachableJson() ?? '[]',
        ...(extraJson ? { extraJson } : {}),
      };
    }
    case Body.GroupOp:
      return { t: 'groupOp', bodyJson: (f.body(new GroupOp()) as GroupOp).bodyJson() ?? 'null' };
    case Body.GroupReply:
      return { t: 'groupReply', bodyJson: (f.body(new GroupReply()) as GroupReply).bodyJson() ?? 'null' };
    case Body.TaskEvents: {
      const m = f.body(new TaskEvents()) as TaskEvents;
      return { t: 'taskEvents', eventsJson: m.eventsJson() ?? '[]', dropped: m.dropped() };
    }
    case Body.LogLines: {
      const m = f.body(new LogLines()) as LogLines;
      return { t: 'logLines', linesJson: m.linesJson() ?? '[]', dropped: m.dropped() };
    }
    case Body.KillActor: {
      const m = f.body(new KillActor()) as KillActor;
      return { t: 'killActor', actorId: buf(m.actorIdArray()), noRestart: m.noRestart() };
    }
    case Body.ReleaseActor:
      return { t: 'releaseActor', actorId: buf((f.body(new ReleaseActor()) as ReleaseActor).actorIdArray()) };
    case Body.KvDelete: {
      const m = f.body(new KvDelete()) as KvDelete;
      return {
        t: 'kvDelete',
        namespace: m.namespace() ?? '',
        key: m.key() ?? '',
        ifValue: buf(m.ifValueArray()),
      };
    }
    case Body.FreeObject:
      return { t: 'free', objectId: buf((f.body(new FreeObject()) as FreeObject).objectIdArray()) };
    case Body.PullObject: {
      const m = f.body(new PullObject()) as PullObject;
      return {
        t: 'pull',
        objectId: buf(m.objectIdArray()),
        chunkIndex: m.chunkIndex(),
        chunkSize: m.chunkSize(),
        waitMs: m.waitMs(),
      };
    }
    case Body.ObjectChunk: {
      const m = f.body(new ObjectChunk()) as ObjectChunk;
      return {
        t: 'chunk',
        objectId: buf(m.objectIdArray()),
        chunkIndex: m.chunkIndex(),
        totalSize: Number(m.totalSize()),
        metadataSize: m.metadataSize(),
        dataSize: m.dataSize(),
        metadata: buf(m.metadataArray()),
      };
    }
    case Body.ErrorReply: {
      const m = f.body(new ErrorReply()) as ErrorReply;
      return { t: 'error', code: m.code(), message: m.message() ?? '' };
    }
    case Body.RefOps:
      return { t: 'refOps', ops: buf((f.body(new RefOps()) as RefOps).opsArray()) };
    case Body.RefOpsAck:
      return { t: 'refOpsAck', deadOwners: buf((f.body(new RefOpsAck()) as RefOpsAck).deadOwnersArray()) };
    case Body.OwnersDied:
      return { t: 'ownersDied', ownerIds: buf((f.body(new OwnersDied()) as OwnersDied).ownerIdsArray()) };
    default:
      throw new FrameError(`unknown message type ${f.bodyType()}`);
  }
}
