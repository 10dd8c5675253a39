// A node manager's membership in a cluster, wired from its parts: peers.ts (the
// listener and connections), membership.ts (joining, heartbeats, the node table,
// node deaths), placement.ts, forwarding.ts (tasks across nodes and their
// results), remote-actors.ts, objects.ts (pulls between nodes), ownership-link.ts
// (ownership ops across nodes), kv-client.ts, and on the head head-service.ts with
// the Directory. It implements the node manager's ClusterHooks by delegating, and
// routes each message that arrives to the part that owns it: direct calls, so a
// task's path stays as short as it was.

import type { ClusterHooks, FetchOutcome, NamedActor } from '../node/cluster-hooks.js';
import type { ResultSink } from '../node/owner-router.js';
import type { TaskRowsAnswer } from '../node/task-events.js';
import { AUTOSCALER_KV_NAMESPACE, REQUEST_KEY } from '../protocol/autoscaler.js';
import type { OwnedWorkEvent, SunrayEventMap } from '../protocol/events.js';
import type { JobStateRow } from '../protocol/job.js';
import type { LogChunk, LogLine, LogRead } from '../protocol/log-lines.js';
import { type GroupOp, groupStrategyOf } from '../protocol/placement-group.js';
import type { FunctionDef, TaskSpec } from '../protocol/spec.js';
import { NO_DEF, TaskKind } from '../protocol/spec.js';
import type { LocalStateKind, RowSelection } from '../protocol/state-rows.js';
import type { TaskStateRow } from '../protocol/task-events.js';
import type { DoneStatus, ReturnKind } from '../protocol/worker-messages.js';
import type { Conn } from './connection.js';
import { Directory } from './directory.js';
import { EventRelay } from './event-relay.js';
import { Forwarding } from './forwarding.js';
import { GroupLink } from './group-link.js';
import { HeadService } from './head-service.js';
import { HeadState } from './head-state.js';
import { KvClient } from './kv-client.js';
import type { LocalNode } from './local-node.js';
import { LogLink } from './log-link.js';
import { Membership } from './membership.js';
import type { NodeInfoMsg, Parsed } from './messages.js';
import { resolveAddresses } from './node-address.js';
import { NodeTable } from './node-table.js';
import { Objects } from './objects.js';
import { OwnershipLink } from './ownership-link.js';
import { PackageStore } from './package-store.js';
import { Peers, splitAddress } from './peers.js';
import { Placer } from './placement.js';
import { RemoteActors } from './remote-actors.js';
import { type GatheredRows, StateQueries } from './state-query.js';
import { TaskEventsLink } from './task-events-link.js';
import type { TlsMaterial } from './tls.js';
import { transferCounts } from './transfer.js';

/** A node silent this long is declared dead by the head (drivers get 3x: directory.ts). */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

/** How a node joins (or founds) a cluster. */
export interface ClusterNodeOptions {
  /** This node's node manager (a NodeManager). */
  manager: LocalNode;
  token: string;
  /** This node keeps the directory. */
  head: boolean;
  /** host:port of the head (not for the head itself). */
  headAddress?: string;
  /**
   * Address to listen on (default: `nodeIpAddress` when it is this machine's, else this
   * machine's address on the route to the head, else 127.0.0.1: node-address.ts).
   */
  bind?: string | undefined;
  /** The IP other nodes reach this node at (default: the bind address, or the route to the head). */
  nodeIpAddress?: string | undefined;
  /** Port to listen on (0: any free port). */
  port?: number;
  heartbeatTimeoutMs?: number;
  /** A driver's embedded node: listed as such in status. */
  isDriver?: boolean;
  log?: (line: string) => void;
  /**
   * The head only: the file its directory is saved to on each change and restored from at
   * start (head-state.ts); without it the directory lives in memory only.
   */
  headStateFile?: string | undefined;
  /** Every connection over mutually verified TLS, on top of the token (tls.ts). */
  tls?: TlsMaterial | undefined;
}

/** A node manager's membership in a cluster: start() it, close() it with the node. */
export class ClusterNode implements ClusterHooks {
  readonly nodeId: string;
  private readonly manager: LocalNode;
  private readonly table: NodeTable;
  private readonly peers: Peers;
  private readonly membership: Membership;
  private readonly head: HeadService;
  private readonly placer: Placer;
  private readonly objects: Objects;
  private readonly refOps: OwnershipLink;
  private readonly events: EventRelay;
  private readonly forwarding: Forwarding;
  private readonly actors: RemoteActors;
  private readonly state: StateQueries;
  private readonly taskEvents: TaskEventsLink;
  private readonly logs: LogLink;
  private readonly groups: GroupLink;
  /**
   * The head's saved state, when it has one: tables of the head other than the directory's
   * register here with persist(name, get, set) and call changed() (see head-state.ts).
   */
  readonly headState: HeadState | undefined;
  private readonly kv: KvClient;
  /** The cluster's directory: the head's (the autoscaler reads it there); undefined on other nodes. */
  readonly directory: Directory | undefined;
  /** Runtime envs' working-directory archives in the head's KV. */
  private readonly packages: PackageStore;
  private closed = false;
  private readonly log: (line: string) => void;

  private constructor(private readonly opts: ClusterNodeOptions) {
    const manager = opts.manager;
    this.manager = manager;
    this.nodeId = manager.nodeId;
    const heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    const log = opts.log ?? ((l) => console.error(`sunray[${this.nodeId.slice(0, 8)}]: ${l}`));
    this.log = log;
    const closed = () => this.closed;
    const changed = () => this.updateRef();
    const directory = opts.head
      ? new Directory(heartbeatTimeoutMs, log, () => this.membership.tick())
      : undefined;
    this.directory = directory;
    if (directory && opts.headStateFile) {
      const state = new HeadState(opts.headStateFile, opts.token, log);
      this.headState = state;
      directory.persistTo(state, this.nodeId);
      // After the nodes (registered first, so restored first): bundles of nodes not alive go again.
      const groups = manager.placementGroups;
      groups.onChange = () => state.changed();
      state.persist(
        'placementGroups',
        () => groups.save(),
        (saved) => groups.restore(saved, (id) => directory.table().some((n) => n.nodeId === id && n.alive)),
      );
    }
    const table = new NodeTable(this.nodeId);
    this.table = table;
    const peers = new Peers({
      token: opts.token,
      nodeId: this.nodeId,
      isDriver: opts.isDriver ?? false,
      log,
      lookup: (id) => table.get(id),
      onMessage: (c, p) => this.onMessage(c, p),
      onClose: (c) => this.onConnClose(c),
      busy: () => this.busy(),
      closed,
      tls: opts.tls,
    });
    this.peers = peers;
    this.placer = new Placer(manager, table);
    this.objects = new Objects({ store: manager.store, table, peers, heartbeatTimeoutMs, closed, changed });
    this.refOps = new OwnershipLink({ local: manager, table, peers, heartbeatTimeoutMs });
    this.events = new EventRelay(table, peers);
    this.state = new StateQueries(
      table,
      peers,
      (kind, selectionJson) => manager.localState.rows(kind, selectionJson),
      directory
        ? { jobs: () => directory.jobs.rows(), placementGroups: () => manager.placementGroups.rows() }
        : undefined,
      () => this.membership.headConn,
    );
    this.logs = new LogLink(
      table,
      peers,
      (lines, from) => manager.logs.fromNode(lines, from),
      () => this.state.jobs(),
    );
    this.forwarding = new Forwarding({
      local: manager,
      table,
      peers,
      objects: this.objects,
      gate: this.refOps.gate,
      log,
      closed,
      nodeUnreachable: (id) => this.membership.nodeDead(id),
      changed,
    });
    const kv = new KvClient(directory, () => this.membership.headConn);
    this.kv = kv;
    this.packages = new PackageStore(kv);
    this.actors = new RemoteActors({
      local: manager,
      table,
      kv,
      peers,
      forward: (id, spec, def, owner) => this.forward(id, spec, def, owner),
      log,
    });
    this.groups = new GroupLink({
      groups: manager.placementGroups,
      bundles: manager.bundles,
      table,
      peers,
      head: opts.head,
      headConn: () => this.membership.headConn,
    });
    this.membership = new Membership({
      local: manager,
      table,
      directory,
      head: opts.head,
      isDriver: opts.isDriver ?? false,
      headAddress: opts.headAddress,
      address: () => peers.address,
      heartbeatTimeoutMs,
      dial: (address) => peers.dial(address),
      onNodeDead: [
        (id) => this.refOps.nodeDied(id),
        (id, where) => this.forwarding.nodeDied(id, where),
        (id, where) => this.actors.nodeDied(id, where),
        (id) => this.groups.nodeDied(id),
        () => this.updateRef(),
      ],
      onTable: () => {
        this.refOps.retryForUnknown();
        this.groups.nodeJoined();
      },
      closed,
      log,
    });
    this.taskEvents = new TaskEventsLink(
      manager.taskEvents,
      opts.head,
      () => this.membership.headConn,
      () => this.state.gather('liveTasks'),
    );
    this.head = new HeadService({
      directory,
      selfInfo: () => this.membership.selfInfo(),
      tick: () => this.membership.tick(),
      log,
    });
  }

  /** Listens, joins (or founds) the cluster, and attaches to the node manager. */
  static async start(opts: ClusterNodeOptions): Promise<ClusterNode> {
    const n = new ClusterNode(opts);
    try {
      const restored = n.headState?.load() ?? [];
      if (restored.length) n.log(`restored the head's ${restored.join(', ')} from ${opts.headStateFile}`);
      const at = await resolveAddresses({
        bind: opts.bind,
        nodeIpAddress: opts.nodeIpAddress,
        headHost: opts.headAddress !== undefined ? splitAddress(opts.headAddress)[0] : undefined,
      });
      await n.peers.listen(at.bind, opts.port ?? 0, at.advertise);
      await n.membership.start();
    } catch (err) {
      await n.close();
      throw err;
    }
    opts.manager.cluster = n;
    n.membership.startHeartbeats();
    if (opts.isDriver) process.on('exit', n.leaveOnExit);
    return n;
  }

  /**
   * A driver's process exits without shutdown(): its node tells the head it leaves, with the
   * exit code (its job SUCCEEDED or FAILED), while the socket still takes a synchronous write.
   */
  private readonly leaveOnExit = (code: number) => {
    if (!this.closed) this.membership.leave(Math.max(0, code));
  };

  /** host:port other nodes reach this one at. */
  get address(): string {
    return this.peers.address;
  }

  private onMessage(c: Conn, p: Parsed): void {
    const m = p.msg;
    switch (m.t) {
      case 'pull':
        this.objects.servePull(c, p.requestId, m);
        return;
      case 'submit':
        this.forwarding.onSubmit(m);
        return;
      case 'result':
        this.forwarding.onResult(m, c);
        return;
      case 'free':
        this.objects.freeLocal(m.objectId);
        return;
      case 'cancel':
        this.manager.cancelTask(m.taskId, m.force, m.recursive);
        return;
      case 'streamConsumed':
        this.manager.streamConsumed(m.taskId, m.consumed);
        return;
      case 'killActor':
        this.manager.killActor(m.actorId, m.noRestart);
        return;
      case 'releaseActor':
        this.manager.releaseActor(m.actorId);
        return;
      case 'refOps':
        this.refOps.onRefOps(c, p.requestId, m);
        return;
      case 'ownersDied':
        this.refOps.onOwnersDied(m);
        return;
      case 'event':
        this.events.onEvent(m);
        return;
      case 'stateQuery':
        if (m.kind === 'tasks') void this.taskEvents.serve(c, p, m);
        else void this.state.serve(c, p, m);
        return;
      case 'taskEvents':
        this.taskEvents.onEvents(m);
        return;
      case 'logLines':
        this.logs.onLines(m, c.peerId);
        return;
      case 'groupOp':
        void this.groups.serve(c, p, m);
        return;
      default:
        this.head.onMessage(c, p);
    }
  }

  private onConnClose(c: Conn): void {
    this.head.connClosed(c);
    this.membership.connClosed(c);
  }

  // ---------------------------------------------------------------- ClusterHooks

  place(spec: TaskSpec): string | undefined | Error | Promise<void> {
    const g = groupStrategyOf(spec.strategy);
    if (!g) return this.placer.place(spec);
    const where = this.groups.place(g);
    // An actor waiting for its group: calls to it wait with it (remote-actors.ts).
    if (spec.kind === TaskKind.ActorCreate) this.actors.placing(spec, where);
    return where;
  }

  placementGroupOp(o: GroupOp): Promise<unknown> {
    return this.groups.op(o);
  }

  forward(nodeId: string, spec: TaskSpec, def: FunctionDef, owner: ResultSink): void {
    if (spec.kind !== TaskKind.ActorCreate) {
      this.forwarding.track(nodeId, spec, def, owner);
      this.forwarding.send(nodeId, spec, def);
      return;
    }
    const waited = this.actors.placed(nodeId, spec, def, owner);
    this.forwarding.send(nodeId, spec, def);
    // Calls made while it waited for its placement group: behind the creation.
    for (const c of waited) this.forward(nodeId, c.spec, NO_DEF, c.owner);
  }

  routeActorCall(spec: TaskSpec, owner: ResultSink): boolean {
    return this.actors.routeActorCall(spec, owner);
  }

  sendResult(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void {
    this.forwarding.sendResult(objectId, status, kind, payload);
  }

  fetch(objectId: Buffer, timeoutMs: number | undefined): Promise<FetchOutcome> {
    return this.objects.fetch(objectId, timeoutMs);
  }

  cancel(taskId: Buffer, force: boolean, recursive: boolean): boolean {
    return this.forwarding.cancel(taskId, force, recursive);
  }

  streamConsumed(taskId: Buffer, consumed: number): boolean {
    return this.forwarding.streamConsumed(taskId, consumed);
  }

  killActor(actorId: Buffer, noRestart: boolean): void {
    this.actors.killActor(actorId, noRestart);
  }

  actorHere(actorHex: string, named?: NamedActor): void {
    this.actors.actorHere(actorHex, named);
  }

  claimName(named: NamedActor, getIfExists: boolean): Promise<NamedActor | undefined> {
    return this.actors.claimName(named, getIfExists);
  }

  nameGone(named: NamedActor): void {
    this.actors.nameGone(named);
  }

  releaseActor(actorId: Buffer): boolean {
    return this.actors.releaseActor(actorId);
  }

  lookupNamed(name: string, namespace: string): Promise<NamedActor | null> {
    return this.actors.lookupNamed(name, namespace);
  }

  sendRefOps(ops: Buffer, sender: ResultSink): void {
    this.refOps.send(ops, sender);
  }

  sendEvent<K extends OwnedWorkEvent>(
    ownerTaskIds: readonly Uint8Array[],
    name: K,
    ...args: SunrayEventMap[K]
  ): void {
    this.events.send(ownerTaskIds, name, ...args);
  }

  ownerExited(ownerHex: string): void {
    this.refOps.ownerExited(ownerHex);
  }

  stateRows(kind: LocalStateKind): Promise<GatheredRows> {
    return this.state.gather(kind);
  }

  transfers(): typeof transferCounts {
    return transferCounts;
  }

  taskRows(sel: RowSelection<TaskStateRow>): Promise<TaskRowsAnswer> {
    return this.taskEvents.rows(sel);
  }

  jobRows(): Promise<JobStateRow[]> {
    return this.state.jobs();
  }

  readLog(req: LogRead): Promise<LogChunk> {
    return this.state.readLog(req);
  }

  getPackage(hash: string): Promise<Buffer | undefined> {
    return this.packages.get(hash);
  }

  putPackage(hash: string, gz: Buffer): Promise<void> {
    return this.packages.put(hash, gz);
  }

  sendLogs(jobId: string, lines: LogLine[]): void {
    this.logs.send(jobId, lines);
  }

  requestResources(bundles: Record<string, number>[]): Promise<void> {
    const value = Buffer.from(JSON.stringify(bundles));
    return this.kv.putAcked(AUTOSCALER_KV_NAMESPACE, REQUEST_KEY, value);
  }

  clusterResources(kind: 'total' | 'available'): Record<string, number> {
    return this.placer.clusterResources(kind);
  }

  // ---------------------------------------------------------------- status, lifetime

  /** The node table as this node last heard it. */
  nodes(): NodeInfoMsg[] {
    return [...this.table.values()];
  }

  private busy(): boolean {
    return this.forwarding.busy || this.objects.busy;
  }

  /** A driver's process stays alive while it waits on other nodes, and may exit when idle. */
  private updateRef(): void {
    if (!this.opts.isDriver) return;
    const busy = this.busy();
    this.peers.setRef(busy);
    this.membership.headConn?.setRef(busy);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.leaveOnExit);
    // What this node sent to the others (a kill, results) reaches them before it tells the
    // head it leaves; a connection reset instead of ended may lose what the peer had not read.
    // A kill may still be asking the directory where its actor lives (at most a few seconds).
    await Promise.race([this.actors.killsSent(), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.logs.close();
    this.headState?.flush();
    await this.peers.close(this.membership.headConn);
    this.membership.leave();
    await this.membership.headConn?.finish('this node is shutting down');
  }
}
