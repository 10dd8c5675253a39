// The node-to-node protocol's messages as plain objects: what messages.ts encodes into
// flatbuffers (schema/wire.fbs) and decodes back, `t` naming each kind.
import type { DriverJob } from '../protocol/job.js';

/** Resource amounts by name (CPU, GPU, memory, custom ones). */
export type Resources = Record<string, number>;

/** One node as the node table and heartbeats describe it. */
export interface NodeInfoMsg {
  nodeId: string; // hex
  address: string;
  total: Resources;
  available: Resources;
  load: Resources;
  alive: boolean;
  isHead: boolean;
  isDriver: boolean;
  pendingTasks: number;
  infeasible: Record<string, number>;
  storeCapacity: number;
  /** Actors waiting to be placed there (for a worker process or for resources). */
  pendingActors: number;
  /** Of those, the ones that wait because the node runs its maxWorkerProcesses. */
  actorsAwaitingProcess: number;
  /** Its labels (init's or `sunray start --labels`), as it registered them. */
  labels: Record<string, string>;
  /** A driver's node: its job id ('' for others). */
  jobId: string;
  /** How long it has had no tasks, actors, leases or objects (0: busy now): the autoscaler removes idle nodes. */
  idleMs: number;
  /** Actors waiting for room that it could run, by shape ("actor CPU=1"): they move when a node has room. */
  waitingActors: Record<string, number>;
}

/** Every message of the node-to-node protocol, decoded; `t` names its kind. */
export type Message =
  | { t: 'hello'; version: number; nodeId: Buffer; nonce: Buffer }
  | { t: 'challenge'; version: number; nonce: Buffer }
  | { t: 'proof'; proof: Buffer; nodeId: Buffer }
  | {
      t: 'register';
      nodeId: string;
      address: string;
      resources: Resources;
      storeCapacity: number;
      isDriver: boolean;
      labels: Record<string, string>;
      /** A driver's job (none for a daemon). */
      job?: DriverJob;
    }
  | {
      t: 'heartbeat';
      nodeId: string;
      available: Resources;
      load: Resources;
      pendingTasks: number;
      infeasible: Record<string, number>;
      pendingActors: number;
      actorsAwaitingProcess: number;
      idleMs: number;
      waitingActors: Record<string, number>;
    }
  | { t: 'leave'; nodeId: string /** A driver's exit code; -1: it shut down. */; exitCode: number }
  | { t: 'nodeTable'; nodes: NodeInfoMsg[]; heartbeatTimeoutMs: number }
  | { t: 'status' }
  | { t: 'kvPut'; namespace: string; key: string; value: Buffer; overwrite: boolean }
  | { t: 'kvGet'; namespace: string; key: string }
  | { t: 'kvReply'; found: boolean; value: Buffer }
  | { t: 'kvDelete'; namespace: string; key: string; ifValue: Buffer }
  | { t: 'releaseActor'; actorId: Buffer }
  | { t: 'submit'; origin: string; spec: Buffer; def: Buffer }
  | { t: 'result'; objectId: Buffer; status: number; kind: number; payload: Buffer }
  | { t: 'cancel'; taskId: Buffer; force: boolean; recursive: boolean }
  | { t: 'streamConsumed'; taskId: Buffer; consumed: number }
  | { t: 'event'; name: string; payloadJson: string }
  | { t: 'stateQuery'; kind: string; cluster: boolean; selectionJson?: string }
  | { t: 'stateRows'; rowsJson: string; unreachableJson: string; extraJson?: string }
  | { t: 'taskEvents'; eventsJson: string; dropped: number }
  | { t: 'logLines'; linesJson: string; dropped: number }
  | { t: 'killActor'; actorId: Buffer; noRestart: boolean }
  | { t: 'free'; objectId: Buffer }
  | { t: 'pull'; objectId: Buffer; chunkIndex: number; chunkSize: number; waitMs: number }
  | {
      t: 'chunk';
      objectId: Buffer;
      chunkIndex: number;
      totalSize: number;
      metadataSize: number;
      dataSize: number;
      metadata: Buffer;
    }
  | { t: 'error'; code: number; message: string }
  | { t: 'refOps'; ops: Buffer }
  | { t: 'refOpsAck'; deadOwners: Buffer }
  | { t: 'ownersDied'; ownerIds: Buffer }
  | { t: 'groupOp'; bodyJson: string }
  | { t: 'groupReply'; bodyJson: string };

/** A decoded frame. */
export interface Parsed {
  /** 0 for a one-way message; a reply carries its request's id with the reply bit set. */
  requestId: bigint;
  /** The message the frame carries. */
  msg: Message;
}

/** Codes of ErrorReply. */
export enum ErrorCode {
  NotFound = 1,
  Refused = 2,
  Internal = 3,
}
