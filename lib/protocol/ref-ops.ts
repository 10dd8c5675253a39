// Messages of the ownership protocol (Ray's, NSDI'21, reduced to one node's
// processes): who, besides the owner's own handles, keeps an object alive.
//
//   AddBorrower / RemoveBorrower  a process that is not the owner holds handles to the ref
//                                 (sent when its first handle appears and its last goes)
//   AddHolder / RemoveHolder      another object's value contains the ref (a put value, or
//                                 a task's return value): the ref lives as long as that object
//   Contains                      to the owner of that outer object: it contains the ref, so
//                                 when the outer object is freed the holder must be removed
//
// Each op travels to the owner of its `target` id (the node manager routes by the owner id
// that every object id embeds). A sender that hands a ref to another process keeps it alive
// until the receiver's registration must have arrived: task arguments until the task ends,
// returned and put values through the holder; so an owner never frees an object that a
// registration in flight is about to borrow.
import { OBJECT_ID_SIZE, OWNER_ID_SIZE } from '../base/ids.js';

export enum RefOp {
  AddBorrower = 1,
  RemoveBorrower = 2,
  AddHolder = 3,
  RemoveHolder = 4,
  Contains = 5,
}

/** One op on the wire: u8 op | target object id | other id (a borrower's owner id, zero-padded, or an object id). */
export const REF_OP_SIZE = 1 + OBJECT_ID_SIZE + OBJECT_ID_SIZE;

export function encodeRefOp(op: RefOp, target: Uint8Array, other: Uint8Array): Buffer {
  const b = Buffer.alloc(REF_OP_SIZE);
  b[0] = op;
  b.set(target.subarray(0, OBJECT_ID_SIZE), 1);
  b.set(other.subarray(0, Math.min(other.length, OBJECT_ID_SIZE)), 1 + OBJECT_ID_SIZE);
  return b;
}

export interface DecodedRefOp {
  op: RefOp;
  target: Buffer;
  other: Buffer;
}

export function decodeRefOps(buf: Buffer): DecodedRefOp[] {
  if (buf.length % REF_OP_SIZE !== 0)
    throw new RangeError(`ref ops: ${buf.length} bytes is not a whole number of ops`);
  const out: DecodedRefOp[] = [];
  for (let pos = 0; pos < buf.length; pos += REF_OP_SIZE) {
    out.push({
      op: buf[pos] as RefOp,
      target: buf.subarray(pos + 1, pos + 1 + OBJECT_ID_SIZE),
      other: buf.subarray(pos + 1 + OBJECT_ID_SIZE, pos + REF_OP_SIZE),
    });
  }
  return out;
}

/** The borrower id carried in `other`: the process's owner id. */
export function borrowerHex(other: Buffer): string {
  return other.subarray(0, OWNER_ID_SIZE).toString('hex');
}
