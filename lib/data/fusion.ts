// The physical plan: the logical plan with adjacent maps fused into one operator, so that a
// chain of transforms (and the read before them, and the write after them) runs as one task
// per block instead of one task per transform with a store round trip between each. As Ray
// Data fuses: task maps fuse when they ask for the same resources; a task map (not a read)
// fuses into a following actor-pool map; nothing fuses after an actor-pool map, a limit or an
// all-to-all operation (their outputs are the boundary).
import type { AllToAllSpec, Compute, InputBlock, LogicalOp } from './plan.js';
import type { WriteSpec } from './sinks.js';
import type { PlannedRead } from './sources/read-plan.js';
import type { Transform } from './transforms.js';

/** One operator of the physical plan. */
export type PhysicalOp =
  | {
      kind: 'map';
      name: string;
      /** The read tasks it starts from, or undefined when it takes blocks from `input`. */
      reads?: PlannedRead[];
      input?: PhysicalOp;
      transforms: Transform[];
      write?: WriteSpec;
      compute: Compute;
      /** Bundle input blocks until a task gets at least this many rows (mapBatches batchSize). */
      minRows: number;
    }
  | { kind: 'input'; name: string; blocks: InputBlock[] }
  | { kind: 'limit'; name: string; input: PhysicalOp; n: number }
  | { kind: 'allToAll'; name: string; input: PhysicalOp; spec: AllToAllSpec }
  | { kind: 'union'; name: string; inputs: PhysicalOp[] }
  | { kind: 'zip'; name: string; inputs: [PhysicalOp, PhysicalOp] };

function sameResources(a: Compute, b: Compute): boolean {
  return (a.numCpus ?? 1) === (b.numCpus ?? 1) && (a.numGpus ?? 0) === (b.numGpus ?? 0);
}

/** Whether a map with `compute` may join the map operator `up`. */
export function canFuse(up: PhysicalOp, compute: Compute): boolean {
  if (up.kind !== 'map' || up.write) return false;
  if (up.compute.kind === 'actors') return false;
  if (compute.kind === 'tasks') return sameResources(up.compute, compute);
  // Task map into an actor pool: the pool runs both; reads stay tasks (they parallelize).
  return up.reads === undefined && (up.compute.numGpus ?? 0) === 0;
}

/** The physical plan of a logical plan. */
export function fuse(op: LogicalOp): PhysicalOp {
  switch (op.kind) {
    case 'read':
      return {
        kind: 'map',
        name: op.name,
        reads: op.reads,
        transforms: [],
        compute: { kind: 'tasks', size: 0 },
        minRows: 0,
      };
    case 'input':
      return { kind: 'input', name: op.name, blocks: op.blocks };
    case 'map': {
      const up = fuse(op.input);
      if (canFuse(up, op.compute) && up.kind === 'map') {
        return {
          ...up,
          name: `${up.name}->${op.name}`,
          transforms: [...up.transforms, op.transform],
          compute: op.compute.kind === 'actors' ? op.compute : up.compute,
          minRows: Math.max(up.minRows, op.minRows ?? 0),
        };
      }
      return {
        kind: 'map',
        name: op.name,
        input: up,
        transforms: [op.transform],
        compute: op.compute,
        minRows: op.minRows ?? 0,
      };
    }
    case 'write': {
      const up = fuse(op.input);
      if (up.kind === 'map' && !up.write) return { ...up, name: `${up.name}->${op.name}`, write: op.spec };
      return {
        kind: 'map',
        name: op.name,
        input: up,
        transforms: [],
        write: op.spec,
        compute: { kind: 'tasks', size: 0 },
        minRows: 0,
      };
    }
    case 'limit':
      return { kind: 'limit', name: op.name, input: fuse(op.input), n: op.n };
    case 'allToAll':
      return { kind: 'allToAll', name: op.name, input: fuse(op.input), spec: op.spec };
    case 'union':
      return { kind: 'union', name: op.name, inputs: op.inputs.map(fuse) };
    case 'zip':
      return { kind: 'zip', name: op.name, inputs: [fuse(op.inputs[0]), fuse(op.inputs[1])] };
  }
}

/** The physical operators, inputs before the operators that read them. */
export function topoOrder(root: PhysicalOp): PhysicalOp[] {
  const out: PhysicalOp[] = [];
  const visit = (op: PhysicalOp) => {
    if (op.kind === 'map' && op.input) visit(op.input);
    else if (op.kind === 'limit' || op.kind === 'allToAll') visit(op.input);
    else if (op.kind === 'union' || op.kind === 'zip') op.inputs.forEach(visit);
    out.push(op);
  };
  visit(root);
  return out;
}
