// Object ids: 28 bytes (Ray's size), compared and hashed by value.
import { randomBytes } from 'node:crypto';
import { OBJECT_ID_SIZE } from '../base/ids.js';
import { InvalidObjectIdError } from './errors.js';

/** An object's id in the store: 28 bytes (Ray's size), compared by value with equals(). */
export class ObjectId {
  /** The 28 id bytes. Do not modify. */
  readonly bytes: Buffer;
  private cachedHex: string | undefined;

  private constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  /** A new random id. */
  static random(): ObjectId {
    return new ObjectId(randomBytes(OBJECT_ID_SIZE));
  }

  /** The id with these 56 hex digits; InvalidObjectIdError if they are not. */
  static fromHex(hex: string): ObjectId {
    if (typeof hex !== 'string' || hex.length !== OBJECT_ID_SIZE * 2 || !/^[0-9a-fA-F]*$/.test(hex))
      throw new InvalidObjectIdError(
        `an object id is ${OBJECT_ID_SIZE * 2} hex digits, got ${JSON.stringify(String(hex).slice(0, 80))}`,
        'INVALID_OBJECT_ID',
      );
    const id = new ObjectId(Buffer.from(hex, 'hex'));
    id.cachedHex = hex.toLowerCase();
    return id;
  }

  /** Copies the bytes, so later changes to `b` do not change the id. */
  static fromBytes(b: Uint8Array): ObjectId {
    if (!(b instanceof Uint8Array) || b.length !== OBJECT_ID_SIZE)
      throw new InvalidObjectIdError(
        `an object id is ${OBJECT_ID_SIZE} bytes, got ${b instanceof Uint8Array ? b.length : typeof b}`,
        'INVALID_OBJECT_ID',
      );
    return new ObjectId(Buffer.from(b));
  }

  /** The id in hex (56 lowercase digits). */
  hex(): string {
    this.cachedHex ??= this.bytes.toString('hex');
    return this.cachedHex;
  }

  /** Whether o is an ObjectId with the same bytes. */
  equals(o: ObjectId): boolean {
    return o instanceof ObjectId && this.bytes.equals(o.bytes);
  }

  /** 'ObjectId(<hex>)'. */
  toString(): string {
    return `ObjectId(${this.hex()})`;
  }
}
