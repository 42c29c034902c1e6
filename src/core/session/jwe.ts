// JWE compact serialization, `alg: dir` + `enc: A256GCM` only, on node:crypto: the same bytes jose produces, ~10x faster.
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import type { Keyring, SessionKey } from './keys.js';

/**
 * Upper bound on a token we try to open. Far above any real token (10 backends ≈ 1 KB), low
 * enough that a hostile header cannot make us decode and decrypt megabytes.
 */
export const MAX_TOKEN_LENGTH = 8192;

const IV_BYTES = 12;
const TAG_BYTES = 16;

export type JweOpenResult =
  | { readonly ok: true; readonly plaintext: Buffer }
  | { readonly ok: false; readonly reason: 'malformed' | 'unknown-key' | 'tampered' };

/** `header..iv.ciphertext.tag` (RFC 7516 §7.1; the encrypted-key part is empty for `dir`). */
export function jweSeal(key: SessionKey, plaintext: Uint8Array): string {
  // A fresh random 96-bit IV per token; GCM stays safe for far more tokens per key than a TTL-bounded key sees.
  const iv = randomFillSync(Buffer.allocUnsafe(IV_BYTES));
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(key.protectedHeader, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `${key.protectedHeader}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${tag.toString('base64url')}`;
}

export function jweOpen(keyring: Keyring, token: string): JweOpenResult {
  if (token.length > MAX_TOKEN_LENGTH) return MALFORMED;
  const parts = token.split('.');
  if (parts.length !== 5) return MALFORMED;
  const [headerPart = '', encryptedKey, ivPart = '', ciphertextPart = '', tagPart = ''] = parts;
  if (encryptedKey !== '') return MALFORMED;
  const header = strictBase64url(headerPart);
  const iv = strictBase64url(ivPart);
  const ciphertext = strictBase64url(ciphertextPart);
  const tag = strictBase64url(tagPart);
  if (!header || !iv || !ciphertext || !tag || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return MALFORMED;

  const kid = kidOf(header);
  if (kid === undefined) return MALFORMED;
  const key = keyring.find(kid);
  if (key === undefined) return { ok: false, reason: 'unknown-key' };

  // The tag length is pinned above: node would otherwise accept a truncated tag, weakening forgery resistance.
  const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  // The additional data is the header *as received*, which is what binds the header to the ciphertext.
  decipher.setAAD(Buffer.from(headerPart, 'ascii'));
  decipher.setAuthTag(tag);
  try {
    return { ok: true, plaintext: Buffer.concat([decipher.update(ciphertext), decipher.final()]) };
  } catch {
    return { ok: false, reason: 'tampered' };
  }
}

const MALFORMED = Object.freeze({ ok: false, reason: 'malformed' } as const);

/**
 * Decodes only the canonical unpadded encoding. Node's decoder skips stray characters and ignores
 * trailing bits, so without the round-trip check many different strings would open as one token.
 */
function strictBase64url(part: string): Buffer | undefined {
  if (part === '') return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}

/** The `kid` of a protected header we can process, or undefined for anything else. */
function kidOf(headerBytes: Buffer): string | undefined {
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
  const h = header as Record<string, unknown>;
  // `crit` names extensions we would have to understand, and `zip` asks for inflation: we support neither.
  if (h['alg'] !== 'dir' || h['enc'] !== 'A256GCM' || 'crit' in h || 'zip' in h) return undefined;
  return typeof h['kid'] === 'string' ? h['kid'] : undefined;
}
