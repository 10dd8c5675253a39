// The owner's reference table (Ray's reference_count): one record (Owned) per
// object this process owns, and the rules that keep it alive. An object lives
// while anything counts it: handles in this process, borrowers in others,
// outer objects whose values contain it, or its task still pending. When the
// last goes it is freed (its store copy deleted, the holds of refs its value
// contained dropped). Borrowed refs are counted by ownership/borrows.ts, which
// this table drives from the process's ref tracker. Owned records also carry
// their readiness waiters (wake, waitOwned).
import { fileURLToPath } from 'node:url';
import { native } from '../base/addon.js';
import { abortedError, GetTimeoutError, ObjectLostError, SunrayError } from '../base/errors.js';
import { isPutHex, isPutId, ownerHexOf } from '../base/ids.js';
import { type ObjectRef, setRefTracker } from '../base/object-ref.js';
import { type Encoded, writeEncoded } from '../base/serialization.js';
import { ERROR_META, encodeErrorRecord, errorRecord } from '../protocol/error-record.js';
import { borrowerHex, decodeRefOps, encodeRefOp, RefOp } from '../protocol/ref-ops.js';
import type { TaskSpec } from '../protocol/spec.js';
import { ObjectId, type ObjectStore } from '../store/index.js';
import type { Backend } from './backend.js';
import { Borrows } from './ownership/borrows.js';
import type { Lineage, LineageTable } from './ownership/lineage.js';

/** Call sites cost a stack trace per object, so they are recorded only on request (init option). */
let recordCallSites = false;

/** Records where each owned object was made (init({ recordCallSites })), for `sunray memory`. */
export function setRecordCallSites(on: boolean): void {
  recordCallSites = on;
}

/** What the core worker's parts use of the node's object store (a fake one in unit tests). */
export type OwnerStore = Pick<
  ObjectStore,
  'create' | 'seal' | 'abort' | 'contains' | 'delete' | 'tryGet' | 'get' | 'list' | 'whenRoom'
>;

/** An owned object's state: its task runs, it has a value, or it failed with an error. */
export enum State {
  Pending = 0,
  Ready = 1,
  Failed = 2,
}

/** What an owned object rarely needs: kept apart so that the common entry stays small. */
class OwnedExtra {
  error: Error | undefined = undefined;
  /** Processes (owner ids) that hold handles to it (ownership/ref-ops.ts). */
  borrowers: Set<string> | undefined = undefined;
  /** Objects (ids, hex) whose values contain it: it lives while they do. */
  holders: Set<string> | undefined = undefined;
  /** Refs (hex) its own value contains: their holder entries go when it is freed. */
  contained: string[] | undefined = undefined;
  lineage: Lineage | undefined = undefined;
  rebuilding: Promise<void> | undefined = undefined;
  callSite = '';
}

/**
 * The owner's record of one object. A million queued tasks mean a million of
 * these: the fields every entry uses live here, the rest in an OwnedExtra made
 * on first use (the accessors below read through it).
 */
export class Owned {
  state: State = State.Pending;
  /** Inline serialized value. */
  payload: Buffer | undefined = undefined;
  inStore = false;
  /** Promoted to the store: other processes may read it. */
  escaped = false;
  waiters: Array<() => void> | undefined = undefined;
  localRefs = 0;
  /** Bytes of its value; for puts, also what was reported to V8 as external memory. */
  size = 0;
  /** While its task runs: what would rebuild it (becomes `lineage` if the result lands in the store). */
  spec: TaskSpec | undefined = undefined;
  private x: OwnedExtra | undefined = undefined;

  private extra(): OwnedExtra {
    if (this.x === undefined) this.x = new OwnedExtra();
    return this.x;
  }
  get error(): Error | undefined {
    return this.x?.error;
  }
  set error(v: Error | undefined) {
    if (v !== undefined || this.x) this.extra().error = v;
  }
  get borrowers(): Set<string> | undefined {
    return this.x?.borrowers;
  }
  set borrowers(v: Set<string> | undefined) {
    if (v !== undefined || this.x) this.extra().borrowers = v;
  }
  get holders(): Set<string> | undefined {
    return this.x?.holders;
  }
  set holders(v: Set<string> | undefined) {
    if (v !== undefined || this.x) this.extra().holders = v;
  }
  get contained(): string[] | undefined {
    return this.x?.contained;
  }
  set contained(v: string[] | undefined) {
    if (v !== undefined || this.x) this.extra().contained = v;
  }
  get lineage(): Lineage | undefined {
    return this.x?.lineage;
  }
  set lineage(v: Lineage | undefined) {
    if (v !== undefined || this.x) this.extra().lineage = v;
  }
  get rebuilding(): Promise<void> | undefined {
    return this.x?.rebuilding;
  }
  set rebuilding(v: Promise<void> | undefined) {
    if (v !== undefined || this.x) this.extra().rebuilding = v;
  }
  get callSite(): string {
    return this.x?.callSite ?? '';
  }
  set callSite(v: string) {
    if (v !== '' || this.x) this.extra().callSite = v;
  }
}

export class ReferenceTable {
  /** Every object this process owns, by id (hex). */
  readonly owned = new Map<string, Owned>();
  /** Refs this process holds but does not own. */
  readonly borrows: Borrows;
  /** Set by close(): nothing is tracked or freed in the store any more. */
  closed = false;
  /** Objects of ours that other processes or objects hold: while any, this process must live. */
  private heldByOthers = 0;
  /** Told when heldByOthers goes between zero and not (a worker tells its node manager: see reapIdle). */
  onHeldByOthers: ((held: boolean) => void) | undefined;

  constructor(
    /** This process's owner id (ids.ts): object ids that start with it are ours. */
    ownerId: Buffer,
    readonly ownerHex: string,
    private readonly backend: Pick<Backend, 'refOp'>,
    private readonly store: OwnerStore,
    private readonly lineage: LineageTable,
  ) {
    this.borrows = new Borrows(ownerId, (op) => this.backend.refOp(op));
    setRefTracker({
      onCreate: (ref) => {
        const e = this.owned.get(ref.hex);
        if (e) e.localRefs++;
        else if (!this.closed && !this.owns(ref)) this.borrows.onHandle(ref, ref.hex);
      },
      onRelease: (hex) => {
        if (this.owned.has(hex)) this.dropLocalRef(hex);
        else if (!this.closed) this.borrows.onRelease(hex);
      },
    });
  }

  owns(ref: Uint8Array): boolean {
    return ownerHexOf(ref) === this.ownerHex;
  }

  assertOpen(): void {
    if (this.closed)
      throw new SunrayError('sunray was shut down: call sunray.init() again to start a new session');
  }

  /** A record for a new object (put, or a task's return), not yet in the table. */
  newEntry(): Owned {
    const e = new Owned();
    if (recordCallSites) e.callSite = callSite();
    return e;
  }

  writeToStore(id: Buffer, enc: Encoded): void {
    const oid = ObjectId.fromBytes(id);
    const view = this.store.create(oid, enc.size);
    try {
      writeEncoded(enc, view);
    } catch (err) {
      this.store.abort(oid);
      throw err;
    }
    this.store.seal(oid);
  }

  deleteQuietly(id: Buffer): void {
    try {
      this.store.delete(ObjectId.fromBytes(id));
    } catch {
      // already gone
    }
  }

  /**
   * Object `outer` (owned by anyone) has a value that contains refs: each ref
   * gets `outer` as a holder at its owner, and outer's owner learns what it
   * contains so it can drop those holders when it frees `outer`. Sent before
   * anything that lets another process read `outer` (ref-ops.ts).
   */
  addContained(outer: Buffer, refs: readonly ObjectRef<unknown>[]): void {
    if (refs.length === 0) return;
    const outerHex = outer.toString('hex');
    const mine = this.owned.get(outerHex);
    for (const ref of refs) {
      const e = this.owned.get(ref.hex);
      if (e) this.changeHolds(e, () => (e.holders ??= new Set()).add(outerHex));
      else this.backend.refOp(encodeRefOp(RefOp.AddHolder, ref, outer));
      if (mine) (mine.contained ??= []).push(ref.hex);
      else this.backend.refOp(encodeRefOp(RefOp.Contains, outer, ref));
    }
  }

  /** Runs change() on an entry's borrowers/holders, keeping heldByOthers current. */
  private changeHolds(e: Owned, change: () => void): void {
    const before = (e.borrowers?.size ?? 0) + (e.holders?.size ?? 0) > 0;
    change();
    const after = (e.borrowers?.size ?? 0) + (e.holders?.size ?? 0) > 0;
    if (before === after) return;
    this.heldByOthers += after ? 1 : -1;
    if (this.heldByOthers === (after ? 1 : 0)) this.onHeldByOthers?.(after);
  }

  /** Ownership ops for objects this process owns (routed here by the node manager). */
  onRefOps(ops: Buffer): void {
    for (const { op, target, other } of decodeRefOps(ops)) {
      const hex = target.toString('hex');
      const e = this.owned.get(hex);
      if (!e) continue; // freed already: an op that raced with nothing left to keep
      switch (op) {
        case RefOp.AddBorrower:
          this.changeHolds(e, () => (e.borrowers ??= new Set()).add(borrowerHex(other)));
          break;
        case RefOp.RemoveBorrower:
          this.changeHolds(e, () => e.borrowers?.delete(borrowerHex(other)));
          this.maybeFree(hex, e);
          break;
        case RefOp.AddHolder:
          this.changeHolds(e, () => (e.holders ??= new Set()).add(other.toString('hex')));
          break;
        case RefOp.RemoveHolder:
          this.changeHolds(e, () => e.holders?.delete(other.toString('hex')));
          this.maybeFree(hex, e);
          break;
        case RefOp.Contains:
          (e.contained ??= []).push(other.toString('hex'));
          break;
      }
    }
  }

  /** A process exited (or a whole node: a prefix of owner ids): refs it owned are dead here; it no longer borrows ours. */
  onOwnerDied(prefix: string): void {
    this.borrows.ownerDied(prefix);
    for (const [hex, e] of this.owned) {
      const borrowers = e.borrowers;
      if (!borrowers) continue;
      const gone = [...borrowers].filter((b) => b.startsWith(prefix));
      if (gone.length === 0) continue;
      this.changeHolds(e, () => {
        for (const b of gone) borrowers.delete(b);
      });
      this.maybeFree(hex, e);
    }
  }

  /** Refs serialized into a value another process will read: their values must be readable from the store. */
  markEscaped(refs: readonly ObjectRef<unknown>[]): void {
    for (const ref of refs) {
      const e = this.owned.get(ref.hex);
      if (!e) continue;
      if (e.escaped) {
        // Lost from the store since, but still in memory (a small task result): put it back.
        if (e.payload && e.inStore && this.isLost(ref, e)) {
          e.inStore = false;
          this.promote(ref.hex, e, e.payload);
        }
        continue;
      }
      e.escaped = true;
      if (e.state === State.Ready && !e.inStore && e.payload) this.promote(ref.hex, e, e.payload);
      else if (e.state === State.Failed && e.error) this.promoteError(ref.hex, e.error);
    }
  }

  /** Copies a value kept here (payload: e's) into the store, for other processes to read. */
  promote(hex: string, e: Owned, payload: Buffer): void {
    const id = ObjectId.fromHex(hex);
    if (!this.store.contains(id)) {
      const view = this.store.create(id, payload.length);
      view.set(payload);
      this.store.seal(id);
    }
    e.inStore = true;
    // A task's result keeps its bytes here too: should the store copy be lost, it goes back
    // from memory (small results keep no lineage). A put's payload never lived here.
    if (isPutHex(hex)) e.payload = undefined;
  }

  /** Puts an object's error in the store: borrowers read errors from there too. */
  promoteError(hex: string, err: Error): void {
    // Metadata marks the payload as an error.
    const id = ObjectId.fromHex(hex);
    if (this.store.contains(id)) return;
    const payload = encodeErrorRecord(errorRecord(err));
    const view = this.store.create(id, payload.length, { metadata: ERROR_META });
    view.set(payload);
    this.store.seal(id);
  }

  /** An owned result that is Ready in the store but has no copy left there. */
  isLost(ref: Uint8Array, e: Owned): boolean {
    return e.state === State.Ready && e.inStore && !this.store.contains(ObjectId.fromBytes(ref));
  }

  private dropLocalRef(hex: string): void {
    const e = this.owned.get(hex);
    if (!e) return;
    e.localRefs--;
    this.maybeFree(hex, e);
  }

  /** Frees an object once nothing counts it: handles here, borrowers, outer objects, its pending task. */
  maybeFree(hex: string, e: Owned): void {
    if (e.localRefs > 0 || e.state === State.Pending || e.borrowers?.size || e.holders?.size) return;
    this.free(hex, e);
  }

  private free(hex: string, e: Owned): void {
    this.owned.delete(hex);
    if (e.lineage) this.lineage.unuse(e.lineage);
    if (e.size > 0 && isPutHex(hex)) native.adjustExternalMemory(-e.size);
    if (e.contained) {
      // Its value held these refs: that hold ends with it.
      const outer = Buffer.from(hex, 'hex');
      for (const inner of e.contained) {
        const ie = this.owned.get(inner);
        if (ie) {
          this.changeHolds(ie, () => ie.holders?.delete(hex));
          this.maybeFree(inner, ie);
        } else if (!this.closed) {
          this.backend.refOp(encodeRefOp(RefOp.RemoveHolder, Buffer.from(inner, 'hex'), outer));
        }
      }
    }
    if (e.inStore && !this.closed) {
      try {
        this.store.delete(ObjectId.fromHex(hex));
      } catch {
        // Already gone (evicted or deleted): nothing to free.
      }
    }
  }

  /** Calls fn once e is no longer pending: at once if it is settled already. */
  whenSettled(e: Owned, fn: () => void): void {
    if (e.state !== State.Pending) fn();
    else (e.waiters ??= []).push(fn);
  }

  /** Takes back a waiter that gave up (a timeout, an abort, an iteration left early). */
  unwait(e: Owned, fn: () => void): void {
    const ws = e.waiters;
    const i = ws ? ws.indexOf(fn) : -1;
    if (ws && i >= 0) ws.splice(i, 1);
  }

  /** Runs (and forgets) whoever waits for e to settle. */
  wake(e: Owned): void {
    const ws = e.waiters;
    e.waiters = undefined;
    if (ws) for (const w of ws) w();
  }

  /**
   * Resolves once e is no longer pending; rejects with GetTimeoutError after timeoutMs, or with
   * AbortError when signal aborts.
   */
  waitOwned(
    e: Owned,
    timeoutMs: number | undefined,
    ref?: ObjectRef<unknown>,
    signal?: AbortSignal,
  ): Promise<void> {
    if (e.state !== State.Pending) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      // A waiter that gave up (timeout, abort) leaves the list: a long-pending object
      // waited for again and again does not collect dead waiters.
      const drop = () => {
        this.unwait(e, waiter);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        drop();
        if (signal) reject(abortedError(signal, 'get()'));
      };
      (e.waiters ??= []).push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          drop();
          reject(
            new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${ref ?? 'an object'}`),
          );
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ends the session: pending objects fail, nothing is tracked any more, the table empties. */
  close(): void {
    this.closed = true;
    setRefTracker(undefined);
    const err = new SunrayError('sunray was shut down while this object was pending');
    let external = 0;
    for (const [hex, e] of this.owned) {
      if (isPutHex(hex)) external += e.size;
      if (e.state === State.Pending) {
        e.state = State.Failed;
        e.error = err;
        this.wake(e);
      }
    }
    if (external > 0) native.adjustExternalMemory(-external);
    this.owned.clear();
  }
}

/** The error for an object whose every copy is gone (an owned one, or a borrowed one). */
export function lostError(id: Uint8Array): ObjectLostError {
  const ref = `ObjectRef(${Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')})`;
  return new ObjectLostError(
    isPutId(id)
      ? `${ref} was created by put() and every copy is gone (deleted after its last reference was released, ` +
          'or lost with its node); put values cannot be rebuilt: keep a reference while you need it'
      : `${ref} is no longer in the object store (its last reference was released, or its node was lost)`,
  );
}

/**
 * sunray's own code: the directory this file's directory is in (dist/ when built, lib/
 * when run from source), as frames print it (a file URL for ES modules, else a path).
 * Frames under it are not call sites; a user's own lib/ or dist/ elsewhere are.
 */
const OWN_CODE_URL = new URL('..', import.meta.url).href;
const OWN_CODE_PATH = fileURLToPath(OWN_CODE_URL);

/** The first frame of the stack that is neither sunray's nor Node's own: where the user made the object. */
function callSite(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  for (const l of stack.slice(1)) {
    if (!l.includes('at ') || l.includes(OWN_CODE_URL) || l.includes(OWN_CODE_PATH)) continue;
    if (l.includes('(node:') || l.includes('at node:') || l.includes('(<anonymous>)')) continue;
    return l.trim().replace(/^at /, '');
  }
  return '';
}
