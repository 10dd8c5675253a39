// What runs in workers: the remote functions and the actor class of sunray/data, made remote
// by module (`{ module: import.meta.url }`), so workers import this file and take them by name.
// A map task runs a fused stage (a read or input blocks, the transforms, maybe a write) and
// returns [metadata, block]: two results, so that the driver reads the small metadata without
// touching the block, which stays in the store until a later task or the consumer reads it.

import * as arrow from 'apache-arrow';
import { type AggSpec, finishPartials, type Partial, partialOf } from './aggregate.js';
import { type BatchFormat, tableFromBatch, toBatch } from './batch.js';
import { type BlockMeta, concatTables, decodeBlock, encodeBlock } from './block.js';
import { at, must } from './checked.js';
import { type FnSpec, loadFn } from './fn-spec.js';
import { releaseViews } from './pins.js';
import { type WriteSpec, writeBlock } from './sinks.js';
import type { ReadTask } from './sources/read-plan.js';
import { runRead } from './sources/readers.js';
import { compareKeys, keyAt, keyColumns, permutation, seededRandom, sortIndices, take } from './table-ops.js';
import { applyTransforms, type Instances, makeInstances, type Transform } from './transforms.js';

/** A fused stage of row and batch transforms, maybe ending in a write. */
export interface StageSpec {
  transforms: Transform[];
  write?: WriteSpec;
}

/** What a task reports besides its block. */
export interface TaskMeta extends BlockMeta {
  /** Rows the task read (its inputs, or what its read produced). */
  rowsIn: number;
  /** Milliseconds the task ran. */
  ms: number;
  /** Files a write task wrote. */
  files?: string[];
}

function inputTable(inputs: Uint8Array[]): arrow.Table {
  return concatTables(inputs.map((b) => decodeBlock(b)));
}

async function finishStage(
  table: arrow.Table,
  stage: StageSpec,
  index: number,
  rowsIn: number,
  t0: number,
  inBytes: number,
): Promise<[TaskMeta, Uint8Array]> {
  if (stage.write) {
    const file = await writeBlock(table, stage.write, index);
    releaseViews(inBytes);
    return [
      { rows: table.numRows, bytes: 0, rowsIn, ms: performance.now() - t0, files: [file] },
      new Uint8Array(0),
    ];
  }
  const bytes = encodeBlock(table);
  releaseViews(inBytes);
  return [{ rows: table.numRows, bytes: bytes.byteLength, rowsIn, ms: performance.now() - t0 }, bytes];
}

/** A map task: `read` (a read task, or null) or the input blocks, through the stage. */
export async function dataMapTask(
  stage: StageSpec,
  index: number,
  read: ReadTask | null,
  ...inputs: Uint8Array[]
): Promise<[TaskMeta, Uint8Array]> {
  const t0 = performance.now();
  const input = read ? await runRead(read) : inputTable(inputs);
  const out = await applyTransforms(input, stage.transforms);
  return finishStage(out, stage, index, input.numRows, t0, sumBytes(inputs));
}

function sumBytes(inputs: Uint8Array[]): number {
  let n = 0;
  for (const b of inputs) n += b.byteLength;
  return n;
}

/** The actor of a mapBatches class: one instance of the class, fed blocks by the actor pool. */
export class DataMapActor {
  private instances: Promise<Instances>;
  private readonly stage: StageSpec;

  constructor(stage: StageSpec) {
    this.stage = stage;
    this.instances = makeInstances(stage.transforms);
    this.instances.catch(() => {}); // ready() reports it
  }

  /** Resolves once the class's instance is made; throws its constructor's error. */
  async ready(): Promise<number> {
    await this.instances;
    return process.pid;
  }

  /** The stage on one bundle of input blocks. */
  async process(
    index: number,
    read: ReadTask | null,
    ...inputs: Uint8Array[]
  ): Promise<[TaskMeta, Uint8Array]> {
    const t0 = performance.now();
    const instances = await this.instances;
    const input = read ? await runRead(read) : inputTable(inputs);
    const out = await applyTransforms(input, this.stage.transforms, instances);
    return finishStage(out, this.stage, index, input.numRows, t0, sumBytes(inputs));
  }
}

/** Sample key tuples of a block (for the key ranges of sort and groupby). */
export function dataSampleTask(keys: string[], n: number, seed: number, input: Uint8Array): unknown[][] {
  const table = decodeBlock(input);
  const cols = keyColumns(table, keys, 'sort');
  const rows = table.numRows;
  const random = seededRandom(seed);
  const out: unknown[][] = [];
  const k = Math.min(n, rows);
  for (let i = 0; i < k; i++) out.push(keyAt(cols, Math.floor(random() * rows)));
  releaseViews(input.byteLength);
  return out;
}

/** How a partition task splits its block. */
export type PartitionSpec =
  | { kind: 'random'; parts: number; seed: number }
  | { kind: 'range'; parts: number; keys: string[]; descending: boolean[]; boundaries: unknown[][] }
  | { kind: 'aggregate'; parts: number; keys: string[]; aggs: AggSpec[]; boundaries: unknown[][] };

/** The partition of a key tuple among ranges cut at boundaries (ascending or descending). */
export function rangeOf(
  key: readonly unknown[],
  boundaries: readonly unknown[][],
  descending: readonly boolean[],
): number {
  // Binary search for the first boundary above the key.
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = compareKeys(key, at(boundaries, mid), descending);
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * A partition task: the block split into `parts` parts (blocks, or partial aggregation states),
 * returned as parts + 1 results: the parts' metadata first.
 */
export function dataPartitionTask(spec: PartitionSpec, input: Uint8Array): unknown[] {
  const table = decodeBlock(input);
  const P = spec.parts;
  let out: unknown[];
  if (spec.kind === 'aggregate') {
    const partial = partialOf(table, spec.keys, spec.aggs);
    const parts: Partial[] = Array.from({ length: P }, () => ({ keys: [], states: [] }));
    const asc = spec.keys.map(() => false);
    partial.keys.forEach((k, g) => {
      const p = at(parts, spec.keys.length === 0 ? 0 : rangeOf(k, spec.boundaries, asc));
      p.keys.push(k);
      p.states.push(at(partial.states, g));
    });
    out = [parts.map((p) => ({ rows: p.keys.length, bytes: 0 })), ...parts];
  } else {
    const which = new Uint32Array(table.numRows);
    if (spec.kind === 'random') {
      const random = seededRandom(spec.seed);
      for (let i = 0; i < which.length; i++) which[i] = Math.floor(random() * P);
    } else {
      const cols = keyColumns(table, spec.keys, 'sort');
      for (let i = 0; i < which.length; i++)
        which[i] = rangeOf(keyAt(cols, i), spec.boundaries, spec.descending);
    }
    const counts = new Uint32Array(P);
    for (const p of which) counts[p] = at(counts, p) + 1;
    const idx = Array.from({ length: P }, (_, p) => new Uint32Array(at(counts, p)));
    const fill = new Uint32Array(P);
    for (let i = 0; i < which.length; i++) {
      const p = at(which, i);
      at(idx, p)[at(fill, p)] = i;
      fill[p] = at(fill, p) + 1;
    }
    const blocks = idx.map((ix) => encodeBlock(take(table, ix)));
    out = [blocks.map((b, p) => ({ rows: at(counts, p), bytes: b.byteLength })), ...blocks];
  }
  releaseViews(input.byteLength);
  return out;
}

/** How a reduce task combines its parts. */
export type ReduceSpec =
  | { kind: 'concat'; shuffleSeed?: number }
  | { kind: 'sort'; keys: string[]; descending: boolean[] }
  | { kind: 'aggregate'; keys: string[]; aggs: AggSpec[] }
  | { kind: 'mapGroups'; keys: string[]; fn: FnSpec; batchFormat: BatchFormat }
  | { kind: 'slices'; slices: Array<[number, number]> }
  | { kind: 'zip'; leftCount: number; slices: Array<[number, number]> };

function groupRuns(table: arrow.Table, keys: string[]): Array<[number, number]> {
  const cols = keyColumns(table, keys, 'groupby');
  const runs: Array<[number, number]> = [];
  let start = 0;
  for (let i = 1; i <= table.numRows; i++) {
    if (i === table.numRows || cols.some((c) => !sameValue(c[i], c[start]))) {
      if (i > start) runs.push([start, i]);
      start = i;
    }
  }
  return runs;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return typeof a === 'object' && a !== null && JSON.stringify(a) === JSON.stringify(b);
}

function zipTables(left: arrow.Table, right: arrow.Table): arrow.Table {
  const cols: Record<string, arrow.Vector> = {};
  for (const f of left.schema.fields) cols[f.name] = must(left.getChild(f.name));
  for (const f of right.schema.fields) {
    let name = f.name;
    for (let k = 1; name in cols; k++) name = `${f.name}_${k}`;
    cols[name] = must(right.getChild(f.name));
  }
  return new arrow.Table(cols);
}

/** A reduce task: its parts (one from each partition task, or input blocks) into one block. */
export async function dataReduceTask(spec: ReduceSpec, ...parts: unknown[]): Promise<[TaskMeta, Uint8Array]> {
  const t0 = performance.now();
  const inBytes = parts.reduce<number>((a, p) => a + (p instanceof Uint8Array ? p.byteLength : 0), 0);
  let table: arrow.Table;
  let rowsIn = 0;
  if (spec.kind === 'aggregate') {
    const partials = parts as Partial[];
    rowsIn = partials.reduce((a, p) => a + p.keys.length, 0);
    table = finishPartials(partials, spec.keys, spec.aggs);
  } else if (spec.kind === 'slices' || spec.kind === 'zip') {
    const tables = (parts as Uint8Array[]).map((b) => decodeBlock(b));
    const sliced = tables.map((t, i) => {
      if (spec.kind === 'zip' && i < spec.leftCount) return t;
      const [a, b] = at(spec.slices, spec.kind === 'zip' ? i - spec.leftCount : i);
      return t.slice(a, b);
    });
    if (spec.kind === 'zip') {
      table = zipTables(
        concatTables(sliced.slice(0, spec.leftCount)),
        concatTables(sliced.slice(spec.leftCount)),
      );
    } else table = concatTables(sliced);
    rowsIn = table.numRows;
  } else {
    table = concatTables((parts as Uint8Array[]).map((b) => decodeBlock(b)));
    rowsIn = table.numRows;
    if (spec.kind === 'concat' && spec.shuffleSeed !== undefined) {
      table = take(table, permutation(table.numRows, seededRandom(spec.shuffleSeed)));
    } else if (spec.kind === 'sort') {
      table = take(table, sortIndices(table, spec.keys, spec.descending, 'sort'));
    } else if (spec.kind === 'mapGroups') {
      table = take(
        table,
        sortIndices(
          table,
          spec.keys,
          spec.keys.map(() => false),
          'groupby',
        ),
      );
      const fn = (await loadFn(spec.fn)) as (b: unknown) => unknown;
      const outs: arrow.Table[] = [];
      for (const [a, b] of groupRuns(table, spec.keys)) {
        outs.push(
          tableFromBatch(await fn(toBatch(table.slice(a, b), spec.batchFormat)), 'mapGroups function'),
        );
      }
      table = concatTables(outs);
    }
  }
  const bytes = encodeBlock(table);
  releaseViews(inBytes);
  return [{ rows: table.numRows, bytes: bytes.byteLength, rowsIn, ms: performance.now() - t0 }, bytes];
}
