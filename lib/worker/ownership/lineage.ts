// Lineage: how to make a task's result again. An owner keeps the spec of each
// finished task whose result lives in the object store (small results live in
// the owner's own memory and cannot be lost), together with what its arguments
// need: the refs passed (so argument objects stay, or can be rebuilt in turn)
// and the temporary store copies of large inline arguments. A result whose
// every copy is gone is rebuilt by running the task again under the same id.
// Bounded twice: each task at most maxRetries rebuilds, and all lineage kept at
// most `lineageMemory` bytes (the oldest is dropped first; its results, if
// lost later, give ObjectLostError saying so).
import type { ObjectRef } from '../../base/object-ref.js';
import type { FunctionDef, TaskSpec } from '../../protocol/spec.js';

export interface Lineage {
  spec: TaskSpec;
  def: FunctionDef;
  /** Arguments kept for a rebuild: store temporaries (ids) and the refs passed. */
  temps: Buffer[];
  argRefs: ObjectRef<unknown>[];
  /** Rebuilds so far (at most spec.maxRetries). */
  rebuilds: number;
  /** Result entries that still use this lineage. */
  users: number;
  bytes: number;
  /** Set when dropped to stay under the memory cap. */
  evicted: boolean;
}

/** Default cap on lineage kept per process (init option lineageMemory). */
export const DEFAULT_LINEAGE_MEMORY = 64 * 1024 * 1024;

/** Bookkeeping of an estimated size per lineage, oldest first, under a cap. */
export class LineageTable {
  private readonly order = new Set<Lineage>();
  private bytes = 0;

  constructor(
    private readonly cap: number,
    /** Frees what a lineage kept (its temporaries and argument refs). */
    private readonly release: (l: Lineage) => void,
  ) {}

  add(l: Lineage): void {
    this.order.add(l);
    this.bytes += l.bytes;
    for (const old of this.order) {
      if (this.bytes <= this.cap || old === l) break;
      this.drop(old, true);
    }
  }

  /** One result that used `l` is gone; the last one frees it. */
  unuse(l: Lineage): void {
    if (--l.users <= 0) this.drop(l, false);
  }

  private drop(l: Lineage, evicted: boolean): void {
    if (!this.order.delete(l)) return;
    this.bytes -= l.bytes;
    l.evicted = evicted;
    this.release(l);
  }

  get size(): number {
    return this.bytes;
  }
}

export function lineageBytes(spec: TaskSpec, temps: Buffer[], argRefs: unknown[]): number {
  // The spec's own fields, its encoded arguments, and what it keeps alive by reference.
  return 256 + spec.args.length + temps.length * 64 + argRefs.length * 64;
}
