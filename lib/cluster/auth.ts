// Challenge-response on the cluster token: each side sends a fresh nonce and
// proves it holds the token with an HMAC over both nonces, labelled by role so
// a proof cannot be reflected back. The token itself never crosses the wire.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../base/errors.js';

/** Bytes of each side's handshake nonce. */
export const NONCE_BYTES = 32;

/** A fresh random nonce for one handshake (never reused: a proof is bound to both nonces). */
export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** A fresh cluster token: 32 random bytes, hex. */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** The shortest token a user may give: shorter ones fall to guessing (see checkToken). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Refuses a user-given token shorter than MIN_TOKEN_LENGTH with InvalidArgumentError. A peer
 * that connects and sees a proof (a node it lured, or any listener before a proof of its own
 * was required) can test guesses offline at GPU speed; only a long random token survives that.
 * `where` names what was given, e.g. '--token' or "init({ token })".
 */
export function checkToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new InvalidArgumentError(
      `${where}: a cluster token of ${token.length} character(s) is too short to resist guessing; ` +
        `give at least ${MIN_TOKEN_LENGTH} random characters, or let \`sunray start --head\` make one ` +
        '(32 random bytes) and use the token it prints',
    );
  }
  return token;
}

/**
 * The proof that one side holds the token: HMAC-SHA256 keyed by the token over its role, the
 * other side's nonce, then its own. The role label keeps a listener's proof from being replayed
 * as a client's (and back).
 */
export function proof(
  token: string,
  role: 'listener' | 'client',
  theirNonce: Uint8Array,
  ourNonce: Uint8Array,
): Buffer {
  return createHmac('sha256', token).update(role).update(theirNonce).update(ourNonce).digest();
}

/** Whether a received proof is the expected one, compared in constant time. */
export function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(expected, got);
}
