// All-to-all operators at run time: they wait for every input block, then run map tasks that
// split each block into partitions and reduce tasks that combine partition i of every block
// (shuffle, sort, groupby), or reduce tasks over slices of the inputs (repartition, zip).
// Their inputs do not count against the budget of the operators before them (a barrier must
// see everything); when the blocks outgrow the store, the store spills them to disk.

import * as sunray from '../../index.js';
import { at } from '../checked.js';
import { SchemaMismatchError } from '../errors.js';
import type { PhysicalOp } from '../fusion.js';
import { compareKeys } from '../table-ops.js';
import type { PartitionSpec, ReduceSpec, TaskMeta } from '../tasks.js';
import type { Bundle } from './bundle.js';
import { type ExecCtx, OpState } from './op-state.js';
import { planPartitions, planSlices, type Slice } from './partitioning.js';
import { remoteFns } from './remote.js';

type AllToAllPhys = Extract<PhysicalOp, { kind: 'allToAll' | 'zip' }>;

/** Samples per block for the key ranges of sort and groupby. */
const SAMPLES_PER_BLOCK = 32;

export class AllToAllOp extends OpState {
  private readonly inputs: Bundle[][];
  private phase: 'collect' | 'running' | 'done' = 'collect';
  private readonly pending = new Set<sunray.ObjectRef<unknown>>();

  constructor(
    private readonly phys: AllToAllPhys,
    ctx: ExecCtx,
  ) {
    super(phys.name, phys.kind === 'zip' ? 2 : 1, ctx);
    this.inputs = phys.kind === 'zip' ? [[], []] : [[]];
  }

  protected accept(b: Bundle, input: number): void {
    at(this.inputs, input).push(b.detach());
  }

  canStart(): boolean {
    return this.phase === 'collect' && this.allInputsDone && !this.stopped;
  }

  start(): void {
    this.phase = 'running';
    this.running++;
    this.noteStart();
    this.run().then(
      () => {
        this.running--;
        this.phase = 'done';
        this.ctx.notify();
      },
      (err) => {
        this.running--;
        this.phase = 'done';
        if (!this.stopped) this.error = err;
        this.ctx.notify();
      },
    );
  }

  finished(): boolean {
    return this.phase === 'done' || (this.stopped && this.running === 0);
  }

  nextTaskBytes(): number {
    return 0;
  }

  override stop(): void {
    super.stop();
    for (const list of this.inputs) for (const b of list.splice(0)) b.release();
    for (const r of this.pending) {
      try {
        sunray.cancel(r);
      } catch {
        // done meanwhile
      }
    }
  }

  private track<T>(ref: sunray.ObjectRef<T>): Promise<T> {
    this.pending.add(ref);
    return sunray.get(ref).finally(() => this.pending.delete(ref));
  }

  /** Runs reduce tasks in order and emits their blocks in order as they finish. */
  private async reduce(specs: ReduceSpec[], args: Bundle[][]): Promise<void> {
    const runs = specs.map((spec, i) => {
      const [metaRef, blockRef] = remoteFns()
        .reduce.options({ numReturns: 2, name: `data:${this.name}:reduce` })
        .remote(spec, ...at(args, i).map((b) => b.ref)) as unknown as [
        sunray.ObjectRef<TaskMeta>,
        sunray.ObjectRef<Uint8Array>,
      ];
      return { metaRef, blockRef, meta: this.track(metaRef) };
    });
    let failed: unknown;
    for (let i = 0; i < runs.length; i++) {
      const r = at(runs, i);
      try {
        const meta = await r.meta;
        this.stats.taskMs += meta.ms;
        this.stats.tasks++;
        // The reduce result keeps its arguments alive (lineage): it holds them.
        this.emit(this.produce(r.blockRef, meta, at(args, i)));
      } catch (err) {
        failed ??= err;
        r.blockRef.release();
        for (const b of at(args, i)) b.release();
      } finally {
        r.metaRef.release();
      }
    }
    if (failed) throw failed;
  }

  private async run(): Promise<void> {
    if (this.phys.kind === 'zip') return this.runZip();
    const spec = this.phys.spec;
    const blocks = at(this.inputs, 0).splice(0);
    if (spec.kind === 'repartition') {
      const slices = planSlices(
        blocks.map((b) => b.rows),
        spec.numBlocks,
      );
      return this.reduce(
        slices.map((s) => ({ kind: 'slices', slices: s.map((x) => [x.start, x.end]) })),
        slices.map((s) => s.map((x) => at(blocks, x.block).retain())),
      ).finally(() => releaseAll(blocks));
    }
    // A global aggregation has one group: one reduce task.
    const global = spec.kind === 'aggregate' && spec.keys.length === 0;
    const P = global
      ? 1
      : Math.max(1, 'numBlocks' in spec && spec.numBlocks ? spec.numBlocks : blocks.length);
    let part: (i: number) => PartitionSpec;
    let reduceSpec: ReduceSpec;
    if (spec.kind === 'randomShuffle') {
      const seed = spec.seed ?? Math.floor(Math.random() * 2 ** 31);
      part = (i) => ({ kind: 'random', parts: P, seed: seed * 7919 + i });
      reduceSpec = { kind: 'concat', shuffleSeed: seed };
    } else {
      const keys = spec.keys;
      const descending = spec.kind === 'sort' ? spec.descending : keys.map(() => false);
      const boundaries = keys.length === 0 ? [] : await this.boundaries(blocks, keys, descending, P);
      if (spec.kind === 'aggregate') {
        part = () => ({ kind: 'aggregate', parts: P, keys, aggs: spec.aggs, boundaries });
        reduceSpec = { kind: 'aggregate', keys, aggs: spec.aggs };
      } else {
        part = () => ({ kind: 'range', parts: P, keys, descending, boundaries });
        reduceSpec =
          spec.kind === 'sort'
            ? { kind: 'sort', keys, descending }
            : { kind: 'mapGroups', keys, fn: spec.fn, batchFormat: spec.batchFormat };
      }
    }
    const parts = await this.partition(blocks, P, part);
    await this.reduce(
      Array.from({ length: P }, (_, j) =>
        spec.kind === 'randomShuffle'
          ? {
              ...reduceSpec,
              shuffleSeed: (reduceSpec.kind === 'concat' ? (reduceSpec.shuffleSeed ?? 0) : 0) * 31 + j,
            }
          : reduceSpec,
      ),
      Array.from({ length: P }, (_, j) => parts.map((p) => at(p, j))),
    );
  }

  /** P - 1 key tuples that cut sampled keys into P ranges of about equal counts. */
  private async boundaries(
    blocks: Bundle[],
    keys: string[],
    descending: boolean[],
    P: number,
  ): Promise<unknown[][]> {
    const refs = blocks.map((b, i) =>
      remoteFns()
        .sample.options({ name: `data:${this.name}:sample` })
        .remote(keys, SAMPLES_PER_BLOCK, i + 1, b.ref),
    );
    const samples = (await Promise.all(refs.map((r) => this.track(r)))).flat();
    for (const r of refs) r.release();
    return planPartitions(samples, P, (a, b) => compareKeys(a, b, descending));
  }

  /** Partition tasks over every block: parts[i][j] is partition j of block i. */
  private async partition(
    blocks: Bundle[],
    P: number,
    spec: (i: number) => PartitionSpec,
  ): Promise<Bundle[][]> {
    const calls = blocks.map((b, i) => {
      const refs = remoteFns()
        .partition.options({ numReturns: P + 1, name: `data:${this.name}:map` })
        .remote(spec(i), b.ref) as unknown as sunray.ObjectRef<unknown>[];
      return { refs, metas: this.track(at(refs, 0)) as Promise<Array<{ rows: number; bytes: number }>> };
    });
    const out: Bundle[][] = [];
    let failed: unknown;
    for (let i = 0; i < calls.length; i++) {
      const c = at(calls, i);
      const input = at(blocks, i);
      try {
        const metas = await c.metas;
        this.stats.tasks++;
        // Each part keeps its input alive (lineage) until the part is freed.
        out.push(
          c.refs
            .slice(1)
            .map((r, j) => this.produce(r as sunray.ObjectRef<Uint8Array>, at(metas, j), [input.retain()])),
        );
      } catch (err) {
        failed ??= err;
        for (const r of c.refs.slice(1)) r.release();
      } finally {
        at(c.refs, 0).release();
        input.release();
      }
    }
    if (failed) {
      for (const list of out) releaseAll(list);
      throw failed;
    }
    return out;
  }

  private async runZip(): Promise<void> {
    const [left, right] = [at(this.inputs, 0).splice(0), at(this.inputs, 1).splice(0)];
    const lrows = left.reduce((a, b) => a + b.rows, 0);
    const rrows = right.reduce((a, b) => a + b.rows, 0);
    if (lrows !== rrows) {
      releaseAll(left);
      releaseAll(right);
      throw new SchemaMismatchError(
        `zip(): the datasets have different numbers of rows (${lrows} and ${rrows}); zip pairs rows one to one`,
      );
    }
    const slices: Slice[][] = planSlices(
      right.map((b) => b.rows),
      left.length,
      left.map((b) => b.rows),
    );
    await this.reduce(
      left.map((_, i) => ({ kind: 'zip', leftCount: 1, slices: at(slices, i).map((s) => [s.start, s.end]) })),
      left.map((l, i) => [l.retain(), ...at(slices, i).map((s) => at(right, s.block).retain())]),
    ).finally(() => {
      releaseAll(left);
      releaseAll(right);
    });
  }
}

function releaseAll(list: Bundle[]): void {
  for (const b of list) b.release();
}
