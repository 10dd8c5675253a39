// One process's view of its refs, as rows for memorySummary() and `sunray memory`.
// Kinds follow `ray memory`: why is this object still alive?
import { ObjectId, type ObjectStore } from '../../store/index.js';

export type RefKind = 'local' | 'submitted' | 'borrowed' | 'pinned' | 'spilled' | 'pending';

export interface MemoryRow {
  /** Object id (hex). */
  id: string;
  /** Owner id (hex): the process that created the ref. */
  owner: string;
  /** The process this row comes from. */
  pid: number;
  /** Why the object is alive in this process (see docs/memory.md). */
  kind: RefKind;
  /** pending, ready or failed (owned objects); 'borrowed' for others' objects. */
  state: string;
  /** Its size in bytes, as far as this process knows (0 when it does not). */
  size: number;
  /** Whether it is in the node's shared-memory store. */
  inStore: boolean;
  /** Handles (ObjectRefs) alive in this process, task-argument holds included. */
  localRefs: number;
  /** Unfinished tasks this process submitted that take it as an argument. */
  submitted: number;
  /** Other processes (owner ids) the owner knows hold handles to it. */
  borrowers: string[];
  /** Objects (ids) whose values contain it. */
  holders: string[];
  /** Whether its task's lineage is kept, so a lost copy can be rebuilt. */
  rebuildable: boolean;
  /** Where the object was made, with init({ recordCallSites: true }); '' otherwise. */
  callSite: string;
}

/** What a row needs from an owned entry (core-worker.ts's Owned). */
export interface OwnedView {
  state: 0 | 1 | 2; // Pending, Ready, Failed
  inStore: boolean;
  size: number;
  localRefs: number;
  borrowers: ReadonlySet<string> | undefined;
  holders: ReadonlySet<string> | undefined;
  lineage: unknown;
  callSite: string;
}

export function summarize(
  ownerHex: string,
  owned: ReadonlyMap<string, OwnedView>,
  borrowed: ReadonlyArray<[string, number]>,
  submittedArgs: ReadonlyMap<string, number>,
  store: Pick<ObjectStore, 'list' | 'tryGet'>,
): MemoryRow[] {
  let spilled: Set<string> | undefined;
  const isSpilled = (hex: string) => {
    if (!spilled) {
      spilled = new Set();
      try {
        for (const o of store.list()) if (o.state === 'spilled') spilled.add(o.id.hex());
      } catch {
        // store closed
      }
    }
    return spilled.has(hex);
  };
  const rows: MemoryRow[] = [];
  for (const [id, e] of owned) {
    const submitted = submittedArgs.get(id) ?? 0;
    const borrowers = e.borrowers ? [...e.borrowers] : [];
    const holders = e.holders ? [...e.holders] : [];
    const kind: RefKind =
      e.state === 0
        ? 'pending'
        : e.inStore && isSpilled(id)
          ? 'spilled'
          : e.localRefs > submitted
            ? 'local'
            : submitted > 0
              ? 'submitted'
              : borrowers.length + holders.length > 0
                ? 'pinned'
                : 'local';
    rows.push({
      id,
      owner: ownerHex,
      pid: process.pid,
      kind,
      state: e.state === 0 ? 'pending' : e.state === 1 ? 'ready' : 'failed',
      size: e.size,
      inStore: e.inStore,
      localRefs: e.localRefs,
      submitted,
      borrowers,
      holders,
      rebuildable: e.lineage !== undefined,
      callSite: e.callSite,
    });
  }
  for (const [id, n] of borrowed) {
    let size = 0;
    let inStore = false;
    try {
      const obj = store.tryGet(ObjectId.fromHex(id));
      if (obj) {
        size = obj.data.length;
        inStore = true;
        obj.release();
      }
    } catch {
      // store closed
    }
    rows.push({
      id,
      owner: id.slice(0, 32),
      pid: process.pid,
      kind: 'borrowed',
      state: 'borrowed',
      size,
      inStore,
      localRefs: n,
      submitted: submittedArgs.get(id) ?? 0,
      borrowers: [],
      holders: [],
      rebuildable: false,
      callSite: '',
    });
  }
  return rows;
}
