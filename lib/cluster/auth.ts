// Challenge-response on the cluster token: each side sends a fresh nonce and
// proves it holds the token with an HMAC over both nonces, labelled by role so
// a proof cannot be reflected back. The token itself never crosses the wire.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_BYTES = 32;

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** A fresh cluster token: 32 random bytes, hex. */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

export function proof(
  token: string,
  role: 'listener' | 'client',
  theirNonce: Uint8Array,
  ourNonce: Uint8Array,
): Buffer {
  return createHmac('sha256', token).update(role).update(theirNonce).update(ourNonce).digest();
}

export function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(expected, got);
}
