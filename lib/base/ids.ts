// Ids, Ray style: a process id (16 random bytes) names an owner; a task id is
// the owner's id plus a counter; an object id is its task id plus an index.
// So every object id says who owns it, with no directory to ask.
import { randomBytes } from 'node:crypto';

export const OWNER_ID_SIZE = 16;
export const TASK_ID_SIZE = 24;
/** Bytes in an object id: its task's id (24) and a 4-byte index. */
export const OBJECT_ID_SIZE = 28;
/** Index bit that marks objects created by `put` rather than returned by a task. */
export const PUT_INDEX_FLAG = 0x80000000;

export class IdGenerator {
  readonly ownerId: Buffer;
  readonly ownerHex: string;
  private counter = 0;
  private readonly keyScratch = Buffer.allocUnsafeSlow(TASK_ID_SIZE);

  constructor(ownerId: Buffer = randomBytes(OWNER_ID_SIZE)) {
    this.ownerId = ownerId;
    this.ownerHex = ownerId.toString('hex');
  }

  /** Writes the next task id (owner id, then a counter) at the start of into. */
  private writeNextTaskId(into: Buffer): void {
    this.ownerId.copy(into, 0);
    into.writeDoubleLE(++this.counter, OWNER_ID_SIZE);
  }

  /**
   * The next task id as a 24-character latin1 string (one character per byte):
   * a string is one small object where a Buffer view is a large one, and a queued
   * task keeps its id until it ends (protocol.ts CallSpec).
   */
  nextTaskKey(): string {
    this.writeNextTaskId(this.keyScratch);
    return taskKeyOf(this.keyScratch);
  }

  /** Id of the i-th (0-based) return value of a task. */
  static returnId(taskId: Buffer, index: number, into: Buffer = Buffer.allocUnsafe(OBJECT_ID_SIZE)): Buffer {
    taskId.copy(into, 0, 0, TASK_ID_SIZE);
    into.writeUInt32LE(index + 1, TASK_ID_SIZE);
    return into;
  }

  /** The same, for a task id kept as a latin1 key (nextTaskKey). */
  static returnIdOfKey(
    taskKey: string,
    index: number,
    into: Buffer = Buffer.allocUnsafe(OBJECT_ID_SIZE),
  ): Buffer {
    into.write(taskKey, 0, TASK_ID_SIZE, 'latin1');
    into.writeUInt32LE(index + 1, TASK_ID_SIZE);
    return into;
  }

  nextPutId(): Buffer {
    const id = Buffer.allocUnsafe(OBJECT_ID_SIZE);
    this.writeNextTaskId(id);
    id.writeUInt32LE(PUT_INDEX_FLAG, TASK_ID_SIZE);
    return id;
  }
}

/**
 * A task id as a 24-character latin1 string (one character per byte): how queued
 * tasks keep their ids (protocol.ts CallSpec) and how the node manager keys them.
 */
export function taskKeyOf(taskId: Uint8Array): string {
  return Buffer.from(taskId.buffer, taskId.byteOffset, TASK_ID_SIZE).toString('latin1');
}

export function ownerHexOf(objectId: Uint8Array): string {
  return Buffer.from(objectId.buffer, objectId.byteOffset, OWNER_ID_SIZE).toString('hex');
}

/** isPutId for an id in hex: PUT_INDEX_FLAG is the top bit of the last byte ('8'..'f' in hex). */
export function isPutHex(hex: string): boolean {
  return hex.charCodeAt(OBJECT_ID_SIZE * 2 - 2) >= 0x38;
}

export function isPutId(objectId: Uint8Array): boolean {
  const idx = Buffer.from(objectId.buffer, objectId.byteOffset, OBJECT_ID_SIZE).readUInt32LE(TASK_ID_SIZE);
  return (idx & PUT_INDEX_FLAG) !== 0;
}

export function taskIdOf(objectId: Uint8Array): Buffer {
  return Buffer.from(objectId.buffer, objectId.byteOffset, TASK_ID_SIZE);
}
