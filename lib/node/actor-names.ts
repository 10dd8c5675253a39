// The names of a node's actors (Ray's GCS named-actor table, for one node): which actor a
// name stands for, the aliases getIfExists hands out (a handle's own id standing for an
// actor of that name made earlier), and the names the cluster refused, whose calls fail.

import { ActorDiedError, InvalidArgumentError } from '../base/errors.js';
import type { ActorRegistration, HandleHints } from '../protocol/actor-options.js';
import { namespacedKey } from '../protocol/namespaced-key.js';
import type { TaskSpec } from '../protocol/spec.js';
import type { ActorCreateReply } from '../worker/backend.js';
import type { ClusterHooks } from './cluster-hooks.js';

/** What the names need to know of a hosted actor. */
export interface NamedRecord {
  id: Buffer;
  hex: string;
  methods: string[];
  className: string;
  handle?: HandleHints;
  state: string;
}

/** The node's actor names, aliases and refused names (ActorManager holds one). */
export class ActorNames {
  /** Handles getIfExists gave out (their id) -> the actor they stand for (hex). */
  private readonly aliases = new Map<string, string>();
  /** `namespace\0name` -> actor (hex). */
  private readonly named = new Map<string, string>();
  /** Actors whose name the cluster refused: their calls fail with the reason. */
  private readonly refused = new Map<string, Error>();

  constructor(
    private readonly live: (hex: string) => NamedRecord | undefined,
    /** The cluster, once this node joined one (its head decides names cluster-wide). */
    private readonly cluster: () => ClusterHooks | undefined,
  ) {}

  /** The actor an id stands for (hex): itself, or the actor a getIfExists handle names. */
  resolve(hex: string): string {
    return this.aliases.get(hex) ?? hex;
  }

  /** Whether that id is a getIfExists handle's, standing for another actor. */
  isAlias(hex: string): boolean {
    return this.aliases.has(hex);
  }

  /** An actor of that name was created here. */
  add(namespace: string, name: string, hex: string): void {
    this.named.set(namespacedKey(namespace, name), hex);
  }

  /** Why calls to the actor of `spec` fail at once: the cluster refused its name. */
  refusal(spec: TaskSpec): Error | undefined {
    if (this.refused.size === 0) return undefined;
    const why = this.refused.get(spec.actorId.toString('hex'));
    return why && new ActorDiedError(`the actor was never created: ${why.message}`, { cause: why });
  }

  /**
   * Registers a new actor's name before it is created. A live actor of that name is
   * returned (getIfExists; its handle then aliases it) or refused; in a cluster the head
   * decides (a promise).
   */
  register(
    actorId: Buffer,
    o: ActorRegistration,
    methods: string[],
    className: string,
  ): ActorCreateReply | Promise<ActorCreateReply> {
    const handle = o.handle;
    const reply = (): ActorCreateReply => ({ actorId, methods, className, ...(handle ? { handle } : {}) });
    if (!o.name) return reply();
    const existing = this.named.get(namespacedKey(o.namespace, o.name));
    const rec = existing ? this.live(existing) : undefined;
    if (rec && rec.state !== 'dead') {
      if (!o.getIfExists) {
        throw new InvalidArgumentError(
          `an actor named '${o.name}' already exists in namespace '${o.namespace}': pick another name, ` +
            'use getIfExists: true to get a handle to it, or sunray.getActor() to look it up',
        );
      }
      this.aliases.set(actorId.toString('hex'), rec.hex);
      return replyOf(rec.id, rec);
    }
    // In a cluster the name is unique cluster-wide: the head's directory decides (async).
    const cluster = this.cluster();
    if (!cluster) return reply();
    const named = {
      name: o.name,
      namespace: o.namespace,
      actorId,
      methods,
      className,
      ...(handle ? { handle } : {}),
    };
    return cluster.claimName(named, o.getIfExists).then(
      (found) => {
        if (!found) return reply();
        this.aliases.set(actorId.toString('hex'), found.actorId.toString('hex'));
        return replyOf(found.actorId, found);
      },
      (err: Error) => {
        this.refused.set(actorId.toString('hex'), err);
        throw err;
      },
    );
  }

  /** The live actor of that name on this node, if any. */
  getActor(name: string, namespace: string): ActorCreateReply | null {
    const hex = this.named.get(namespacedKey(namespace, name));
    const a = hex ? this.live(hex) : undefined;
    if (!a || a.state === 'dead') return null;
    return replyOf(a.id, a);
  }
}

/** The reply that makes a handle to an existing actor (its id, methods, class and hints). */
function replyOf(
  actorId: Buffer,
  a: { methods: string[]; className: string; handle?: HandleHints | undefined },
): ActorCreateReply {
  return { actorId, methods: a.methods, className: a.className, ...(a.handle ? { handle: a.handle } : {}) };
}
