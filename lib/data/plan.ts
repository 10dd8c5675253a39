// The logical plan of a dataset: a tree of operators, built lazily by the Dataset methods and
// run only when the dataset is consumed. Plain data (functions travel as FnSpecs, blocks as
// refs), so that a plan can be sent to an actor (streamingSplit's coordinator) and run there.
import type { ObjectRef } from '../index.js';
import type { AggSpec } from './aggregate.js';
import type { BatchFormat } from './batch.js';
import type { BlockMeta } from './block.js';
import type { FnSpec } from './fn-spec.js';
import type { WriteSpec } from './sinks.js';
import type { PlannedRead } from './sources/read-plan.js';
import type { Transform } from './transforms.js';

/** Where a map runs: tasks, or a pool of actors (mapBatches with a class). */
export interface Compute {
  kind: 'tasks' | 'actors';
  /** Actors in the pool (actors only). */
  size: number;
  numCpus?: number;
  numGpus?: number;
}

/** A block that exists already (fromItems, fromArrow, a materialized dataset). */
export interface InputBlock {
  ref: ObjectRef<Uint8Array>;
  meta: BlockMeta;
}

/** An all-to-all operation: every output block depends on every input block. */
export type AllToAllSpec =
  | { kind: 'repartition'; numBlocks: number }
  | { kind: 'randomShuffle'; seed: number | undefined; numBlocks?: number }
  | { kind: 'sort'; keys: string[]; descending: boolean[] }
  | { kind: 'aggregate'; keys: string[]; aggs: AggSpec[] }
  | { kind: 'mapGroups'; keys: string[]; fn: FnSpec; batchFormat: BatchFormat };

/** One operator of the logical plan. */
export type LogicalOp =
  | { kind: 'read'; name: string; reads: PlannedRead[] }
  | { kind: 'input'; name: string; blocks: InputBlock[] }
  | { kind: 'map'; name: string; input: LogicalOp; transform: Transform; compute: Compute; minRows?: number }
  | { kind: 'write'; name: string; input: LogicalOp; spec: WriteSpec }
  | { kind: 'limit'; name: string; input: LogicalOp; n: number }
  | { kind: 'allToAll'; name: string; input: LogicalOp; spec: AllToAllSpec }
  | { kind: 'union'; name: string; inputs: LogicalOp[] }
  | { kind: 'zip'; name: string; inputs: [LogicalOp, LogicalOp] };

/** A short description of a plan, outermost operator last: 'ReadCSV -> Map(f) -> Sort'. */
export function describe(op: LogicalOp): string {
  switch (op.kind) {
    case 'read':
    case 'input':
      return op.name;
    case 'union':
    case 'zip':
      return `${op.name}(${op.inputs.map(describe).join(', ')})`;
    default:
      return `${describe(op.input)} -> ${op.name}`;
  }
}
