// A node manager's membership in a cluster: its TCP listener, its link to the
// head (register, heartbeats, the node table back), connections to peers,
// forwarding of tasks and actors to other nodes, results coming back, object
// pulls, and what happens when a node dies. The head is a node like the others
// that also keeps the Directory.
//
// Objects: an owner's objects live in its own node's store (Ray keeps them
// where they were made and records locations with the owner; we copy results
// home instead, so an object id alone says where to pull from: its owner id
// starts with its node's id). Copies pulled elsewhere are secondary: evictable.
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { Reader, Writer } from '../base/codec.js';
import {
  ActorDiedError,
  ClusterConnectionError,
  InvalidArgumentError,
  ObjectLostError,
  TaskUnschedulableError,
  WorkerCrashedError,
} from '../base/errors.js';
import { OBJECT_ID_SIZE, OWNER_ID_SIZE, ownerHexOf, TASK_ID_SIZE } from '../base/ids.js';
import type { ClusterHooks, FetchOutcome, NamedActor } from '../node/cluster-hooks.js';
import { type NodeManager, OWNER_NODE_PREFIX } from '../node/node-manager.js';
import type { ResultSink } from '../node/owner-router.js';
import { actorPlaceDemand, decodeActorOptions, restartBudget } from '../protocol/actor-options.js';
import { namespacedKey } from '../protocol/namespaced-key.js';
import { REF_OP_SIZE, RefOp } from '../protocol/ref-ops.js';
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
import { Conn } from './connection.js';
import { Directory } from './directory.js';
import { ErrorCode, type Message, type NodeInfoMsg, type Parsed, type Resources } from './messages.js';
import { type NodeView, place, type SchedulingStrategy } from './policy.js';
import { pullObject, servePull } from './transfer.js';

export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

export interface ClusterNodeOptions {
  manager: NodeManager;
  token: string;
  /** This node keeps the directory. */
  head: boolean;
  /** host:port of the head (not for the head itself). */
  headAddress?: string;
  /** Interface to listen on (default 127.0.0.1). */
  bind?: string;
  /** Port to listen on (0: any free port). */
  port?: number;
  heartbeatTimeoutMs?: number;
  /** A driver's embedded node: listed as such in status. */
  isDriver?: boolean;
  log?: (line: string) => void;
}

interface Forwarded {
  nodeId: string;
  spec: TaskSpec;
  def: FunctionDef;
  owner: ResultSink;
  retriesLeft: number;
  remaining: number;
}

interface RemoteActor {
  nodeId: string;
  spec: TaskSpec;
  def: FunctionDef;
  owner: ResultSink;
  restartsLeft: number;
  dead: string | undefined;
  className: string;
}

const ACTOR_NS = 'sunray/actors';
const NAMED_NS = 'sunray/named';

function namedKey(n: { namespace: string; name: string }): string {
  return namespacedKey(n.namespace, n.name);
}

/** The directory's record of a named actor: the same bytes wherever it is made (deletes compare them). */
function namedRecord(n: NamedActor): Buffer {
  const { name, namespace, methods, className } = n;
  return Buffer.from(
    JSON.stringify({ name, namespace, actorId: n.actorId.toString('hex'), methods, className }),
  );
}

function parseNamed(v: Buffer): NamedActor {
  const o = JSON.parse(v.toString()) as Omit<NamedActor, 'actorId'> & { actorId: string };
  return { ...o, actorId: Buffer.from(o.actorId, 'hex') };
}

export class ClusterNode implements ClusterHooks {
  readonly nodeId: string;
  address = '';
  private readonly manager: NodeManager;
  private readonly server = net.createServer((s) => this.accept(s));
  private readonly directory: Directory | undefined;
  private headConn: Conn | undefined;
  private readonly table = new Map<string, NodeInfoMsg>();
  private readonly conns = new Map<string, Conn>();
  /** Connections we dialed for pulling objects, where conns has only one the peer dialed. */
  private readonly pullConns = new Map<string, Promise<Conn>>();
  private readonly connecting = new Map<string, Promise<Conn>>();
  private readonly allConns = new Set<Conn>();
  private readonly headLinks = new Map<Conn, string>();
  private readonly forwarded = new Map<string, Forwarded>();
  private readonly remoteActors = new Map<string, RemoteActor>();
  private readonly actorLocations = new Map<string, string>();
  private readonly fetching = new Map<string, Promise<FetchOutcome>>();
  private readonly extraLoad = new Map<string, Resources>();
  /** Ownership ops sent to other nodes and not yet acknowledged: their number -> the node. */
  private readonly unackedRefOps = new Map<number, string>();
  private refOpsSent = 0;
  /** Sends held back until the ownership ops sent before them are acknowledged (sendRefOps). */
  private readonly heldSends: Array<{ after: number; to: string; send: () => void }> = [];
  private submitChain: Promise<void> = Promise.resolve();
  private chained = 0;
  private spreadTurn = 0;
  private timer: NodeJS.Timeout | undefined;
  private headTimeoutMs = 0;
  private closed = false;
  private readonly heartbeatTimeoutMs: number;
  private readonly log: (line: string) => void;

  private constructor(private readonly opts: ClusterNodeOptions) {
    this.manager = opts.manager;
    this.nodeId = opts.manager.nodeId;
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    this.log = opts.log ?? ((l) => console.error(`sunray[${this.nodeId.slice(0, 8)}]: ${l}`));
    if (opts.head) {
      this.directory = new Directory(this.heartbeatTimeoutMs, this.log, () => this.tick());
    }
  }

  /** Listens, joins (or founds) the cluster, and attaches to the node manager. */
  static async start(opts: ClusterNodeOptions): Promise<ClusterNode> {
    const n = new ClusterNode(opts);
    try {
      await n.listen(opts.bind ?? '127.0.0.1', opts.port ?? 0);
      if (opts.head) n.tick();
      else await n.join();
    } catch (err) {
      await n.close();
      throw err;
    }
    opts.manager.cluster = n;
    n.timer = setInterval(() => n.tick(), n.heartbeatInterval()).unref();
    return n;
  }

  private heartbeatInterval(): number {
    const timeout = Math.min(this.heartbeatTimeoutMs, this.headTimeoutMs || Number.POSITIVE_INFINITY);
    return Math.max(100, Math.min(1000, Math.floor(timeout / 5)));
  }

  /** Heartbeats follow the head's timeout, whatever this node was started with. */
  private adoptTimeout(ms: number): void {
    if (!ms || ms === this.headTimeoutMs || this.closed) return;
    this.headTimeoutMs = ms;
    if (!this.timer) return; // start() sets it up next
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), this.heartbeatInterval()).unref();
  }

  private listen(bind: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, bind, () => {
        const a = this.server.address() as net.AddressInfo;
        this.address = `${advertiseHost(bind)}:${a.port}`;
        this.server.off('error', reject);
        if (this.opts.isDriver) this.server.unref();
        resolve();
      });
    });
  }

  private connOpts() {
    return {
      token: this.opts.token,
      nodeId: Buffer.from(this.nodeId, 'hex'),
      log: this.log,
      onMessage: (c: Conn, p: Parsed) => this.onMessage(c, p),
      onClose: (c: Conn) => this.onConnClose(c),
    };
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const c = Conn.server(socket, this.connOpts(), (open) => this.adopt(open));
    this.allConns.add(c);
  }

  /** Every connection is closed with the node, and a driver's follow its busy state (updateRef). */
  private track(c: Conn): void {
    this.allConns.add(c);
    if (this.opts.isDriver) c.setRef(this.busy());
  }

  private adopt(c: Conn): void {
    this.track(c);
    const existing = this.conns.get(c.peerId);
    if (!existing || existing.closed) this.conns.set(c.peerId, c);
  }

  private onConnClose(c: Conn): void {
    this.allConns.delete(c);
    if (this.conns.get(c.peerId) === c) this.conns.delete(c.peerId);
    const pulling = this.pullConns.get(c.peerId);
    pulling?.then(
      (d) => d === c && this.pullConns.get(c.peerId) === pulling && this.pullConns.delete(c.peerId),
      () => {},
    );
    const linked = this.headLinks.get(c);
    if (linked !== undefined) {
      this.headLinks.delete(c);
      // A node's link to the head closing is the fastest sign of its death (kill -9 closes its sockets).
      this.directory?.markDead(linked, 'its connection to the head closed');
    }
    if (c === this.headConn) this.headConn = undefined;
  }

  /** An authenticated connection to a node, reusing one in either direction. */
  private peer(nodeId: string): Promise<Conn> {
    const c = this.conns.get(nodeId);
    if (c && !c.closed) return Promise.resolve(c);
    const pending = this.connecting.get(nodeId);
    if (pending) return pending;
    const info = this.table.get(nodeId);
    if (!info || !info.alive) {
      return Promise.reject(new ClusterConnectionError(`node ${nodeId.slice(0, 8)} is not alive`));
    }
    const p = this.dial(info.address).finally(() => this.connecting.delete(nodeId));
    this.connecting.set(nodeId, p);
    return p;
  }

  /**
   * A connection to nodeId for pulling objects: one we dialed, since only those read
   * chunks straight into the arena (see connection.ts).
   */
  private pullConn(nodeId: string): Promise<Conn> {
    const c = this.conns.get(nodeId);
    if (c && !c.closed && c.readsInPlace) return Promise.resolve(c);
    let p = this.pullConns.get(nodeId);
    if (!p) {
      const info = this.table.get(nodeId);
      if (!info || !info.alive) return this.peer(nodeId);
      const [host, port] = splitAddress(info.address);
      p = Conn.dial(host, port, this.connOpts(), info.address).then((d) => {
        this.track(d);
        if (this.closed) d.close('this node is shutting down', false);
        return d;
      });
      // A dial that failed is forgotten here; a connection that closes later, in onConnClose.
      p.catch(() => this.pullConns.delete(nodeId));
      this.pullConns.set(nodeId, p);
    }
    return p.then((d) => (d.closed ? this.peer(nodeId) : d)).catch(() => this.peer(nodeId));
  }

  private async dial(address: string): Promise<Conn> {
    const [host, port] = splitAddress(address);
    const c = await Conn.dial(host, port, this.connOpts(), address);
    this.adopt(c);
    return c;
  }

  // ---------------------------------------------------------------- membership

  private selfInfo(): NodeInfoMsg {
    const snap = this.manager.loadSnapshot();
    return {
      nodeId: this.nodeId,
      address: this.address,
      total: this.manager.pool.total(),
      available: snap.available,
      load: snap.load,
      alive: true,
      isHead: this.opts.head,
      isDriver: this.opts.isDriver ?? false,
      pendingTasks: snap.pending,
      infeasible: snap.infeasible,
      pendingActors: snap.pendingActors,
      storeCapacity: this.manager.opts.objectStoreMemory,
    };
  }

  private async join(): Promise<void> {
    const addr = this.opts.headAddress;
    if (!addr) throw new ClusterConnectionError('a non-head node needs the head address');
    if (!this.headConn || this.headConn.closed) this.headConn = await this.dial(addr);
    const info = this.selfInfo();
    const reply = await this.headConn.request({
      t: 'register',
      nodeId: info.nodeId,
      address: info.address,
      resources: info.total,
      storeCapacity: info.storeCapacity,
      isDriver: info.isDriver,
    });
    if (reply.msg.t !== 'nodeTable') throw new ClusterConnectionError(`the head refused to register us`);
    this.adoptTimeout(reply.msg.heartbeatTimeoutMs);
    this.applyTable(reply.msg.nodes);
  }

  private tick(): void {
    if (this.closed) return;
    if (this.directory) {
      const info = this.selfInfo();
      this.directory.upsert(info);
      this.directory.sweep(this.nodeId, this.heartbeatInterval());
      this.applyTable(this.directory.table());
      return;
    }
    if (!this.headConn || this.headConn.closed) {
      // Lost the head: keep trying to (re)join; our work goes on meanwhile.
      this.join().catch(() => {});
      return;
    }
    const info = this.selfInfo();
    this.headConn.requestCb(
      {
        t: 'heartbeat',
        nodeId: this.nodeId,
        available: info.available,
        load: info.load,
        pendingTasks: info.pendingTasks,
        infeasible: info.infeasible,
        pendingActors: info.pendingActors,
      },
      (p) => {
        if (p instanceof Error) return;
        if (p.msg.t === 'nodeTable') {
          this.adoptTimeout(p.msg.heartbeatTimeoutMs);
          this.applyTable(p.msg.nodes);
        } else if (p.msg.t === 'error' && p.msg.code === ErrorCode.NotFound) {
          // The head declared us dead (we stalled, or it restarted): register again on the same
          // connection, which may carry transfers in flight.
          this.join().catch(() => {});
        }
      },
    );
  }

  private applyTable(nodes: NodeInfoMsg[]): void {
    const seen = new Set<string>();
    let joined = false;
    for (const n of nodes) {
      seen.add(n.nodeId);
      const before = this.table.get(n.nodeId);
      this.table.set(n.nodeId, n);
      this.extraLoad.delete(n.nodeId);
      if (n.nodeId === this.nodeId) continue;
      if (n.alive && (!before || !before.alive)) joined = true;
      if (!n.alive && before?.alive) this.onNodeDead(n.nodeId);
    }
    for (const [id, n] of this.table) {
      if (!seen.has(id)) {
        this.table.delete(id);
        if (n.alive && id !== this.nodeId) this.onNodeDead(id);
      }
    }
    if (joined) this.replaceInfeasible();
    this.retryRefOpsForUnknown();
  }

  /** Tasks queued here that this node can never run: a new node may. */
  private replaceInfeasible(): void {
    for (const t of this.manager.takeInfeasible()) this.manager.submit(t.spec, t.def, t.owner);
  }

  // ---------------------------------------------------------------- placement

  place(spec: TaskSpec): string | undefined | Error {
    const demand =
      spec.kind === TaskKind.ActorCreate
        ? actorPlaceDemand(decodeActorOptions(spec.method), spec.demand)
        : spec.demand;
    let strategy: SchedulingStrategy = 'DEFAULT';
    if (spec.strategy === 'SPREAD') strategy = 'SPREAD';
    else if (spec.strategy) strategy = JSON.parse(spec.strategy) as SchedulingStrategy;
    const local: NodeView = {
      nodeId: this.nodeId,
      total: this.manager.pool.total(),
      load: this.manager.loadSnapshot().load,
    };
    const others: NodeView[] = [];
    for (const n of this.table.values()) {
      if (!n.alive || n.nodeId === this.nodeId) continue;
      const extra = this.extraLoad.get(n.nodeId) ?? {};
      const load: Resources = { ...n.load };
      for (const [k, v] of Object.entries(extra)) load[k] = (load[k] ?? 0) + v;
      others.push({ nodeId: n.nodeId, total: n.total, load });
    }
    const p = place(demand, strategy, local, others, this.spreadTurn);
    if (strategy === 'SPREAD') this.spreadTurn++;
    if ('unschedulable' in p) {
      return new TaskUnschedulableError(`task ${spec.name} cannot be scheduled: ${p.unschedulable}`);
    }
    return p.node === this.nodeId ? undefined : p.node;
  }

  forward(nodeId: string, spec: TaskSpec, def: FunctionDef, owner: ResultSink): void {
    const hex = spec.taskId.toString('hex');
    if (spec.kind === TaskKind.ActorCreate) {
      const prev = this.remoteActors.get(spec.actorId.toString('hex'));
      const opts = decodeActorOptions(spec.method);
      this.remoteActors.set(spec.actorId.toString('hex'), {
        nodeId,
        spec,
        def,
        owner,
        restartsLeft: prev?.restartsLeft ?? restartBudget(opts.maxRestarts),
        dead: undefined,
        className: opts.className,
      });
      this.addExtraLoad(nodeId, actorPlaceDemand(opts, spec.demand));
    } else {
      const prev = this.forwarded.get(hex);
      this.forwarded.set(hex, {
        nodeId,
        spec,
        def,
        owner,
        retriesLeft: prev?.retriesLeft ?? spec.maxRetries,
        remaining: spec.numReturns,
      });
      if (spec.kind === TaskKind.Task) this.addExtraLoad(nodeId, spec.demand);
    }
    this.updateRef();
    this.sendTo(nodeId, encodeSubmit(this.nodeId, spec, def), 0);
  }

  /**
   * Sends a task to its node over a fresh connection if the last one just closed; a node
   * that cannot be reached is treated as dead for what we sent it (retried elsewhere).
   */
  private sendTo(nodeId: string, m: Message, attempt: number): void {
    this.peer(nodeId).then(
      (c) => {
        if (c.send(m)) return;
        if (attempt < 3) this.sendTo(nodeId, m, attempt + 1);
        else this.onNodeDead(nodeId);
      },
      () => this.onNodeDead(nodeId),
    );
  }

  private addExtraLoad(nodeId: string, demand: Resources): void {
    const e = this.extraLoad.get(nodeId) ?? {};
    for (const [k, v] of Object.entries(demand)) e[k] = (e[k] ?? 0) + v;
    this.extraLoad.set(nodeId, e);
  }

  routeActorCall(spec: TaskSpec, owner: ResultSink): boolean {
    const hex = spec.actorId.toString('hex');
    const ra = this.remoteActors.get(hex);
    if (ra) {
      if (ra.dead) this.manager.notifyFailed(spec, owner, new ActorDiedError(ra.dead));
      else this.forward(ra.nodeId, spec, NO_DEF, owner);
      return true;
    }
    const at = this.actorLocations.get(hex);
    if (at && this.table.get(at)?.alive) {
      this.forward(at, spec, NO_DEF, owner);
      return true;
    }
    this.lookupActor(hex, spec, owner, 0);
    return true;
  }

  private readonly lookups = new Map<string, Array<{ spec: TaskSpec; owner: ResultSink }>>();

  /** Asks the head where an actor lives; calls wait in order meanwhile. */
  private lookupActor(hex: string, spec: TaskSpec, owner: ResultSink, attempt: number): void {
    const waiting = this.lookups.get(hex);
    if (waiting && attempt === 0) {
      waiting.push({ spec, owner });
      return;
    }
    if (!waiting) this.lookups.set(hex, [{ spec, owner }]);
    this.kvGet(ACTOR_NS, hex).then(
      (v) => {
        const nodeId = v?.toString();
        const calls = this.lookups.get(hex) ?? [];
        if (nodeId && nodeId !== this.nodeId && this.table.get(nodeId)?.alive) {
          this.lookups.delete(hex);
          this.actorLocations.set(hex, nodeId);
          for (const c of calls) this.forward(nodeId, c.spec, NO_DEF, c.owner);
          return;
        }
        if (attempt < 20) {
          // Its creation may still be on the way to the directory.
          setTimeout(() => this.lookupActor(hex, spec, owner, attempt + 1), 100).unref();
          return;
        }
        this.lookups.delete(hex);
        const err = new ActorDiedError(
          `the actor ${hex.slice(0, 12)}… is unknown to the cluster (never created, or its node is gone)`,
        );
        for (const c of calls) this.manager.notifyFailed(c.spec, c.owner, err);
      },
      () => {},
    );
  }

  actorHere(actorHex: string, named?: NamedActor): void {
    this.kvPut(ACTOR_NS, actorHex, Buffer.from(this.nodeId));
    if (named) this.kvPut(NAMED_NS, namedKey(named), namedRecord(named));
  }

  /**
   * Claims a name for an actor about to be created, cluster-wide (the head's directory
   * decides). undefined: the name is ours. A live actor of that name: returned when
   * getIfExists, else InvalidArgumentError. A record whose actor's node is dead is stale
   * and replaced. (A record with no location yet is an actor still being created: live.)
   */
  async claimName(named: NamedActor, getIfExists: boolean): Promise<NamedActor | undefined> {
    const key = namedKey(named);
    const mine = namedRecord(named);
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = await this.kvPutIfAbsent(NAMED_NS, key, mine);
      if (!held) return undefined;
      const other = parseNamed(held);
      const at = (await this.kvGet(ACTOR_NS, other.actorId.toString('hex')))?.toString();
      if (at === undefined || this.table.get(at)?.alive) {
        if (getIfExists) return other;
        throw new InvalidArgumentError(
          `an actor named '${named.name}' already exists in namespace '${named.namespace}' (on node ` +
            `${at?.slice(0, 8) ?? 'being placed'}): pick another name, use getIfExists: true to get a handle ` +
            'to it, or sunray.getActor() to look it up',
        );
      }
      await this.kvDelete(NAMED_NS, key, held);
    }
    throw new ClusterConnectionError(
      `could not claim the actor name '${named.name}': the directory keeps changing`,
    );
  }

  /** A named actor hosted here died for good: its name is free again (unless claimed anew). */
  nameGone(named: NamedActor): void {
    void this.kvDelete(NAMED_NS, namedKey(named), namedRecord(named)).catch(() => {});
  }

  /** The owner here dropped its last handle to an actor hosted elsewhere. */
  releaseActor(actorId: Buffer): boolean {
    const hex = actorId.toString('hex');
    const ra = this.remoteActors.get(hex);
    const nodeId = ra?.nodeId ?? this.actorLocations.get(hex);
    if (!nodeId) return false;
    // Nobody can call it any more: if its node dies, it is not restarted elsewhere.
    this.remoteActors.delete(hex);
    this.peer(nodeId).then(
      (c) => c.send({ t: 'releaseActor', actorId }),
      () => {},
    );
    return true;
  }

  async lookupNamed(name: string, namespace: string): Promise<NamedActor | null> {
    // Its creation may be on its way to the node that hosts it: look for a short while.
    for (let i = 0; i < 10; i++) {
      const v = await this.kvGet(NAMED_NS, namespacedKey(namespace, name));
      if (v) return parseNamed(v);
      await new Promise((r) => setTimeout(r, 50));
    }
    return null;
  }

  // ---------------------------------------------------------------- KV

  kvPut(ns: string, key: string, value: Buffer): void {
    if (this.directory) this.directory.kvPut(ns, key, value, true);
    else this.headConn?.requestCb({ t: 'kvPut', namespace: ns, key, value, overwrite: true }, () => {});
  }

  /** Puts value unless the key holds something: then answers what it holds. */
  private async kvPutIfAbsent(ns: string, key: string, value: Buffer): Promise<Buffer | undefined> {
    const d = this.directory;
    if (d) return d.kvPut(ns, key, value, false) ? undefined : d.kvGet(ns, key);
    if (!this.headConn) throw new ClusterConnectionError('this node is not connected to the head');
    const r = await this.headConn.request({ t: 'kvPut', namespace: ns, key, value, overwrite: false });
    if (r.msg.t !== 'kvReply') throw new ClusterConnectionError(`the head answered ${r.msg.t} to kvPut`);
    return r.msg.found ? r.msg.value : undefined;
  }

  private async kvDelete(ns: string, key: string, ifValue: Buffer): Promise<void> {
    if (this.directory) this.directory.kvDelete(ns, key, ifValue);
    else if (this.headConn) await this.headConn.request({ t: 'kvDelete', namespace: ns, key, ifValue });
  }

  async kvGet(ns: string, key: string): Promise<Buffer | undefined> {
    if (this.directory) return this.directory.kvGet(ns, key);
    if (!this.headConn) return undefined;
    const r = await this.headConn.request({ t: 'kvGet', namespace: ns, key });
    return r.msg.t === 'kvReply' && r.msg.found ? r.msg.value : undefined;
  }

  // ---------------------------------------------------------------- incoming

  private onMessage(c: Conn, p: Parsed): void {
    const m = p.msg;
    switch (m.t) {
      case 'pull':
        servePull(this.manager.store, c, p.requestId, m).catch((err) =>
          c.reply(p.requestId, { t: 'error', code: ErrorCode.Internal, message: (err as Error).message }),
        );
        return;
      case 'submit':
        this.onSubmit(m);
        return;
      case 'result':
        this.onResult(m, c);
        return;
      case 'free':
        try {
          this.manager.store.delete(ObjectId.fromBytes(m.objectId));
        } catch {
          // already gone
        }
        return;
      case 'cancel':
        this.manager.cancelTask(m.taskId, m.force);
        return;
      case 'killActor':
        this.manager.killActor(m.actorId, m.noRestart);
        return;
      case 'releaseActor':
        this.manager.releaseActor(m.actorId);
        return;
      case 'refOps': {
        const dead = this.manager.routeRemoteRefOps(m.ops);
        c.reply(p.requestId, { t: 'refOpsAck', deadOwners: Buffer.from(dead.join(''), 'hex') });
        return;
      }
      case 'ownersDied':
        for (let i = 0; i + OWNER_ID_SIZE <= m.ownerIds.length; i += OWNER_ID_SIZE) {
          this.manager.ownersDied(m.ownerIds.subarray(i, i + OWNER_ID_SIZE).toString('hex'));
        }
        return;
      default:
        this.onDirectoryMessage(c, p);
    }
  }

  private onDirectoryMessage(c: Conn, p: Parsed): void {
    const m = p.msg;
    const d = this.directory;
    if (!d) {
      c.reply(p.requestId, {
        t: 'error',
        code: ErrorCode.Refused,
        message: `${m.t}: this node is not the head`,
      });
      return;
    }
    const table = (): Message => ({
      t: 'nodeTable',
      nodes: d.table(),
      heartbeatTimeoutMs: d.heartbeatTimeoutMs,
    });
    switch (m.t) {
      case 'register':
        d.upsert({
          nodeId: m.nodeId,
          address: m.address,
          total: m.resources,
          available: m.resources,
          load: {},
          alive: true,
          isHead: false,
          isDriver: m.isDriver,
          pendingTasks: 0,
          infeasible: {},
          pendingActors: 0,
          storeCapacity: m.storeCapacity,
        });
        this.headLinks.set(c, m.nodeId);
        c.reply(p.requestId, table());
        this.tick();
        return;
      case 'heartbeat':
        if (d.heartbeat(m.nodeId, m)) c.reply(p.requestId, table());
        else c.reply(p.requestId, { t: 'error', code: ErrorCode.NotFound, message: 'register again' });
        return;
      case 'leave':
        d.markDead(m.nodeId, 'it left the cluster');
        return;
      case 'status':
        d.upsert(this.selfInfo());
        c.reply(p.requestId, table());
        return;
      case 'kvPut': {
        const before = d.kvGet(m.namespace, m.key);
        const stored = d.kvPut(m.namespace, m.key, m.value, m.overwrite);
        // found: the key was there and kept (a claim that lost), with what it holds.
        c.reply(p.requestId, { t: 'kvReply', found: !stored, value: stored ? Buffer.alloc(0) : before! });
        return;
      }
      case 'kvDelete': {
        const deleted = d.kvDelete(m.namespace, m.key, m.ifValue);
        c.reply(p.requestId, { t: 'kvReply', found: deleted, value: Buffer.alloc(0) });
        return;
      }
      case 'kvGet': {
        const v = d.kvGet(m.namespace, m.key);
        c.reply(p.requestId, { t: 'kvReply', found: v !== undefined, value: v ?? Buffer.alloc(0) });
        return;
      }
      default:
        this.log(`ignored an unexpected ${m.t} message from ${c.remote}`);
    }
  }

  /** A task another node forwarded: pull its store args from there, then run it here. */
  private onSubmit(m: Extract<Message, { t: 'submit' }>): void {
    let spec: TaskSpec;
    let def: FunctionDef;
    try {
      spec = readSpec(new Reader(m.spec));
      def = m.def.length > 0 ? readDef(new Reader(m.def)) : NO_DEF;
    } catch (err) {
      this.log(`refused a malformed task from node ${m.origin.slice(0, 8)}: ${(err as Error).message}`);
      return;
    }
    this.origins.set(spec.taskId.toString('hex'), {
      nodeId: m.origin,
      remaining: spec.numReturns,
      pulled: [],
    });
    const needs = decodeArgs(spec.args)
      .filter((a) => a.kind === ArgKind.StoreRef)
      .map((a) => Buffer.from((a as { id: Uint8Array }).id))
      .filter((id) => !this.manager.store.contains(ObjectId.fromBytes(id)));
    const run = async () => {
      try {
        for (const id of needs) {
          if ((await this.pullArg(m.origin, id)) === 'missing') {
            throw new ObjectLostError(`argument ${id.toString('hex')} of ${spec.name} is gone from its node`);
          }
        }
        // The copies this task pulled go when it ends (fresh arena pages are costly: reuse them).
        const rec = this.origins.get(spec.taskId.toString('hex'));
        if (rec) rec.pulled = needs;
      } catch (err) {
        this.manager.notifyFailed(spec, this.manager.remoteOwner, err as Error);
        return;
      }
      this.manager.submit(spec, def, this.manager.remoteOwner);
    };
    // Submissions keep their order (actor calls must): once one waits for its args, later ones queue.
    if (needs.length === 0 && this.chained === 0) {
      this.manager.submit(spec, def, this.manager.remoteOwner);
      return;
    }
    this.chained++;
    this.submitChain = this.submitChain.then(run).finally(() => this.chained--);
  }

  /** Tasks forwarded here: the node their results go back to, and how many results are still due. */
  private readonly origins = new Map<string, { nodeId: string; remaining: number; pulled: Buffer[] }>();
  private readonly argPulls = new Map<string, Promise<'ok' | 'missing'>>();

  /** Pulls an argument from the node that sent the task; once per object however many tasks need it. */
  private pullArg(origin: string, id: Buffer): Promise<'ok' | 'missing'> {
    const hex = id.toString('hex');
    let p = this.argPulls.get(hex);
    if (!p) {
      p = this.pullFrom(origin, id, 10_000)
        .then(async (r) => {
          // The sender's copy may have been a cache it evicted meanwhile: the owner's node has it.
          const owner = this.ownerNode(id);
          if (
            r === 'missing' &&
            owner &&
            owner.alive &&
            owner.nodeId !== origin &&
            owner.nodeId !== this.nodeId
          ) {
            return this.pullFrom(owner.nodeId, id, 1000);
          }
          return r;
        })
        .finally(() => this.argPulls.delete(hex));
      this.argPulls.set(hex, p);
    }
    return p;
  }

  private async pullFrom(nodeId: string, id: Buffer, waitMs: number): Promise<'ok' | 'missing'> {
    const c = await this.pullConn(nodeId);
    return pullObject(c, this.manager.store, id, { primary: false, waitMs });
  }

  /** A result of a task forwarded here: back to the node it came from. */
  sendResult(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    const taskHex = objectId.subarray(0, TASK_ID_SIZE).toString('hex');
    const origin = this.origins.get(taskHex);
    if (!origin) return;
    if (--origin.remaining <= 0) {
      this.origins.delete(taskHex);
      for (const id of origin.pulled) this.freeLocal(id);
    }
    const m: Extract<Message, { t: 'result' }> = { t: 'result', objectId, status, kind, payload };
    this.afterRefOps(origin.nodeId, () => this.deliverHome(origin.nodeId, m, 0));
  }

  /**
   * Sends a result to its origin node. A node the head declared dead by mistake (a long
   * stall) rejoins within a few heartbeats, so retry for a while before dropping it.
   */
  private deliverHome(nodeId: string, m: Extract<Message, { t: 'result' }>, attempt: number): void {
    const retry = () => {
      if (!this.closed && attempt < 20) {
        setTimeout(() => this.deliverHome(nodeId, m, attempt + 1), 500).unref();
        return true;
      }
      return false;
    };
    this.peer(nodeId).then(
      (c) => {
        if (!c.send(m)) retry();
      },
      () => {
        if (retry()) return;
        // The origin is gone: its results have nowhere to go.
        if (m.kind === ReturnKind.InStore) this.freeLocal(m.objectId);
      },
    );
  }

  private freeLocal(objectId: Buffer): void {
    try {
      this.manager.store.delete(ObjectId.fromBytes(objectId));
    } catch {
      // gone
    }
  }

  private onResult(m: Extract<Message, { t: 'result' }>, from: Conn): void {
    if (m.objectId.length !== OBJECT_ID_SIZE) return;
    const taskHex = m.objectId.subarray(0, TASK_ID_SIZE).toString('hex');
    const f = this.forwarded.get(taskHex);
    if (!f) {
      if (m.kind === ReturnKind.InStore) this.sendFree(undefined, m.objectId);
      return;
    }
    const settle = () => {
      f.remaining--;
      if (f.remaining <= 0 && this.forwarded.get(taskHex) === f) this.forwarded.delete(taskHex);
      this.updateRef();
    };
    if (m.status === DoneStatus.Ok && m.kind === ReturnKind.InStore) {
      // Copy it home (the owner's node) before the owner hears of it, then let the executor drop its copy.
      // Pull from the node that sent the result: after a retry elsewhere it need not be f.nodeId.
      this.pullConn(from.peerId)
        .catch(() => from)
        .then((c) => pullObject(c, this.manager.store, m.objectId, { primary: true, waitMs: 10_000 }))
        .then(
          (outcome) => {
            if (outcome === 'missing') throw new ObjectLostError('the executing node no longer has it');
            this.sendFree(from.peerId, m.objectId);
            this.manager.deliver(f.owner, m.objectId, m.status, m.kind, undefined);
            settle();
          },
          (err) => {
            // Its node died and the task was sent again already (onNodeDead): that run answers.
            if (this.forwarded.get(taskHex) !== f) return;
            this.forwarded.delete(taskHex);
            if (f.spec.kind === TaskKind.Task && f.retriesLeft > 0) {
              // Lineage: a result lost before it reached home is made again by running its
              // task again, under the same id, while its retries last.
              this.log(
                `re-running ${f.spec.name}: its result was lost in transit (${(err as Error).message})`,
              );
              this.manager.submit(withSpec(f.spec, { maxRetries: f.retriesLeft - 1 }), f.def, f.owner);
            } else {
              this.manager.notifyFailed(
                f.spec,
                f.owner,
                new ObjectLostError(
                  `the result of ${f.spec.name} was lost with node ${f.nodeId.slice(0, 8)} before it was copied ` +
                    `home, and ${f.spec.kind === TaskKind.Task ? 'its retries are used up' : 'actor calls are not re-run'}: ` +
                    (err as Error).message,
                ),
              );
            }
            this.updateRef();
          },
        );
      return;
    }
    this.manager.deliver(f.owner, m.objectId, m.status, m.kind, m.payload);
    settle();
  }

  private sendFree(nodeId: string | undefined, objectId: Buffer): void {
    if (!nodeId) return;
    const c = this.conns.get(nodeId);
    if (c?.open && !c.closed) c.send({ t: 'free', objectId });
  }

  // ---------------------------------------------------------------- objects

  fetch(objectId: Buffer, timeoutMs: number | undefined): Promise<FetchOutcome> {
    const oid = ObjectId.fromBytes(objectId);
    if (this.manager.store.contains(oid)) return Promise.resolve('ok');
    const hex = objectId.toString('hex');
    const running = this.fetching.get(hex);
    if (running) return running; // the same object is pulled once per node
    const p = this.fetchFromOwnerNode(objectId, timeoutMs).finally(() => {
      this.fetching.delete(hex);
      this.updateRef();
    });
    this.fetching.set(hex, p);
    this.updateRef();
    return p;
  }

  private ownerNode(objectId: Buffer): NodeInfoMsg | undefined {
    const prefix = objectId.subarray(0, OWNER_NODE_PREFIX).toString('hex');
    for (const n of this.table.values()) if (n.nodeId.startsWith(prefix)) return n;
    return undefined;
  }

  private async fetchFromOwnerNode(objectId: Buffer, timeoutMs: number | undefined): Promise<FetchOutcome> {
    const started = Date.now();
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : started + timeoutMs;
    const oid = ObjectId.fromBytes(objectId);
    for (;;) {
      if (this.closed) return 'lost';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      if (this.nodeId.startsWith(objectId.subarray(0, OWNER_NODE_PREFIX).toString('hex'))) {
        // Owned here: its value comes to this store (results are copied home).
        const [o] = await this.manager.store.get([oid], { timeout: Math.min(left, 1000) });
        o?.release();
        if (o) return 'ok';
        continue;
      }
      const owner = this.ownerNode(objectId);
      if (!owner) {
        // A node that joined after our last node table: wait for the table that names it.
        if (Date.now() - started > this.heartbeatTimeoutMs * 2) return 'lost';
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // The owner's node is gone, and the owner (which counted this object's refs) with it.
      if (!owner.alive) return 'ownerDied';
      try {
        const c = await this.peer(owner.nodeId);
        const wait = Math.max(1, Math.min(left, 1000));
        const r = await pullObject(c, this.manager.store, objectId, { primary: false, waitMs: wait });
        if (r === 'ok') return 'ok';
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  // ---------------------------------------------------------------- ownership across nodes

  /**
   * Ownership ops for owners on other nodes (Ray's borrower protocol across nodes): a
   * process here borrowed a ref, or a value made here contains one. Each batch goes to the
   * owner's node, which acknowledges it once the ops are with their owners. Until then,
   * results this node sends to any third node wait (afterRefOps): a result can let its
   * owner drop the task's arguments, and the borrower's registration must be at the ref's
   * owner before such a release, or the owner could free what is still borrowed. Results
   * to the owner's own node need not wait: they follow the ops on the same connection.
   */
  sendRefOps(ops: Buffer, sender: ResultSink): void {
    const byNode = new Map<string, Buffer[]>();
    for (let pos = 0; pos + REF_OP_SIZE <= ops.length; pos += REF_OP_SIZE) {
      const op = ops.subarray(pos, pos + REF_OP_SIZE);
      const node = this.ownerNode(op.subarray(1, 1 + OBJECT_ID_SIZE));
      if (!node) {
        // A node this one has not heard of yet (it joined since our last node table): the
        // ops wait for the table that names it.
        const seq = ++this.refOpsSent;
        this.unackedRefOps.set(seq, '');
        this.refOpsForUnknown.push({ op: Buffer.from(op), sender, seq, since: Date.now() });
        continue;
      }
      if (!node.alive) {
        this.ownerGone(op, sender);
        continue;
      }
      const list = byNode.get(node.nodeId);
      if (list) list.push(op);
      else byNode.set(node.nodeId, [op]);
    }
    for (const [nodeId, list] of byNode) {
      const seq = ++this.refOpsSent;
      this.unackedRefOps.set(seq, nodeId);
      this.sendRefOpBatch(nodeId, list.length === 1 ? list[0]! : Buffer.concat(list), seq);
    }
  }

  /** Ops for owners on nodes that were unknown when they were made: sent once the table names their node. */
  private readonly refOpsForUnknown: Array<{ op: Buffer; sender: ResultSink; seq: number; since: number }> =
    [];

  private retryRefOpsForUnknown(): void {
    if (this.refOpsForUnknown.length === 0) return;
    const waiting = this.refOpsForUnknown.splice(0);
    const giveUpBefore = Date.now() - this.heartbeatTimeoutMs * 2;
    for (const w of waiting) {
      const node = this.ownerNode(w.op.subarray(1, 1 + OBJECT_ID_SIZE));
      if (node?.alive) {
        this.unackedRefOps.set(w.seq, node.nodeId);
        this.sendRefOpBatch(node.nodeId, w.op, w.seq);
      } else if (node || w.since < giveUpBefore) {
        this.ownerGone(w.op, w.sender);
        this.refOpsAcked(w.seq);
      } else {
        this.refOpsForUnknown.push(w);
      }
    }
  }

  /** An op whose owner's node is gone, and the owner with it: a new borrower learns it now. */
  private ownerGone(op: Buffer, sender: ResultSink): void {
    if (op[0] === RefOp.AddBorrower) this.manager.tellOwnerDied(sender, ownerHexOf(op.subarray(1)));
  }

  private sendRefOpBatch(nodeId: string, ops: Buffer, seq: number): void {
    // A node that stalls is declared dead within the heartbeat timeout; past it, stop waiting.
    const timer = setTimeout(() => this.refOpsAcked(seq), this.heartbeatTimeoutMs * 2).unref();
    const done = (p: Parsed | Error) => {
      clearTimeout(timer);
      if (!(p instanceof Error) && p.msg.t === 'refOpsAck') {
        const dead = p.msg.deadOwners;
        for (let i = 0; i + OWNER_ID_SIZE <= dead.length; i += OWNER_ID_SIZE) {
          this.manager.ownersDied(dead.subarray(i, i + OWNER_ID_SIZE).toString('hex'));
        }
      }
      this.refOpsAcked(seq);
    };
    this.peer(nodeId).then((c) => c.requestCb({ t: 'refOps', ops }, done), done);
  }

  /** Runs send now, or once the ownership ops sent so far to nodes other than `to` are acknowledged. */
  private afterRefOps(to: string, send: () => void): void {
    if (this.heldSends.length === 0 && !this.mustWaitForRefOps(to, this.refOpsSent)) {
      send();
      return;
    }
    this.heldSends.push({ after: this.refOpsSent, to, send });
  }

  private mustWaitForRefOps(to: string, upTo: number): boolean {
    for (const [seq, nodeId] of this.unackedRefOps) if (seq <= upTo && nodeId !== to) return true;
    return false;
  }

  private refOpsAcked(seq: number): void {
    if (!this.unackedRefOps.delete(seq)) return;
    // Held sends go in the order they were made.
    while (this.heldSends.length > 0) {
      const h = this.heldSends[0]!;
      if (this.mustWaitForRefOps(h.to, h.after)) break;
      this.heldSends.shift();
      h.send();
    }
  }

  /** A process of this node exited: nodes where it may borrow or own objects hear of it. */
  ownerExited(ownerHex: string): void {
    const msg: Message = { t: 'ownersDied', ownerIds: Buffer.from(ownerHex, 'hex') };
    for (const n of this.table.values()) {
      if (!n.alive || n.nodeId === this.nodeId) continue;
      this.peer(n.nodeId).then(
        (c) => c.send(msg),
        () => {},
      );
    }
  }

  // ---------------------------------------------------------------- cancel / kill

  cancel(taskId: Buffer, force: boolean): boolean {
    const f = this.forwarded.get(taskId.toString('hex'));
    if (!f) return false;
    this.conns.get(f.nodeId)?.send({ t: 'cancel', taskId, force });
    return true;
  }

  killActor(actorId: Buffer, noRestart: boolean): boolean {
    const hex = actorId.toString('hex');
    const ra = this.remoteActors.get(hex);
    const nodeId = ra?.nodeId ?? this.actorLocations.get(hex);
    if (!nodeId) return false;
    if (ra && noRestart) ra.restartsLeft = 0;
    this.peer(nodeId).then(
      (c) => c.send({ t: 'killActor', actorId, noRestart }),
      () => {},
    );
    return true;
  }

  // ---------------------------------------------------------------- failures

  private onNodeDead(nodeId: string): void {
    if (nodeId === this.nodeId) return;
    // Its connections are left alone: a node that died closed them itself, and one that only
    // stalled past the timeout keeps serving what is in flight (it rejoins as a new member).
    for (const [hex, at] of this.actorLocations) if (at === nodeId) this.actorLocations.delete(hex);
    // Every process of that node owned objects: they are dead everywhere now (OwnerDiedError).
    this.manager.ownersDied(nodeId.slice(0, OWNER_NODE_PREFIX * 2));
    const info = this.table.get(nodeId);
    const where = `node ${nodeId.slice(0, 8)} (${info?.address ?? '?'})`;
    for (const [hex, f] of [...this.forwarded]) {
      if (f.nodeId !== nodeId) continue;
      this.forwarded.delete(hex);
      if (f.spec.kind === TaskKind.ActorCall) {
        this.manager.notifyFailed(
          f.spec,
          f.owner,
          new ActorDiedError(`the actor's ${where} died while ${f.spec.name} was running or queued there`),
        );
      } else if (f.retriesLeft > 0) {
        // Retried elsewhere (or here) with what is left of its budget.
        this.manager.submit(withSpec(f.spec, { maxRetries: f.retriesLeft - 1 }), f.def, f.owner);
      } else {
        this.manager.notifyFailed(
          f.spec,
          f.owner,
          new WorkerCrashedError(
            `${where} running task ${f.spec.name} died and its retries are used up. ` +
              'Raise maxRetries in remote()/options() to retry more.',
          ),
        );
      }
    }
    for (const [hex, ra] of this.remoteActors) {
      if (ra.nodeId !== nodeId || ra.dead) continue;
      if (ra.restartsLeft > 0) {
        ra.restartsLeft--;
        this.log(`restarting actor ${ra.className} (${hex.slice(0, 8)}) elsewhere: ${where} died`);
        this.remoteActors.delete(hex);
        this.manager.submit(ra.spec, ra.def, ra.owner);
        const again = this.remoteActors.get(hex);
        if (again) again.restartsLeft = ra.restartsLeft;
      } else {
        ra.dead = `the actor ${ra.className} (${hex.slice(0, 12)}…) is dead: ${where} died and maxRestarts is used up`;
      }
    }
    this.updateRef();
  }

  // ---------------------------------------------------------------- status, lifetime

  nodes(): NodeInfoMsg[] {
    return [...this.table.values()];
  }

  clusterResources(kind: 'total' | 'available'): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.table.values()) {
      if (!n.alive) continue;
      const r =
        n.nodeId === this.nodeId
          ? kind === 'total'
            ? this.manager.pool.total()
            : this.manager.pool.available()
          : kind === 'total'
            ? n.total
            : n.available;
      for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  private busy(): boolean {
    return this.forwarded.size > 0 || this.fetching.size > 0;
  }

  /** A driver's process stays alive while it waits on other nodes, and may exit when idle. */
  private updateRef(): void {
    if (!this.opts.isDriver) return;
    const busy = this.busy();
    for (const c of this.allConns) c.setRef(busy);
    this.headConn?.setRef(busy);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.headConn?.open && !this.headConn.closed) {
      this.headConn.send({ t: 'leave', nodeId: this.nodeId });
    }
    // Stop accepting, then close every connection: the server's callback waits for the ones it accepted.
    const stopped = new Promise<void>((r) => this.server.close(() => r()));
    for (const c of [...this.allConns]) c.close('this node is shutting down', false);
    this.headConn?.close('this node is shutting down', false);
    await stopped;
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

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new ClusterConnectionError(`'${address}' is not HOST:PORT`);
  }
  return [address.slice(0, i), port];
}

/** The host other nodes reach us at: the bind address, or this machine's first external IPv4. */
function advertiseHost(bind: string): string {
  if (bind !== '0.0.0.0' && bind !== '::') return bind;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return '127.0.0.1';
}
