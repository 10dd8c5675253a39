// The caller's side of direct actor calls. A worker that calls an actor on its
// own node asks the node manager once for a channel (Msg.ChannelOpen); from
// then on it writes the calls straight into the actor's inbox (Msg.CallDirect)
// and the actor answers straight into this worker's inbox (Msg.DirectResult):
// the node manager is off the path, as in Ray, where callers push actor tasks
// to the actor's core worker directly.
//
// Order: calls made while the channel is being opened are held here and sent
// when the answer comes, so they cannot overtake the routed calls before them
// (the node manager grants a channel only once those are in the actor's inbox).
//
// Failure: the node manager knows nothing of direct calls, so this side keeps
// each one until its result comes. When the actor's process dies the node
// manager says so (Msg.ChannelClosed, after every result the actor sent); the
// calls still open are then retried through the node manager if the actor
// restarts and their maxTaskRetries allows, or fail with ActorDiedError: the
// rules routed calls follow.

import type { Reader } from '../../base/codec.js';
import { ActorDiedError, TaskCancelledError } from '../../base/errors.js';
import { IdGenerator, TASK_ID_SIZE, taskKeyOf } from '../../base/ids.js';
import { warn } from '../../base/warnings.js';
import type { ChannelWriter } from '../../protocol/channel.js';
import { encodeErrorRecord, errorRecord } from '../../protocol/error-record.js';
import { specKey, type TaskSpec, withSpec, writeSpec } from '../../protocol/spec.js';
import { writeStreamControl } from '../../protocol/streaming.js';
import { DoneStatus, Msg, ReturnKind, readResult } from '../../protocol/worker-messages.js';
import type { ObjectStore } from '../../store/index.js';
import { PeerWriter } from './peer-writer.js';

/** What direct calls hand back to the process's CoreWorker. */
export interface DirectCallSink {
  onTaskReturn(objectId: Buffer, status: DoneStatus, kind: ReturnKind, payload: Buffer): void;
}

/** Sends a call through the node manager (Msg.Submit, or Msg.SubmitRetry with the retries it has left). */
export type RouteCall = (spec: TaskSpec, retriesLeft?: number) => void;

enum LinkState {
  Routed,
  Opening,
  Direct,
}

/** How long a refused caller routes its calls before asking again (the actor was starting or restarting). */
const ASK_AGAIN_MS = 50;
/** A channel refused for good (the actor lives on another node, or is gone). */
const NEVER = Number.POSITIVE_INFINITY;
/** maxRetries for "retry forever" on the wire (a u32), as the node manager writes it. */
const FOREVER_RETRIES = 2 ** 31 - 1;

interface ActorLink {
  /** The actor id the handles use (16 bytes; differs from the actor's own for getIfExists aliases). */
  readonly asked: Buffer;
  state: LinkState;
  /** Calls made while the channel was being opened: sent, in order, when the answer comes. */
  held: TaskSpec[];
  peer: PeerWriter | undefined;
  actorIndex: number;
  /** The actor's own id when the handle's is an alias: direct calls carry it, as routed ones do. */
  realId: Buffer | undefined;
  className: string;
  maxTaskRetries: number;
  /** Direct calls not yet answered, by task key, in the order they were sent. */
  readonly inflight: Map<string, TaskSpec>;
  /** While routed: when to ask for a channel again. */
  askAt: number;
}

export class ActorLinks {
  private readonly byKey = new Map<string, ActorLink>();
  /** The same links by the id Buffer of the handle (one per handle): no string made per call. */
  private readonly byIdBuffer = new WeakMap<Buffer, ActorLink>();
  /** Links with an open channel, by the actor's worker index (what its results and death carry). */
  private readonly byActorIndex = new Map<number, ActorLink>();

  constructor(
    private readonly index: number,
    private readonly controlFd: number,
    private readonly store: ObjectStore,
    private readonly toManager: ChannelWriter,
    private readonly sink: DirectCallSink,
    private readonly route: RouteCall,
  ) {}

  /** Takes an actor call: sent (or held) here, or false for the caller to route it as before. */
  trySend(spec: TaskSpec): boolean {
    const link = this.byIdBuffer.get(spec.actorId) ?? this.linkOf(spec.actorId);
    const peer = link.peer; // set whenever the link is Direct
    if (link.state === LinkState.Direct && peer) {
      this.sendDirect(link, peer, spec);
      return true;
    }
    if (link.state === LinkState.Opening) {
      link.held.push(spec);
      return true;
    }
    if (link.askAt === NEVER || performance.now() < link.askAt) return false;
    link.state = LinkState.Opening;
    this.toManager.sendWith((w) => w.u8(Msg.ChannelOpen).u32(this.index).raw(link.asked));
    link.held.push(spec);
    return true;
  }

  private linkOf(actorId: Buffer): ActorLink {
    const key = actorId.toString('latin1');
    let link = this.byKey.get(key);
    if (!link) {
      link = {
        asked: Buffer.from(actorId),
        state: LinkState.Routed,
        held: [],
        peer: undefined,
        actorIndex: -1,
        realId: undefined,
        className: '',
        maxTaskRetries: 0,
        inflight: new Map(),
        askAt: 0,
      };
      this.byKey.set(key, link);
    }
    this.byIdBuffer.set(actorId, link);
    return link;
  }

  private sendDirect(link: ActorLink, peer: PeerWriter, spec: TaskSpec): void {
    link.inflight.set(specKey(spec), spec);
    const s = link.realId ? withSpec(spec, { actorId: link.realId }) : spec;
    peer.writer.sendWith((w) => {
      w.u8(Msg.CallDirect);
      writeSpec(w, s);
      w.i32(this.index);
    });
  }

  /**
   * Msg.ChannelAnswer: u8[16] asked id, u8 granted; granted: u32 actor index, u8[16] actor id,
   * f64 maxTaskRetries, str class name (the fds are on the control socket); refused: f64 ms
   * before asking again (Infinity: never).
   */
  onAnswer(r: Reader): void {
    const link = this.byKey.get(r.raw(16).toString('latin1'));
    const granted = r.u8() === 1;
    if (!link || link.state !== LinkState.Opening) return;
    const held = link.held;
    link.held = [];
    if (granted) {
      link.actorIndex = r.u32();
      const realId = r.copy(16);
      link.realId = realId.equals(link.asked) ? undefined : realId;
      link.maxTaskRetries = r.f64();
      link.className = r.str();
      let peer: PeerWriter;
      try {
        peer = PeerWriter.receive(this.controlFd, this.store);
        link.peer = peer;
      } catch (err) {
        warn(
          'SUNRAY_DIRECT_CHANNEL',
          `could not open a direct channel to an actor (its calls go by the node manager): ${(err as Error).message}`,
        );
        link.state = LinkState.Routed;
        link.askAt = NEVER;
        for (const spec of held) this.route(spec);
        return;
      }
      link.state = LinkState.Direct;
      this.byActorIndex.set(link.actorIndex, link);
      for (const spec of held) this.sendDirect(link, peer, spec);
      return;
    }
    link.state = LinkState.Routed;
    link.askAt = performance.now() + r.f64();
    for (const spec of held) this.route(spec);
  }

  /** Msg.DirectResult (after its type byte): a result from an actor, sent straight here or relayed. */
  onResult(r: Reader): void {
    const link = this.byActorIndex.get(r.u32());
    const m = readResult(r);
    if (link && link.inflight.size > 0) {
      const key = taskKeyOf(m.objectId);
      const spec = link.inflight.get(key);
      // Return ids count from 1 (ids.ts): the last return ends the call. A streaming call's
      // items come after its one return (protocol/streaming.ts): only that return ends it.
      const at = m.objectId.readUInt32LE(TASK_ID_SIZE);
      if (spec && (spec.stream === '' ? at >= spec.numReturns : at === spec.numReturns))
        link.inflight.delete(key);
    }
    this.sink.onTaskReturn(m.objectId, m.status, m.kind, m.payload);
  }

  /** Msg.ChannelClosed: the actor's process is gone; every result it sent has come before this. */
  onClosed(r: Reader): void {
    const link = this.byActorIndex.get(r.u32());
    const restarting = r.u8() === 1;
    const pid = r.u32();
    const how = r.str();
    const death = r.str();
    if (!link) return;
    this.byActorIndex.delete(link.actorIndex);
    link.peer?.close();
    link.peer = undefined;
    link.state = LinkState.Routed;
    link.askAt = restarting ? performance.now() + ASK_AGAIN_MS : NEVER;
    const open = [...link.inflight.values()];
    link.inflight.clear();
    for (const spec of open) {
      const budget = spec.maxRetries > 0 ? spec.maxRetries : link.maxTaskRetries;
      if (restarting && budget > 0) {
        const wire = Number.isFinite(budget) ? budget : FOREVER_RETRIES;
        this.route(spec.maxRetries === wire ? spec : withSpec(spec, { maxRetries: wire }), wire - 1);
        continue;
      }
      const err = new ActorDiedError(
        restarting
          ? `the actor ${link.className}'s process (pid ${pid}) ${how} while running ${spec.name}; ` +
              'it is restarting. Set maxTaskRetries to retry calls that were running.'
          : death,
      );
      this.failLocally(spec, err);
    }
  }

  /** Fails every return of a call, as a failure the actor or the node manager reported would. */
  private failLocally(spec: TaskSpec, err: Error): void {
    const payload = encodeErrorRecord(errorRecord(err));
    const key = specKey(spec);
    for (let i = 0; i < spec.numReturns; i++) {
      this.sink.onTaskReturn(IdGenerator.returnIdOfKey(key, i), DoneStatus.Error, ReturnKind.Inline, payload);
    }
  }

  /**
   * Cancels a direct call that is not answered yet: the actor drops it if it has not started
   * it, and answers either way (TaskCancelledError); recursive: the tasks a running call
   * submitted are cancelled too. False when it is not a direct call here.
   */
  cancel(taskKey: string, recursive: boolean): boolean {
    for (const link of this.byKey.values()) {
      // Held while its channel opens: it never left this process.
      const i = link.held.findIndex((spec) => specKey(spec) === taskKey);
      if (i < 0) continue;
      const [spec] = link.held.splice(i, 1);
      if (spec)
        this.failLocally(spec, new TaskCancelledError(`task ${spec.name} was cancelled before it ran`));
      return true;
    }
    const open = this.openCall(taskKey);
    if (!open) return false;
    const { spec, peer } = open;
    // What the actor needs to answer without looking the call up: who, how many returns, its name.
    peer.writer.sendWith((w) =>
      w.u8(Msg.Cancel).latin1(taskKey).i32(this.index).u32(spec.numReturns).str(spec.name).bool(recursive),
    );
    return true;
  }

  /**
   * Tells the actor running a direct streaming call how many of its items the caller has
   * consumed (its generatorBackpressure waits on that). False when it is not a direct call here.
   */
  streamConsumed(taskKey: string, taken: number): boolean {
    const open = this.openCall(taskKey);
    open?.peer.writer.sendWith((w) => writeStreamControl(w, Buffer.from(taskKey, 'latin1'), taken));
    return open !== undefined;
  }

  /** A direct call sent and not answered yet, and the channel it went by. */
  private openCall(taskKey: string): { spec: TaskSpec; peer: PeerWriter } | undefined {
    for (const link of this.byActorIndex.values()) {
      const spec = link.inflight.get(taskKey);
      if (spec && link.peer) return { spec, peer: link.peer };
    }
    return undefined;
  }

  closeAll(): void {
    for (const link of this.byActorIndex.values()) link.peer?.close();
    this.byActorIndex.clear();
  }
}
