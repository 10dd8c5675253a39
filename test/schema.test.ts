// The flatbuffers code in lib/cluster/generated/ is committed; it must be
// what flatc makes from schema/*.fbs (checked where flatc is installed), and
// it must round-trip.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Body, decodeFrame, encodeHello, FrameError } from '../lib/cluster/frame.js';
import { Hello, ProtocolVersion } from '../lib/cluster/generated/wire_generated.js';
import { repoRoot } from './helpers.js';

const hasFlatc = spawnSync('flatc', ['--version']).status === 0;

describe('wire schema', () => {
  test.skipIf(!hasFlatc)('the committed generated code is what flatc generates', () => {
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'gen-schema.mjs'), '--check'], {
      stdio: 'pipe',
    });
  });

  test('a Hello frame round-trips', () => {
    const node = Buffer.alloc(28, 1);
    const nonce = Buffer.alloc(32, 2);
    const framed = encodeHello(node, nonce, 7n);
    expect(framed.readUInt32LE(0)).toBe(framed.length - 4);
    const frame = decodeFrame(framed.subarray(4));
    expect(frame.requestId()).toBe(7n);
    expect(frame.bodyType()).toBe(Body.Hello);
    const hello = frame.body(new Hello()) as Hello;
    expect(hello.version()).toBe(ProtocolVersion.Current);
    expect(ProtocolVersion.Current).toBe(2); // 2: the connecting side proves first
    expect(Buffer.from(hello.nodeIdArray()!)).toEqual(node);
    expect(Buffer.from(hello.nonceArray()!)).toEqual(nonce);
  });

  test('frames that cannot be right are refused before reading them', () => {
    expect(() => decodeFrame(Buffer.alloc(3))).toThrow(FrameError);
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(1000, 0);
    expect(() => decodeFrame(bad)).toThrow(/outside the frame/);
  });
});
