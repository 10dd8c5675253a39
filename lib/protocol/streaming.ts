// Streaming generator tasks and actor calls on the wire (Ray's num_returns="streaming"). A
// streaming call is marked in its spec's stream field (which spec.ts packs into the method
// field), empty for plain calls: 'streaming', or 'streaming:n' with generatorBackpressure n.
// Its items are objects with the task's return
// ids 1, 2, ... (return 0 is the task's own result: the number of items, sent at its end).
// The worker reports each item as it is yielded (Msg.GeneratorItem, through its node to the
// owner's sink like any result); the owner tells the running worker how many it has consumed
// (the streamConsumed request, then Msg.StreamControl), which is what backpressure waits on.
import type { Reader, Writer } from '../base/codec.js';
import { OBJECT_ID_SIZE, TASK_ID_SIZE } from '../base/ids.js';
import { Msg, type ReturnKind } from './worker-messages.js';

/** The stream marker of a streaming call, without backpressure. */
export const STREAMING = 'streaming';

/** StreamControl's count that means: stop the generator (it was cancelled). */
export const STREAM_STOP = 0xffffffff;

/** The stream marker of a streaming call with this backpressure (0: none). */
export function streamMarker(backpressure: number): string {
  return backpressure > 0 ? `${STREAMING}:${backpressure}` : STREAMING;
}

/** A spec's stream field marks a streaming call. */
export function isStreaming(stream: string): boolean {
  return stream.startsWith(STREAMING);
}

/** The backpressure of a streaming call's marker (0: none). */
export function backpressureOf(stream: string): number {
  const at = stream.indexOf(':');
  return at < 0 ? 0 : Number(stream.slice(at + 1)) || 0;
}

/** Msg.GeneratorItem (worker -> node): u32 worker index, item object id, u8 kind, payload. */
export function writeGeneratorItem(
  w: Writer,
  worker: number,
  objectId: Uint8Array,
  kind: ReturnKind,
  payload: Uint8Array,
): void {
  w.u8(Msg.GeneratorItem).u32(worker).raw(objectId).u8(kind).bytes(payload);
}

/** A GeneratorItem's fields (after its type byte); payload is a view into the frame. */
export function readGeneratorItem(r: Reader): {
  worker: number;
  objectId: Buffer;
  kind: ReturnKind;
  payload: Buffer;
} {
  const worker = r.u32();
  const objectId = r.copy(OBJECT_ID_SIZE);
  const kind = r.u8() as ReturnKind;
  return { worker, objectId, kind, payload: r.bytes() };
}

/** Msg.StreamControl (node -> worker): u8[24] task id, u32 items consumed (or STREAM_STOP). */
export function writeStreamControl(w: Writer, taskId: Uint8Array, consumed: number): void {
  w.u8(Msg.StreamControl).raw(taskId.subarray(0, TASK_ID_SIZE)).u32(consumed);
}
