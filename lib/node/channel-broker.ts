// The node manager's side of direct actor calls: it opens a channel between a
// calling worker and a local actor by handing each the other's inbox ring and
// eventfd over their control sockets, and tears channels down when either
// process exits. It never sees the calls themselves.
//
// A channel is granted only when every call routed to the actor so far is in
// its inbox (alive, nothing pending, nothing waiting for room): direct calls
// written after the grant then cannot overtake them. The caller holds calls
// made while it asks (actor-links.ts).
import { native } from '../base/addon.js';
import { MAX_DIRECT_PEERS } from '../protocol/channel.js';
import { Msg } from '../protocol/worker-messages.js';
import type { WorkerProcess } from './worker-process.js';
import type { WorkerSlot } from './worker-slot.js';

/** What the broker reads of an actor (node-manager.ts ActorRec). */
export interface BrokeredActor {
  readonly id: Buffer;
  readonly state: 'pending' | 'alive' | 'restarting' | 'dead';
  readonly worker: WorkerProcess | undefined;
  readonly pending: { readonly length: number };
  readonly className: string;
  readonly maxTaskRetries: number;
  /** It lives in a shared host: its calls stay routed (a channel joins two processes, not actors). */
  readonly shared: boolean;
}

/** How an actor's process ended, for its callers' open calls (actor-links.ts onClosed). */
export interface ActorExit {
  restarting: boolean;
  how: string;
  /** The ActorDiedError message when it will not restart. */
  death: string;
}

/** A caller refused while the actor starts or restarts asks again after this long. */
const ASK_AGAIN_MS = 50;

/** Opens direct channels between callers and the actors they call, and closes them when either ends. */
export class ChannelBroker {
  /** Msg.ChannelOpen from `caller` for the actor its handles call `asked` (resolved to `a`, if on this node). */
  open(caller: WorkerProcess, asked: Buffer, a: BrokeredActor | undefined): void {
    const askAgainMs = this.grant(caller, asked, a);
    if (askAgainMs !== undefined)
      caller.sendWith((w) => w.u8(Msg.ChannelAnswer).raw(asked).u8(0).f64(askAgainMs));
  }

  /** Opens the channel and tells the caller; or how long the caller should wait to ask again. */
  private grant(caller: WorkerProcess, asked: Buffer, a: BrokeredActor | undefined): number | undefined {
    const never = Number.POSITIVE_INFINITY;
    // On another node, unknown or gone: its calls stay routed.
    if (!a || a.state === 'dead' || a.shared) return never;
    const aw = a.worker;
    if (aw === caller) return never; // an actor calling itself
    if (a.state !== 'alive' || !aw?.ready || a.pending.length > 0) return ASK_AGAIN_MS;
    if (aw.callers.size >= MAX_DIRECT_PEERS || caller.channelsTo.size >= MAX_DIRECT_PEERS) return never;
    // Routed calls first: they must be in the actor's inbox before any direct one.
    aw.writer.flush();
    if (!aw.writer.drained) return ASK_AGAIN_MS;
    try {
      native.sendFds(aw.controlFd, caller.inboxFds());
      aw.sendWith((w) => w.u8(Msg.PeerOpen).u32(caller.index));
      aw.writer.flush(); // before the caller can write its first call
      aw.addCaller(caller);
      if (!aw.writer.drained) return ASK_AGAIN_MS;
      native.sendFds(caller.controlFd, aw.inboxFds());
    } catch {
      return ASK_AGAIN_MS; // one of them is exiting: its exit handler cleans up
    }
    caller.sendWith((w) =>
      w.u8(Msg.ChannelAnswer).raw(asked).u8(1).u32(aw.index).raw(a.id).f64(a.maxTaskRetries).str(a.className),
    );
    return undefined;
  }

  /**
   * A worker exited. Each caller of the actor it hosted hears how (after every result the
   * actor sent it, which are ahead in its inbox); each actor it called forgets it. The rings
   * it wrote into are repaired in case it died mid-write.
   */
  onExit(w: WorkerSlot, actorExit: ActorExit | undefined): void {
    const exit = actorExit ?? { restarting: false, how: 'exited', death: "the actor's process exited" };
    const { callers, callees } = w.dropChannels();
    for (const c of callers) {
      c.recoverInbox(w.pid);
      c.sendWith((f) =>
        f
          .u8(Msg.ChannelClosed)
          .u32(w.index)
          .u8(exit.restarting ? 1 : 0)
          .u32(w.pid)
          .str(exit.how)
          .str(exit.death),
      );
    }
    for (const x of callees) {
      x.recoverInbox(w.pid);
      x.sendWith((f) => f.u8(Msg.PeerGone).u32(w.index));
    }
  }
}
