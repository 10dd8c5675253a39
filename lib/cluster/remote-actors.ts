// Actors that live on other nodes: the ones this node placed elsewhere (their
// creation spec and restart budget: restarted elsewhere when their node dies),
// calls routed to them, where other actors live (the directory's KV, asked once
// per actor while calls wait in order), names claimed cluster-wide, and kill/release.
import { ActorDiedError, ClusterConnectionError, InvalidArgumentError } from '../base/errors.js';
import type { NamedActor } from '../node/cluster-hooks.js';
import type { ResultSink } from '../node/owner-router.js';
import { actorPlaceDemand, decodeActorOptions, restartBudget } from '../protocol/actor-options.js';
import { reportEvent } from '../protocol/events.js';
import { namespacedKey } from '../protocol/namespaced-key.js';
import { type FunctionDef, NO_DEF, type TaskSpec } from '../protocol/spec.js';
import type { KvClient } from './kv-client.js';
import type { LocalNode } from './local-node.js';
import type { NodeTable } from './node-table.js';
import type { PeerLinks } from './peers.js';

/** An actor this node created on another node. */
interface RemoteActor {
  nodeId: string;
  spec: TaskSpec;
  def: FunctionDef;
  owner: ResultSink;
  restartsLeft: number;
  /** Restarts so far (for sunray.events' actorRestarted). */
  restarts: number;
  /** Why it is dead for good (its calls fail with this); undefined while it lives. */
  dead: string | undefined;
  className: string;
  /** Calls that wait while its creation waits for its placement group (nodeId is '' then). */
  queued?: Array<{ spec: TaskSpec; owner: ResultSink }>;
}

/** Directory KV namespaces: actor id (hex) -> its node; namespace\0name -> the named actor. */
const ACTOR_NS = 'sunray/actors';
const NAMED_NS = 'sunray/named';

function namedKey(n: { namespace: string; name: string }): string {
  return namespacedKey(n.namespace, n.name);
}

/** The directory's record of a named actor: the same bytes wherever it is made (deletes compare them). */
function namedRecord(n: NamedActor): Buffer {
  const { name, namespace, methods, className, handle } = n;
  return Buffer.from(
    JSON.stringify({
      name,
      namespace,
      actorId: n.actorId.toString('hex'),
      methods,
      className,
      ...(handle ? { handle } : {}),
    }),
  );
}

function parseNamed(v: Buffer): NamedActor {
  const o = JSON.parse(v.toString()) as Omit<NamedActor, 'actorId'> & { actorId: string };
  return { ...o, actorId: Buffer.from(o.actorId, 'hex') };
}

/** What remote actors need: the node manager, the table, the directory's KV, connections. */
export interface RemoteActorsOptions {
  local: Pick<LocalNode, 'submit' | 'notifyFailed' | 'remoteOwner'>;
  table: Pick<NodeTable, 'selfId' | 'alive' | 'addExtraLoad'>;
  kv: Pick<KvClient, 'get' | 'put' | 'putIfAbsent' | 'delete'>;
  peers: Pick<PeerLinks, 'peer'>;
  /** Forwards an actor call to the node of its actor (ClusterNode.forward). */
  forward: (nodeId: string, spec: TaskSpec, def: FunctionDef, owner: ResultSink) => void;
  log: (line: string) => void;
  /**
   * How long the directory is asked where an actor lives before it is taken as unknown:
   * its creation may still be on its way there (default 20 times, 100 ms apart).
   */
  lookup?: { attempts: number; delayMs: number };
}

/** Actors on other nodes as this node knows them (see the file comment). */
export class RemoteActors {
  private readonly actors = new Map<string, RemoteActor>();
  /** Where actors created by other nodes live, as the directory said. */
  private readonly locations = new Map<string, string>();
  /** kill()s on their way: to the directory (where is it?) or the actor's node. */
  private readonly killsInFlight = new Set<Promise<void>>();
  /** Calls waiting for the directory to say where their actor lives. */
  private readonly lookups = new Map<string, Array<{ spec: TaskSpec; owner: ResultSink }>>();

  constructor(private readonly opts: RemoteActorsOptions) {}

  /**
   * An actor this node creates on nodeId (again, after a restart: its restart budget is kept).
   * Returns the calls that waited for its placement group: the caller sends them after the
   * creation, so they arrive behind it.
   */
  placed(
    nodeId: string,
    spec: TaskSpec,
    def: FunctionDef,
    owner: ResultSink,
  ): Array<{ spec: TaskSpec; owner: ResultSink }> {
    const hex = spec.actorId.toString('hex');
    const prev = this.actors.get(hex);
    const opts = decodeActorOptions(spec.method);
    this.actors.set(hex, {
      nodeId,
      spec,
      def,
      owner,
      restartsLeft: prev?.restartsLeft ?? restartBudget(opts.maxRestarts),
      restarts: prev?.restarts ?? 0,
      dead: undefined,
      className: opts.className,
    });
    this.opts.table.addExtraLoad(nodeId, actorPlaceDemand(opts, spec.demand));
    return prev?.queued ?? [];
  }

  /**
   * Where an actor of a placement group goes, as placement said: while it waits for the
   * group (a promise), its calls wait here; once it is created on this node (undefined) they
   * go to it; if it cannot be (an Error), they fail. A node id: placed() follows.
   */
  placing(spec: TaskSpec, where: string | undefined | Error | Promise<void>): void {
    const hex = spec.actorId.toString('hex');
    const prev = this.actors.get(hex);
    if (where instanceof Promise) {
      if (prev?.nodeId === '') return;
      const opts = decodeActorOptions(spec.method);
      this.actors.set(hex, {
        nodeId: '',
        spec,
        def: prev?.def ?? NO_DEF,
        owner: prev?.owner ?? this.opts.local.remoteOwner,
        restartsLeft: prev?.restartsLeft ?? restartBudget(opts.maxRestarts),
        restarts: prev?.restarts ?? 0,
        dead: undefined,
        className: opts.className,
        queued: [],
      });
      return;
    }
    if (prev?.nodeId !== '' || typeof where === 'string') return;
    this.actors.delete(hex);
    const queued = prev.queued ?? [];
    if (where instanceof Error) {
      for (const c of queued) this.opts.local.notifyFailed(c.spec, c.owner, where);
      return;
    }
    // Created here: once the node manager has it (it does right after placement returns).
    queueMicrotask(() => {
      for (const c of queued) this.opts.local.submit(c.spec, NO_DEF, c.owner);
    });
  }

  /** A call to an actor this node does not host: to its node, once known. */
  routeActorCall(spec: TaskSpec, owner: ResultSink): boolean {
    const hex = spec.actorId.toString('hex');
    const ra = this.actors.get(hex);
    if (ra) {
      if (ra.dead) this.opts.local.notifyFailed(spec, owner, new ActorDiedError(ra.dead));
      else if (ra.nodeId === '') ra.queued?.push({ spec, owner });
      else this.opts.forward(ra.nodeId, spec, NO_DEF, owner);
      return true;
    }
    const at = this.locations.get(hex);
    if (at && this.opts.table.alive(at)) {
      this.opts.forward(at, spec, NO_DEF, owner);
      return true;
    }
    this.lookupActor(hex, spec, owner);
    return true;
  }

  /** Asks the head where an actor lives; calls wait in order meanwhile. */
  private lookupActor(hex: string, spec: TaskSpec, owner: ResultSink): void {
    const waiting = this.lookups.get(hex);
    if (waiting) {
      waiting.push({ spec, owner });
      return;
    }
    this.lookups.set(hex, [{ spec, owner }]);
    void this.whereIs(hex).then((nodeId) => {
      const calls = this.lookups.get(hex) ?? [];
      this.lookups.delete(hex);
      if (nodeId) {
        this.locations.set(hex, nodeId);
        for (const c of calls) this.opts.forward(nodeId, c.spec, NO_DEF, c.owner);
        return;
      }
      const err = new ActorDiedError(
        `the actor ${hex.slice(0, 12)}… is unknown to the cluster (never created, or its node is gone)`,
      );
      for (const c of calls) this.opts.local.notifyFailed(c.spec, c.owner, err);
    });
  }

  /**
   * The live node (not this one) that the directory says an actor lives on, asked again for
   * a while: its creation may still be on its way to the directory, or the head briefly out
   * of reach. undefined when it never says.
   */
  private async whereIs(hex: string): Promise<string | undefined> {
    const { attempts, delayMs } = this.opts.lookup ?? { attempts: 20, delayMs: 100 };
    const { kv, table } = this.opts;
    for (let attempt = 0; ; attempt++) {
      const nodeId = (await kv.get(ACTOR_NS, hex).catch(() => undefined))?.toString();
      if (nodeId && nodeId !== table.selfId && table.alive(nodeId)) return nodeId;
      if (attempt >= attempts) return undefined;
      await new Promise((r) => setTimeout(r, delayMs).unref());
    }
  }

  /** An actor now lives on this node: recorded in the directory for other nodes. */
  actorHere(actorHex: string, named?: NamedActor): void {
    this.opts.kv.put(ACTOR_NS, actorHex, Buffer.from(this.opts.table.selfId));
    if (named) this.opts.kv.put(NAMED_NS, namedKey(named), namedRecord(named));
  }

  /**
   * Claims a name for an actor about to be created, cluster-wide (the head's directory
   * decides). undefined: the name is ours. A live actor of that name: returned when
   * getIfExists, else InvalidArgumentError. A record whose actor's node is dead is stale
   * and replaced. (A record with no location yet is an actor still being created: live.)
   */
  async claimName(named: NamedActor, getIfExists: boolean): Promise<NamedActor | undefined> {
    const { kv, table } = this.opts;
    const key = namedKey(named);
    const mine = namedRecord(named);
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = await kv.putIfAbsent(NAMED_NS, key, mine);
      if (!held) return undefined;
      const other = parseNamed(held);
      const at = (await kv.get(ACTOR_NS, other.actorId.toString('hex')))?.toString();
      if (at === undefined || table.alive(at)) {
        if (getIfExists) return other;
        throw new InvalidArgumentError(
          `an actor named '${named.name}' already exists in namespace '${named.namespace}' (on node ` +
            `${at?.slice(0, 8) ?? 'being placed'}): pick another name, use getIfExists: true to get a handle ` +
            'to it, or sunray.getActor() to look it up',
        );
      }
      await kv.delete(NAMED_NS, key, held);
    }
    throw new ClusterConnectionError(
      `could not claim the actor name '${named.name}': the directory keeps changing`,
    );
  }

  /** A named actor hosted here died for good: its name is free again (unless claimed anew). */
  nameGone(named: NamedActor): void {
    void this.opts.kv.delete(NAMED_NS, namedKey(named), namedRecord(named)).catch(() => {});
  }

  /** A named actor created on any node of the cluster. */
  async lookupNamed(name: string, namespace: string): Promise<NamedActor | null> {
    // Its creation may be on its way to the node that hosts it: look for a short while.
    for (let i = 0; i < 10; i++) {
      const v = await this.opts.kv.get(NAMED_NS, namedKey({ namespace, name }));
      if (v) return parseNamed(v);
      await new Promise((r) => setTimeout(r, 50));
    }
    return null;
  }

  /** The owner here dropped its last handle to an actor hosted elsewhere. */
  releaseActor(actorId: Buffer): boolean {
    const hex = actorId.toString('hex');
    const ra = this.actors.get(hex);
    const nodeId = ra?.nodeId ?? this.locations.get(hex);
    if (!nodeId) return false;
    // Nobody can call it any more: if its node dies, it is not restarted elsewhere.
    this.actors.delete(hex);
    this.opts.peers.peer(nodeId).then(
      (c) => c.send({ t: 'releaseActor', actorId }),
      () => {},
    );
    return true;
  }

  /**
   * Kills an actor hosted elsewhere. noRestart: it is not restarted either. Where it lives is
   * asked of the directory if this node has not called it yet (a handle from getActor()).
   */
  killActor(actorId: Buffer, noRestart: boolean): void {
    const hex = actorId.toString('hex');
    const ra = this.actors.get(hex);
    if (ra && noRestart) ra.restartsLeft = 0;
    const known = ra?.nodeId ?? this.locations.get(hex);
    const sent = (known ? Promise.resolve(known) : this.whereIs(hex))
      .then((nodeId) => {
        if (!nodeId || nodeId === this.opts.table.selfId || !this.opts.table.alive(nodeId)) return;
        return this.opts.peers.peer(nodeId).then((c) => {
          c.send({ t: 'killActor', actorId, noRestart });
        });
      })
      .catch(() => {});
    this.killsInFlight.add(sent);
    void sent.finally(() => this.killsInFlight.delete(sent));
  }

  /** Resolves once the kills asked for so far are sent (shutdown waits for them). */
  killsSent(): Promise<void> {
    return Promise.all(this.killsInFlight).then(() => {});
  }

  /** nodeId died: its actors that this node created restart elsewhere while their budget lasts. */
  nodeDied(nodeId: string, where: string): void {
    for (const [hex, at] of this.locations) if (at === nodeId) this.locations.delete(hex);
    for (const [hex, ra] of this.actors) {
      if (ra.nodeId !== nodeId || ra.dead) continue;
      const ev = { actorId: hex, className: ra.className, name: decodeActorOptions(ra.spec.method).name };
      if (ra.restartsLeft > 0) {
        ra.restartsLeft--;
        ra.restarts++;
        this.opts.log(`restarting actor ${ra.className} (${hex.slice(0, 8)}) elsewhere: ${where} died`);
        reportEvent('actorRestarted', { ...ev, restarts: ra.restarts, reason: `${where} died` });
        this.actors.delete(hex);
        this.opts.local.submit(ra.spec, ra.def, ra.owner);
        const again = this.actors.get(hex);
        if (again) Object.assign(again, { restartsLeft: ra.restartsLeft, restarts: ra.restarts });
      } else {
        ra.dead = `the actor ${ra.className} (${hex.slice(0, 12)}…) is dead: ${where} died and maxRestarts is used up`;
        reportEvent('actorDied', { ...ev, reason: ra.dead });
      }
    }
  }
}
