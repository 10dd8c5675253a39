// The borrower's side of ownership: refs this process holds but does not own.
// The first handle to such a ref registers this process with the owner; the
// last one going unregisters it (ref-ops.ts). When an owner exits, its refs are
// dead here: gets fail at once with OwnerDiedError, and gets already waiting
// are woken with it.
import { OwnerDiedError } from '../../base/errors.js';
import { ownerHexOf } from '../../base/ids.js';
import { encodeRefOp, RefOp } from '../../protocol/ref-ops.js';

export class Borrows {
  /** Live handles per borrowed ref (hex). */
  private readonly counts = new Map<string, number>();
  private readonly deadOwners = new Set<string>();
  /** Prefixes of owner ids that are all dead (a dead node's), besides single owners. */
  private readonly deadPrefixes: string[] = [];
  /** Gets waiting on borrowed refs, by owner: aborted when that owner dies. */
  private readonly waits = new Map<string, Set<AbortController>>();

  constructor(
    /** This process's owner id, as borrowers are named. */
    private readonly selfId: Buffer,
    private readonly send: (op: Buffer) => void,
  ) {}

  /** A handle to a ref this process does not own was made. */
  onHandle(ref: Uint8Array, hex: string): void {
    const n = this.counts.get(hex) ?? 0;
    this.counts.set(hex, n + 1);
    if (n === 0 && !this.isDead(ref)) this.send(encodeRefOp(RefOp.AddBorrower, ref, this.selfId));
  }

  /** A handle went (released or collected). */
  onRelease(hex: string): void {
    const n = this.counts.get(hex);
    if (n === undefined) return;
    if (n > 1) {
      this.counts.set(hex, n - 1);
      return;
    }
    this.counts.delete(hex);
    const id = Buffer.from(hex, 'hex');
    if (!this.isDead(id)) this.send(encodeRefOp(RefOp.RemoveBorrower, id, this.selfId));
  }

  isDead(ref: Uint8Array): boolean {
    if (this.deadOwners.size === 0 && this.deadPrefixes.length === 0) return false;
    const owner = ownerHexOf(ref);
    return this.deadOwners.has(owner) || this.deadPrefixes.some((p) => owner.startsWith(p));
  }

  /** Throws OwnerDiedError when the ref's owner has exited. */
  check(ref: Uint8Array, what: string): void {
    if (this.isDead(ref)) throw ownerDied(ref, what);
  }

  /**
   * Runs a wait for a borrowed object, aborted with OwnerDiedError if its owner
   * exits meanwhile (the object would then never appear).
   */
  async waitFor<T>(ref: Uint8Array, what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.check(ref, what);
    const owner = ownerHexOf(ref);
    const ac = new AbortController();
    let set = this.waits.get(owner);
    if (!set) {
      set = new Set();
      this.waits.set(owner, set);
    }
    set.add(ac);
    try {
      return await run(ac.signal);
    } catch (err) {
      if (ac.signal.aborted) throw ownerDied(ref, what);
      throw err;
    } finally {
      set.delete(ac);
      if (set.size === 0) this.waits.delete(owner);
    }
  }

  /** An owner exited, or all of a dead node's (a prefix of their ids); told by the node manager. */
  ownerDied(prefix: string): void {
    if (prefix.length >= 32) this.deadOwners.add(prefix);
    else if (!this.deadPrefixes.includes(prefix)) this.deadPrefixes.push(prefix);
    for (const hex of this.counts.keys()) if (hex.startsWith(prefix)) this.counts.delete(hex);
    for (const [owner, set] of this.waits) if (owner.startsWith(prefix)) for (const ac of set) ac.abort();
  }

  /** Borrowed refs with their handle counts (memorySummary). */
  entries(): Array<[string, number]> {
    return [...this.counts];
  }
}

export function ownerDied(ref: Uint8Array, what: string): OwnerDiedError {
  const hex = Buffer.from(ref.buffer, ref.byteOffset, ref.byteLength).toString('hex');
  return new OwnerDiedError(
    `${what} ObjectRef(${hex}): the process that owned it (created it by put() or submitted its task) has exited, ` +
      'so its value can no longer be read. Keep the owner alive while others use its refs, or return values ' +
      'instead of refs from short-lived tasks and actors.',
  );
}
