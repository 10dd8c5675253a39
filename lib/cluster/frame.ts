// Length-prefixed flatbuffers frames for the node-to-node protocol
// (schema/wire.fbs). Decoding checks bounds before trusting any offset, so a
// malformed frame is an error, never a crash.
import * as flatbuffers from 'flatbuffers';
import { SunrayError } from '../base/errors.js';
import { Body, Frame, Hello, ProtocolVersion } from './generated/wire_generated.js';

/** Body: the union tag of a Frame; ProtocolVersion: the version a hello carries. */
export { Body, ProtocolVersion };

/** Frames above this size are refused before any of them is read. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** A frame that cannot be right: the connection that sent it is closed. */
export class FrameError extends SunrayError {}

/** Builds the first frame of a connection. */
export function encodeHello(nodeId: Uint8Array, nonce: Uint8Array, requestId = 0n): Buffer {
  const b = new flatbuffers.Builder(128);
  const node = Hello.createNodeIdVector(b, nodeId);
  const n = Hello.createNonceVector(b, nonce);
  const hello = Hello.createHello(b, ProtocolVersion.Current, node, n);
  const frame = Frame.createFrame(b, requestId, Body.Hello, hello);
  b.finish(frame);
  return withLength(b.asUint8Array());
}

/** The frame as it goes on the wire: its body after a u32 little-endian length. */
export function withLength(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32LE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** Reads one frame's body (without its length prefix) as a Frame, checking the root offset. */
export function decodeFrame(body: Uint8Array): Frame {
  if (body.length < 8 || body.length > MAX_FRAME_BYTES) {
    throw new FrameError(`frame of ${body.length} bytes is outside 8..${MAX_FRAME_BYTES}`);
  }
  const bb = new flatbuffers.ByteBuffer(body);
  const root = bb.readUint32(0);
  if (root + 4 > body.length) throw new FrameError('frame root offset points outside the frame');
  return Frame.getRootAsFrame(bb);
}
