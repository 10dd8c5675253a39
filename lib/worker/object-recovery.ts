// Object recovery (Ray's object_recovery_manager): when a task's result lands
// in the store, its owner keeps the task's lineage (its spec, its function and
// what its arguments need: ownership/lineage.ts); should every copy of the
// result be lost, the task runs again under the same id, its lost store
// arguments rebuilt first. Bounded by each task's maxRetries and by the
// lineage memory cap (the oldest lineage is dropped first).
import { ObjectLostError } from '../base/errors.js';
import { IdGenerator, TASK_ID_SIZE } from '../base/ids.js';
import type { ObjectRef } from '../base/object-ref.js';
import { ArgKind, decodeArgs, type FunctionDef, type TaskSpec } from '../protocol/spec.js';
import { ObjectId } from '../store/index.js';
import type { Backend } from './backend.js';
import { type Lineage, type LineageTable, lineageBytes } from './ownership/lineage.js';
import { lostError, type Owned, type OwnerStore, type ReferenceTable, State } from './reference-table.js';

/** What a submitted task holds until it ends: store temporaries made for its arguments, and its ref arguments. */
export interface PendingArgs {
  temps: Buffer[];
  argRefs: ObjectRef<unknown>[];
}

export class ObjectRecovery {
  /** Functions of submitted tasks, by fnId: what lineage needs to run one again. */
  private readonly taskDefs = new Map<string, FunctionDef>();
  /** The lineage kept last: the other returns of the same task share it. */
  private recentLineage: { taskHex: string; lineage: Lineage } | undefined;

  constructor(
    private readonly refs: ReferenceTable,
    private readonly lineage: LineageTable,
    private readonly backend: Pick<Backend, 'submit'>,
    private readonly store: OwnerStore,
  ) {}

  /** A task of def was submitted: its lineage, if kept, names def. */
  rememberDef(def: FunctionDef): void {
    if (this.taskDefs.get(def.fnId) !== def) this.taskDefs.set(def.fnId, def);
  }

  /**
   * A result of `spec` landed in the store: keep how to make it again. The task's held
   * arguments (from pendingArgs, the submitter's) move into its lineage and stay held.
   */
  keepLineage(hex: string, e: Owned, spec: TaskSpec, pendingArgs: Map<string, PendingArgs>): void {
    const taskHex = hex.slice(0, TASK_ID_SIZE * 2);
    let l = this.recentLineage?.taskHex === taskHex ? this.recentLineage.lineage : undefined;
    if (!l) {
      const held = pendingArgs.get(taskHex);
      pendingArgs.delete(taskHex);
      const temps = held?.temps ?? [];
      const argRefs = held?.argRefs ?? [];
      const def = this.taskDefs.get(spec.fnId);
      if (!def) {
        // Never submitted from here (cannot happen): nothing to rebuild it with.
        for (const t of temps) this.refs.deleteQuietly(t);
        return;
      }
      l = {
        spec,
        def,
        temps,
        argRefs,
        rebuilds: 0,
        users: 0,
        bytes: lineageBytes(spec, temps, argRefs),
        evicted: false,
      };
      this.lineage.add(l);
      this.recentLineage = { taskHex, lineage: l };
    }
    l.users++;
    e.lineage = l;
  }

  /** What a dropped lineage kept: its argument temporaries go from the store, its refs are let go. */
  releaseLineage(l: Lineage): void {
    for (const t of l.temps) this.refs.deleteQuietly(t);
    l.temps = [];
    l.argRefs = [];
    if (this.recentLineage?.lineage === l) this.recentLineage = undefined;
  }

  /**
   * Makes a lost result again: its lost store arguments first (recursively),
   * then its task, under the same id. For node-loss handling too: call it for a
   * ref this process owns whose copies went with a node.
   */
  recover(hex: string, e: Owned): Promise<void> {
    if (e.rebuilding) return e.rebuilding;
    const id = Buffer.from(hex, 'hex');
    if (!this.refs.isLost(id, e)) return Promise.resolve();
    if (e.payload) {
      // A small result promoted to the store: its bytes are still here.
      try {
        e.inStore = false;
        this.refs.promote(hex, e, e.payload);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const l = e.lineage;
    if (!l || l.evicted) {
      return Promise.reject(
        l?.evicted
          ? new ObjectLostError(
              `ObjectRef(${hex}) is lost and cannot be rebuilt: the lineage to rebuild it was dropped to stay ` +
                'under lineageMemory. Raise init({ lineageMemory }) or keep fewer large results alive at once.',
            )
          : lostError(id),
      );
    }
    if (l.rebuilds >= l.spec.maxRetries) {
      return Promise.reject(
        new ObjectLostError(
          `ObjectRef(${hex}) is lost again and was already rebuilt ${l.rebuilds} time(s), the task's maxRetries; ` +
            'raise maxRetries in remote()/options() to allow more rebuilds',
        ),
      );
    }
    l.rebuilds++;
    const p = this.rebuild(hex, e, l);
    e.rebuilding = p;
    const clear = () => {
      e.rebuilding = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  private async rebuild(hex: string, e: Owned, l: Lineage): Promise<void> {
    for (const a of decodeArgs(l.spec.args)) {
      if (a.kind !== ArgKind.StoreRef) continue;
      const ah = a.id.toString('hex');
      const ae = this.refs.owned.get(ah);
      if (ae && this.refs.isLost(a.id, ae)) await this.recover(ah, ae);
    }
    for (const t of l.temps) {
      if (!this.store.contains(ObjectId.fromBytes(t))) {
        throw new ObjectLostError(
          `ObjectRef(${hex}) is lost and cannot be rebuilt: a large argument of its task was lost too`,
        );
      }
    }
    for (let i = 0; i < l.spec.numReturns; i++) {
      const rid = IdGenerator.returnId(l.spec.taskId, i);
      const re = this.refs.owned.get(rid.toString('hex'));
      if (re && this.refs.isLost(rid, re)) re.state = State.Pending;
    }
    this.backend.submit(l.spec, l.def);
    await this.refs.waitOwned(e, undefined);
  }
}
