// Ids, Ray style: a process id (16 random bytes) names an owner; a task id is
// the owner's id plus a counter; an object id is its task id plus an index.
// So every object id says who owns it, with no directory to ask.
import { randomBytes } from 'node:crypto';

export const OWNER_ID_SIZE = 16;
export const TASK_ID_SIZE = 24;
export const OBJECT_ID_SIZE = 28;
/** Index bit that marks objects created by `put` rather than returned by a task. */
export const PUT_INDEX_FLAG = 0x80000000;

export class IdGenerator {
  readonly ownerId: Buffer;
  readonly ownerHex: string;
  private counter = 0;
  // Task ids live as long as their tasks (a million may be queued): they are
  // cut from slabs of their own, so no short-lived buffer shares their memory
  // and keeps it from being freed.
  private slab = Buffer.allocUnsafeSlow(0);
  private slabPos = 0;

  constructor(ownerId: Buffer = randomBytes(OWNER_ID_SIZE)) {
    this.ownerId = ownerId;
    this.ownerHex = ownerId.toString('hex');
  }

  private readonly keyScratch = Buffer.allocUnsafeSlow(TASK_ID_SIZE);

  /**
   * The next task id as a 24-character latin1 string (one character per byte):
   * a string is one small object where a Buffer view is a large one, and a queued
   * task keeps its id until it ends (protocol.ts CallSpec).
   */
  nextTaskKey(): string {
    this.ownerId.copy(this.keyScratch, 0);
    this.keyScratch.writeDoubleLE(++this.counter, OWNER_ID_SIZE);
    return this.keyScratch.toString('latin1', 0, TASK_ID_SIZE);
  }

  nextTaskId(): Buffer {
    if (this.slabPos + TASK_ID_SIZE > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(TASK_ID_SIZE * 2048);
      this.slabPos = 0;
    }
    const id = this.slab.subarray(this.slabPos, this.slabPos + TASK_ID_SIZE);
    this.slabPos += TASK_ID_SIZE;
    this.ownerId.copy(id, 0);
    id.writeDoubleLE(++this.counter, OWNER_ID_SIZE);
    return id;
  }

  /** Id of the i-th (0-based) return value of a task. */
  static returnId(taskId: Buffer, index: number, into: Buffer = Buffer.allocUnsafe(OBJECT_ID_SIZE)): Buffer {
    taskId.copy(into, 0, 0, TASK_ID_SIZE);
    into.writeUInt32LE(index + 1, TASK_ID_SIZE);
    return into;
  }

  nextPutId(): Buffer {
    const taskId = this.nextTaskId();
    const id = Buffer.allocUnsafe(OBJECT_ID_SIZE);
    taskId.copy(id, 0);
    id.writeUInt32LE(PUT_INDEX_FLAG, TASK_ID_SIZE);
    return id;
  }
}

export function ownerHexOf(objectId: Uint8Array): string {
  return Buffer.from(objectId.buffer, objectId.byteOffset, OWNER_ID_SIZE).toString('hex');
}

export function isPutId(objectId: Uint8Array): boolean {
  const idx = Buffer.from(objectId.buffer, objectId.byteOffset, OBJECT_ID_SIZE).readUInt32LE(TASK_ID_SIZE);
  return (idx & PUT_INDEX_FLAG) !== 0;
}

export function taskIdOf(objectId: Uint8Array): Buffer {
  return Buffer.from(objectId.buffer, objectId.byteOffset, TASK_ID_SIZE);
}
