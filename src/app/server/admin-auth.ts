// Bearer authentication for the admin port's state-changing endpoints; the secret comes from server.adminTokenFile.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../core/config/errors.js';

export const ADMIN_TOKEN_FIELD = 'server.adminTokenFile';
const MIN_SECRET_BYTES = 32;
// As for session keys: "xxxx…" or "0000…" passes a length check; a random secret never has this few symbols.
const MIN_DISTINCT_CHARS = 8;

export type AdminRefusal = 'missing' | 'malformed' | 'wrong-secret';
export type AdminCheck = { readonly ok: true } | { readonly ok: false; readonly reason: AdminRefusal; readonly message: string };

export interface AdminAuth {
  /** Checks one request's Authorization header against the secret. */
  check(authorization: string | undefined): AdminCheck;
}

/**
 * Reads the secret once, at start-up (rotating it is a restart, as for the TLS files). No field, no file, or a
 * secret too weak to be one is a ConfigError naming the field: the admin port never runs without authentication.
 */
export function loadAdminAuth(server: { readonly adminTokenFile?: string | undefined }, configFile: string): AdminAuth {
  const issue = (message: string) => new ConfigError(configFile, [{ path: ADMIN_TOKEN_FIELD, message }]);
  if (!server.adminTokenFile) {
    throw issue('required: a file holding the bearer secret for state-changing admin endpoints (session revoke), e.g. 32 random bytes, base64url');
  }
  let secret: string;
  try {
    secret = readFileSync(path.resolve(path.dirname(path.resolve(configFile)), server.adminTokenFile), 'utf8').trim();
  } catch (err) {
    throw issue(`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) throw issue(`the secret is shorter than ${MIN_SECRET_BYTES} bytes`);
  if (new Set(secret).size < MIN_DISTINCT_CHARS) throw issue(`the secret looks like a placeholder (fewer than ${MIN_DISTINCT_CHARS} distinct characters)`);
  return adminAuth(secret);
}

/** The check for a known secret. Both sides are hashed first, so the comparison takes the same time whatever the length. */
export function adminAuth(secret: string): AdminAuth {
  const expected = digest(secret);
  return Object.freeze({
    check(authorization: string | undefined): AdminCheck {
      if (authorization === undefined || authorization.trim() === '') {
        return refuse('missing', `This admin endpoint changes state: send "Authorization: Bearer <secret>" with the secret from the file ${ADMIN_TOKEN_FIELD} names.`);
      }
      const match = /^Bearer +(\S+) *$/i.exec(authorization);
      if (!match) return refuse('malformed', `The Authorization header must be "Bearer <secret>" (the secret from the file ${ADMIN_TOKEN_FIELD} names); nothing was changed.`);
      if (!timingSafeEqual(digest(match[1] as string), expected)) {
        return refuse('wrong-secret', `The bearer secret is not the one in the file ${ADMIN_TOKEN_FIELD} names; nothing was changed.`);
      }
      return { ok: true };
    },
  });
}

/** Everything but reading: any method other than GET/HEAD, and anything under /admin/, whatever the method. */
export function needsAdminAuth(method: string | undefined, pathname: string): boolean {
  return (method !== 'GET' && method !== 'HEAD') || pathname === '/admin' || pathname.startsWith('/admin/');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function refuse(reason: AdminRefusal, message: string): AdminCheck {
  return { ok: false, reason, message };
}
