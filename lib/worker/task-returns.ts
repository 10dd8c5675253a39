// A task's results as its reply carries them: each returned value encoded, small ones
// inline in the reply, large ones written once, straight into the store under their final
// return id. A write that finds the store full of pinned or unsealed objects can be left
// for the executor to run once there is room, as get() waits (docs/store.md).
import { InvalidArgumentError } from '../base/errors.js';
import { IdGenerator } from '../base/ids.js';
import { encode, encodeToBuffer, writeEncoded } from '../base/serialization.js';
import type { TaskSpec } from '../protocol/spec.js';
import { ReturnKind, type TaskReturn } from '../protocol/worker-messages.js';
import { isStoreFull, ObjectId } from '../store/index.js';
import { type CoreWorker, INLINE_LIMIT } from './core-worker.js';

/** The values a task returned: [result], or result itself when it declared numReturns > 1. */
export function returnValues(spec: TaskSpec, result: unknown): unknown[] {
  if (spec.numReturns === 1) return [result];
  if (Array.isArray(result) && result.length === spec.numReturns) return result;
  throw new InvalidArgumentError(
    `${spec.name} was declared with numReturns: ${spec.numReturns} but returned ` +
      `${Array.isArray(result) ? `an array of ${result.length}` : 'a non-array'}; return an array of that length`,
  );
}

/**
 * Encodes values as returns first, first + 1, ... of spec's task. Given `deferred`, a store
 * write that finds the store full (and every write after it) is left there for the caller to
 * run once there is room, instead of failing the task. heldRefs: some value contains refs.
 */
export function encodeReturns(
  core: Pick<CoreWorker, 'markEscaped' | 'addContained' | 'store'>,
  spec: TaskSpec,
  values: unknown[],
  first: number,
  deferred?: (() => void)[],
): { returns: TaskReturn[]; heldRefs: boolean } {
  let heldRefs = false;
  const returns = values.map((v, j): TaskReturn => {
    const i = first + j;
    const enc = encode(v);
    if (enc.refs.length > 0) heldRefs = true;
    core.markEscaped(enc.refs);
    // Refs inside a return value live as long as that value (its owner frees it later).
    if (enc.refs.length > 0) core.addContained(IdGenerator.returnId(spec.taskId, i), enc.refs);
    if (enc.size <= INLINE_LIMIT) return { kind: ReturnKind.Inline, payload: encodeToBuffer(enc) };
    const id = ObjectId.fromBytes(IdGenerator.returnId(spec.taskId, i));
    const write = () => {
      if (core.store.contains(id)) return;
      const view = core.store.create(id, enc.size);
      writeEncoded(enc, view);
      core.store.seal(id);
    };
    if (deferred && deferred.length > 0) deferred.push(write);
    else {
      try {
        write();
      } catch (err) {
        if (!deferred || !isStoreFull(err)) throw err;
        deferred.push(write);
      }
    }
    return { kind: ReturnKind.InStore, payload: Buffer.alloc(0) };
  });
  return { returns, heldRefs };
}
