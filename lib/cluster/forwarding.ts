// Tasks that cross nodes. Sending side: tasks and actor calls forwarded to other
// nodes, their results coming back (values in a store copied home before their
// owner hears of them), retries when their node dies, and lineage: a result lost
// in transit is made again by running its task again while its retries last.
// Receiving side: tasks forwarded here (their arguments pulled from the node that
// sent them, in order), the node each came from, and their results sent back there.
import { Reader, Writer } from '../base/codec.js';
import { ActorDiedError, ObjectLostError, WorkerCrashedError } from '../base/errors.js';
import { IdGenerator, OBJECT_ID_SIZE, TASK_ID_SIZE } from '../base/ids.js';
import { serialize } from '../base/serialization.js';
import type { ResultSink } from '../node/owner-router.js';
import { errorRecord } from '../protocol/error-record.js';
import {
  ArgKind,
  decodeArgs,
  type FunctionDef,
  NO_DEF,
  readDef,
  readSpec,
  TaskKind,
  type TaskSpec,
  withSpec,
  writeDef,
  writeSpec,
} from '../protocol/spec.js';
import { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import { ObjectId } from '../store/index.js';
import type { Conn } from './connection.js';
import type { LocalNode } from './local-node.js';
import type { Message } from './messages.js';
import type { NodeTable } from './node-table.js';
import type { ObjectMover } from './objects.js';
import type { RefOpGate } from './ownership-link.js';
import type { PeerLinks } from './peers.js';

type ResultMsg = Extract<Message, { t: 'result' }>;

/** A task or actor call this node forwarded and whose results are still due. */
interface Forwarded {
  nodeId: string;
  spec: TaskSpec;
  def: FunctionDef;
  owner: ResultSink;
  retriesLeft: number;
  remaining: number;
}

/** A task forwarded here: the node its results go back to, and how many are still due. */
interface Origin {
  nodeId: string;
  /** Its returns not sent home yet (a streaming task's items are not counted: numReturns is 1). */
  remaining: number;
  /** Its own returns: ids past them are a streaming task's items. */
  numReturns: number;
  /** Copies of arguments this task pulled: freed when it ends. */
  pulled: Buffer[];
}

/** What forwarding needs: the node manager, connections, object movement and the ref-op gate. */
export interface ForwardingOptions {
  local: LocalNode;
  table: Pick<NodeTable, 'selfId' | 'addExtraLoad'>;
  peers: PeerLinks;
  objects: ObjectMover;
  /** Results wait for the ownership ops sent before them (ownership-link.ts). */
  gate: Pick<RefOpGate, 'after'>;
  log: (line: string) => void;
  closed: () => boolean;
  /** A node could not be reached for what we sent it: it is treated as dead. */
  nodeUnreachable: (nodeId: string) => void;
  /** Tasks in flight elsewhere came or went (a driver stays alive while some are). */
  changed: () => void;
}

/** Tasks crossing nodes, both ways (see the file comment). */
export class Forwarding {
  private readonly forwarded = new Map<string, Forwarded>();
  private readonly origins = new Map<string, Origin>();
  /**
   * Per actor, the submissions (its creation, its calls) forwarded here still waiting for
   * their args, and how many: that actor's later ones queue behind them, in order.
   */
  private readonly chains = new Map<string, { tail: Promise<void>; queued: number }>();

  constructor(private readonly opts: ForwardingOptions) {}

  /** Tasks forwarded elsewhere whose results are due. */
  get busy(): boolean {
    return this.forwarded.size > 0;
  }

  /** Records a task or actor call about to be forwarded to nodeId (a retry keeps what is left of its budget). */
  track(nodeId: string, spec: TaskSpec, def: FunctionDef, owner: ResultSink): void {
    const hex = spec.taskId.toString('hex');
    const prev = this.forwarded.get(hex);
    this.forwarded.set(hex, {
      nodeId,
      spec,
      def,
      owner,
      retriesLeft: prev?.retriesLeft ?? spec.maxRetries,
      remaining: spec.numReturns,
    });
    if (spec.kind === TaskKind.Task) this.opts.table.addExtraLoad(nodeId, spec.demand);
  }

  /** Sends a task, actor call or actor creation to nodeId. */
  send(nodeId: string, spec: TaskSpec, def: FunctionDef): void {
    this.opts.changed();
    this.sendTo(nodeId, encodeSubmit(this.opts.table.selfId, spec, def), 0);
  }

  /**
   * Sends a task to its node over a fresh connection if the last one just closed; a node
   * that cannot be reached is treated as dead for what we sent it (retried elsewhere).
   */
  private sendTo(nodeId: string, m: Message, attempt: number): void {
    this.opts.peers.peer(nodeId).then(
      (c) => {
        if (c.send(m)) return;
        if (attempt < 3) this.sendTo(nodeId, m, attempt + 1);
        else this.opts.nodeUnreachable(nodeId);
      },
      () => this.opts.nodeUnreachable(nodeId),
    );
  }

  /** Cancels a task forwarded elsewhere; false if this node never forwarded it. */
  cancel(taskId: Buffer, force: boolean, recursive: boolean): boolean {
    return this.toRunner(taskId, { t: 'cancel', taskId, force, recursive });
  }

  /** A streaming task forwarded elsewhere: its owner took `consumed` items. False if not forwarded. */
  streamConsumed(taskId: Buffer, consumed: number): boolean {
    return this.toRunner(taskId, { t: 'streamConsumed', taskId, consumed });
  }

  /** Sends m to the node this node forwarded the task to; false if it forwarded none such. */
  private toRunner(taskId: Buffer, m: Message): boolean {
    const f = this.forwarded.get(taskId.toString('hex'));
    if (!f) return false;
    this.opts.peers.connected(f.nodeId)?.send(m);
    return true;
  }

  /** A result of a task forwarded elsewhere came back. */
  onResult(m: ResultMsg, from: Conn): void {
    if (m.objectId.length !== OBJECT_ID_SIZE) return;
    const { local, objects } = this.opts;
    const taskHex = m.objectId.subarray(0, TASK_ID_SIZE).toString('hex');
    const f = this.forwarded.get(taskHex);
    if (!f) {
      if (m.kind === ReturnKind.InStore) objects.sendFree(undefined, m.objectId);
      return;
    }
    // A streaming task's items (return ids past its own returns) come before its end, which settles it.
    const item = m.objectId.readUInt32LE(TASK_ID_SIZE) > f.spec.numReturns;
    const settle = () => {
      if (item) return;
      f.remaining--;
      if (f.remaining <= 0 && this.forwarded.get(taskHex) === f) this.forwarded.delete(taskHex);
      this.opts.changed();
    };
    if (m.status === DoneStatus.Ok && m.kind === ReturnKind.InStore) {
      // Copy it home (the owner's node) before the owner hears of it, then let the executor drop its copy.
      objects.copyHome(from, m.objectId).then(
        (outcome) => {
          if (outcome === 'missing') {
            this.lostInTransit(taskHex, f, new ObjectLostError('the executing node no longer has it'));
            return;
          }
          objects.sendFree(from.peerId, m.objectId);
          local.deliver(f.owner, m.objectId, m.status, m.kind, undefined);
          settle();
        },
        (err) => this.lostInTransit(taskHex, f, err as Error),
      );
      return;
    }
    local.deliver(f.owner, m.objectId, m.status, m.kind, m.payload);
    settle();
  }

  /** A result could not be copied home: run its task again, or fail it. */
  private lostInTransit(taskHex: string, f: Forwarded, err: Error): void {
    // Its node died and the task was sent again already (nodeDied): that run answers.
    if (this.forwarded.get(taskHex) !== f) return;
    this.forwarded.delete(taskHex);
    if (f.spec.kind === TaskKind.Task && f.retriesLeft > 0) {
      // Lineage: a result lost before it reached home is made again by running its
      // task again, under the same id, while its retries last.
      this.opts.log(`re-running ${f.spec.name}: its result was lost in transit (${err.message})`);
      this.resubmit(f);
    } else {
      this.opts.local.notifyFailed(
        f.spec,
        f.owner,
        new ObjectLostError(
          `the result of ${f.spec.name} was lost with node ${f.nodeId.slice(0, 8)} before it was copied ` +
            `home, and ${f.spec.kind === TaskKind.Task ? 'its retries are used up' : 'actor calls are not re-run'}: ` +
            err.message,
        ),
      );
    }
    this.opts.changed();
  }

  /**
   * Runs a forwarded task again (placed anew: elsewhere or here) with what is left of its
   * retries. A node manager that is shut down refuses it: its owner hears why instead (this
   * runs in promise callbacks, where a throw would be an unhandled rejection).
   */
  private resubmit(f: Forwarded): void {
    try {
      this.opts.local.submit(withSpec(f.spec, { maxRetries: f.retriesLeft - 1 }), f.def, f.owner);
    } catch (err) {
      this.opts.local.notifyFailed(f.spec, f.owner, err as Error);
    }
  }

  /** nodeId died: what was forwarded there is retried (tasks, while retries last) or fails. */
  nodeDied(nodeId: string, where: string): void {
    const local = this.opts.local;
    for (const [hex, f] of [...this.forwarded]) {
      if (f.nodeId !== nodeId) continue;
      this.forwarded.delete(hex);
      if (f.spec.kind === TaskKind.ActorCall) {
        local.notifyFailed(
          f.spec,
          f.owner,
          new ActorDiedError(`the actor's ${where} died while ${f.spec.name} was running or queued there`),
        );
      } else if (f.retriesLeft > 0) {
        // Retried elsewhere (or here) with what is left of its budget.
        this.resubmit(f);
      } else {
        local.notifyFailed(
          f.spec,
          f.owner,
          new WorkerCrashedError(
            `${where} running task ${f.spec.name} died and its retries are used up. ` +
              'Raise maxRetries in remote()/options() to retry more.',
          ),
        );
      }
    }
  }

  // ---------------------------------------------------------------- tasks forwarded here

  /** A task another node forwarded: pull its store args from there, then run it here. */
  onSubmit(m: Extract<Message, { t: 'submit' }>): void {
    let spec: TaskSpec;
    let def: FunctionDef;
    try {
      spec = readSpec(new Reader(m.spec));
      def = m.def.length > 0 ? readDef(new Reader(m.def)) : NO_DEF;
    } catch (err) {
      this.opts.log(`refused a malformed task from node ${m.origin.slice(0, 8)}: ${(err as Error).message}`);
      return;
    }
    const local = this.opts.local;
    this.origins.set(spec.taskId.toString('hex'), {
      nodeId: m.origin,
      remaining: spec.numReturns,
      numReturns: spec.numReturns,
      pulled: [],
    });
    const needs = decodeArgs(spec.args)
      .filter((a) => a.kind === ArgKind.StoreRef)
      .map((a) => Buffer.from((a as { id: Uint8Array }).id))
      .filter((id) => !local.store.contains(ObjectId.fromBytes(id)));
    const run = async () => {
      try {
        for (const id of needs) {
          if ((await this.opts.objects.pullArg(m.origin, id)) === 'missing') {
            throw new ObjectLostError(`argument ${id.toString('hex')} of ${spec.name} is gone from its node`);
          }
        }
        // The copies this task pulled go when it ends (fresh arena pages are costly: reuse them).
        const rec = this.origins.get(spec.taskId.toString('hex'));
        if (rec) rec.pulled = needs;
      } catch (err) {
        local.notifyFailed(spec, local.remoteOwner, err as Error);
        return;
      }
      this.runHere(spec, def);
    };
    // An actor's creation and calls keep their order: once one waits for its args, that
    // actor's later ones queue. Other tasks promise no order, so none waits for another's
    // args (a pull may wait seconds for room in a full store).
    const key =
      spec.kind === TaskKind.ActorCall || spec.kind === TaskKind.ActorCreate
        ? spec.actorId.toString('hex')
        : undefined;
    const chain = key === undefined ? undefined : this.chains.get(key);
    if (needs.length === 0 && chain === undefined) {
      this.runHere(spec, def);
      return;
    }
    const lost = (err: unknown) => this.opts.log(`a task forwarded here was lost: ${String(err)}`);
    if (key === undefined) {
      run().catch(lost); // run handles its own failures
      return;
    }
    const c = chain ?? { tail: Promise.resolve(), queued: 0 };
    if (!chain) this.chains.set(key, c);
    c.queued++;
    // run handles its own failures; a throw here still must not stop the calls queued after it.
    c.tail = c.tail
      .then(run)
      .catch(lost)
      .finally(() => {
        if (--c.queued === 0 && this.chains.get(key) === c) this.chains.delete(key);
      });
  }

  /**
   * Hands a task forwarded here to the node manager. One it cannot take (it is shut down:
   * submit throws) must not throw into the connection's reader or the submit chain.
   */
  private runHere(spec: TaskSpec, def: FunctionDef): void {
    const local = this.opts.local;
    try {
      local.submit(spec, def, local.remoteOwner);
    } catch (err) {
      this.refused(spec, err as Error);
    }
  }

  /**
   * A task forwarded here that this node could not take. While this node closes it is
   * dropped: its origin hears that this node left and retries it elsewhere (nodeDied).
   * Otherwise each of its returns fails home with the reason, sent from here: the node
   * manager that refused it is not asked again.
   */
  private refused(spec: TaskSpec, err: Error): void {
    const taskHex = spec.taskId.toString('hex');
    if (this.opts.closed()) {
      const origin = this.origins.get(taskHex);
      this.origins.delete(taskHex);
      for (const id of origin?.pulled ?? []) this.opts.objects.freeLocal(id);
      return;
    }
    const where = `node ${this.opts.table.selfId.slice(0, 8)}`;
    const reason =
      spec.kind === TaskKind.Task
        ? new WorkerCrashedError(`${where} could not run task ${spec.name}: ${err.message}`, { cause: err })
        : new ActorDiedError(`the actor's ${where} could not run ${spec.name}: ${err.message}`, {
            cause: err,
          });
    const payload = serialize(errorRecord(reason));
    for (let i = 0; i < spec.numReturns; i++) {
      this.sendResult(IdGenerator.returnId(spec.taskId, i), DoneStatus.Error, ReturnKind.Inline, payload);
    }
  }

  /** A result of a task forwarded here: back to the node it came from. */
  sendResult(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    const taskHex = objectId.subarray(0, TASK_ID_SIZE).toString('hex');
    const origin = this.origins.get(taskHex);
    if (!origin) return;
    // A streaming task's items (past its own returns) go home too, without settling it.
    const item = objectId.readUInt32LE(TASK_ID_SIZE) > origin.numReturns;
    if (!item && --origin.remaining <= 0) {
      this.origins.delete(taskHex);
      for (const id of origin.pulled) this.opts.objects.freeLocal(id);
    }
    const m: ResultMsg = { t: 'result', objectId, status, kind, payload };
    this.opts.gate.after(origin.nodeId, () => this.deliverHome(origin.nodeId, m, 0));
  }

  /**
   * Sends a result to its origin node. A node the head declared dead by mistake (a long
   * stall) rejoins within a few heartbeats, so retry for a while before dropping it.
   */
  private deliverHome(nodeId: string, m: ResultMsg, attempt: number): void {
    const retry = () => {
      if (!this.opts.closed() && attempt < 20) {
        setTimeout(() => this.deliverHome(nodeId, m, attempt + 1), 500).unref();
        return true;
      }
      return false;
    };
    this.opts.peers.peer(nodeId).then(
      (c) => {
        if (!c.send(m)) retry();
      },
      () => {
        if (retry()) return;
        // The origin is gone: its results have nowhere to go.
        if (m.kind === ReturnKind.InStore) this.opts.objects.freeLocal(m.objectId);
      },
    );
  }
}

function encodeSubmit(origin: string, spec: TaskSpec, def: FunctionDef): Message {
  const s = new Writer(128 + spec.args.length);
  writeSpec(s, spec);
  let d = Buffer.alloc(0);
  if (def.fnId !== '') {
    const w = new Writer(256);
    writeDef(w, def);
    d = Buffer.from(w.finish());
  }
  return { t: 'submit', origin, spec: Buffer.from(s.finish()), def: d };
}
