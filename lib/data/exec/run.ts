// Running a logical plan: fusion, then the streaming executor, with the context of the moment.
// The plan's blocks come out as bundles; helpers here collect them as kept blocks (materialize)
// or split blocks at a row (trainTestSplit).
import * as sunray from '../../index.js';
import { DataContext } from '../context.js';
import { fuse } from '../fusion.js';
import type { InputBlock, LogicalOp } from '../plan.js';
import type { TaskMeta } from '../tasks.js';
import type { Bundle } from './bundle.js';
import { type ExecutionStats, StreamingExecutor } from './executor.js';
import { remoteFns } from './remote.js';

/** A running execution: its blocks as they come, and its figures. */
export interface Execution {
  blocks: AsyncGenerator<Bundle>;
  stats: ExecutionStats;
}

/** Starts executing a plan. */
export function execute(plan: LogicalOp, context = DataContext.getCurrent()): Execution {
  const exec = new StreamingExecutor(fuse(plan), context.snapshot());
  return { blocks: exec.run(), stats: exec.stats };
}

/** Every block of the execution, kept (the caller owns the refs). */
export async function collectBlocks(ex: Execution): Promise<InputBlock[]> {
  const out: InputBlock[] = [];
  for await (const b of ex.blocks)
    out.push({ ref: b.keep(), meta: { rows: b.meta.rows, bytes: b.meta.bytes } });
  return out;
}

/** Rows [start, end) of a block, as a new block (a task). */
export async function sliceBlock(b: InputBlock, start: number, end: number): Promise<InputBlock> {
  const [metaRef, blockRef] = remoteFns()
    .map.options({ numReturns: 2, name: 'data:split' })
    .remote({ transforms: [{ op: 'slice', start, end }] }, 0, null, b.ref) as unknown as [
    sunray.ObjectRef<TaskMeta>,
    sunray.ObjectRef<Uint8Array>,
  ];
  try {
    const meta = await sunray.get(metaRef);
    return { ref: blockRef, meta: { rows: meta.rows, bytes: meta.bytes } };
  } finally {
    metaRef.release();
  }
}

/** The blocks split at row k: those before, and those after (the block across k is sliced). */
export async function splitBlocksAt(blocks: InputBlock[], k: number): Promise<[InputBlock[], InputBlock[]]> {
  const before: InputBlock[] = [];
  const after: InputBlock[] = [];
  let seen = 0;
  for (const b of blocks) {
    if (seen + b.meta.rows <= k) before.push(b);
    else if (seen >= k) after.push(b);
    else {
      const cut = k - seen;
      const [x, y] = await Promise.all([sliceBlock(b, 0, cut), sliceBlock(b, cut, b.meta.rows)]);
      before.push(x);
      after.push(y);
    }
    seen += b.meta.rows;
  }
  return [before, after];
}
