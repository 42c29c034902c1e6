// The session-token keyring: secrets from config turned into AES-256 keys (and handoff MAC keys) once, at start-up, by `kid`.
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/** One secret as it comes from config or a secret file. */
export interface KeySpec {
  /** Key id written into every token's protected header; short, URL-safe. */
  readonly kid: string;
  /**
   * Either a base64url-encoded 32-byte key (43 characters, e.g. from `openssl rand 32 | basenc --base64url`)
   * used as is, or any other string of at least 32 bytes, stretched with HKDF-SHA256.
   */
  readonly secret: string;
}

export interface KeyringSpec {
  /** Seals every new token. */
  readonly current: KeySpec;
  /** Still open tokens sealed before a rotation; drop a key once its tokens' TTL has passed. */
  readonly previous?: readonly KeySpec[];
}

/** A key ready for use: the AES key plus everything derivable from the kid, computed once. */
export interface SessionKey {
  readonly kid: string;
  readonly key: KeyObject;
  /** base64url of the JWE protected header; also the AES-GCM additional data. */
  readonly protectedHeader: string;
  /**
   * HMAC-SHA256 key for the ext_authz → ext_proc handoff (`src/core/session/handoff.ts`), derived from the same secret
   * under its own label, so every replica that shares the session keys shares it, and it rotates with them.
   */
  readonly handoffKey: KeyObject;
}

/** Thrown only by `createKeyring`, at start-up: a bad key is a fatal configuration error. */
export class KeyringError extends Error {
  override readonly name = 'KeyringError';
}

export class Keyring {
  readonly #current: SessionKey;
  readonly #byKid: ReadonlyMap<string, SessionKey>;

  /** @internal use `createKeyring`. */
  constructor(current: SessionKey, all: readonly SessionKey[]) {
    this.#current = current;
    this.#byKid = new Map(all.map((k) => [k.kid, k]));
    Object.freeze(this);
  }

  get current(): SessionKey {
    return this.#current;
  }

  /** Every kid this keyring can open, current first. Safe to log: no secret material. */
  get kids(): readonly string[] {
    return [...this.#byKid.keys()];
  }

  find(kid: string): SessionKey | undefined {
    return this.#byKid.get(kid);
  }

  // Keys are KeyObjects, which never print their bytes; this keeps logs to the kids as well.
  toJSON(): { current: string; kids: readonly string[] } {
    return { current: this.#current.kid, kids: this.kids };
  }
}

const KID = /^[A-Za-z0-9._-]{1,64}$/;
const RAW_KEY = /^[A-Za-z0-9_-]{43}$/;
const MIN_SECRET_BYTES = 32;
// Placeholder secrets ("xxxx…", "0000…") pass a length check; real random strings never have this few symbols.
const MIN_DISTINCT_CHARS = 8;
// Fixed labels: the same secret reused elsewhere yields an unrelated key here.
const HKDF_SALT = 'toolgate/session-token';
const HKDF_INFO = 'JWE dir A256GCM v1';
// The handoff key is a second HKDF output of the session key: a leaked MAC key reveals nothing of the AES key,
// and the kid in the label gives every key id its own MAC key even if an operator reused a secret under a new kid.
const HANDOFF_SALT = 'toolgate/ext_authz-handoff';
const handoffInfo = (kid: string) => `HMAC-SHA256 v1 kid=${kid}`;

export function createKeyring(spec: KeyringSpec): Keyring {
  const specs = [spec.current, ...(spec.previous ?? [])];
  const seenKids = new Set<string>();
  const seenKeys = new Set<string>();
  const keys = specs.map((s) => {
    if (!KID.test(s.kid)) {
      throw new KeyringError(`session key id ${JSON.stringify(s.kid)} must be 1-64 characters of A-Z a-z 0-9 . _ -`);
    }
    if (seenKids.has(s.kid)) throw new KeyringError(`session key id "${s.kid}" appears twice`);
    seenKids.add(s.kid);
    const bytes = keyBytes(s);
    // Two kids with one secret means a rotation that did not rotate: almost certainly a copy-paste slip.
    const fingerprint = bytes.toString('base64url');
    if (seenKeys.has(fingerprint)) throw new KeyringError(`session key "${s.kid}" has the same secret as another key`);
    seenKeys.add(fingerprint);
    return sessionKey(s.kid, bytes);
  });
  const [current] = keys;
  if (current === undefined) throw new KeyringError('no current session key');
  return new Keyring(current, keys);
}

function keyBytes({ kid, secret: raw }: KeySpec): Buffer {
  // Secret files usually end with a newline; replicas reading env vars would not see it.
  const secret = raw.trim();
  if (RAW_KEY.test(secret)) {
    const bytes = Buffer.from(secret, 'base64url');
    // Only the canonical encoding counts as a raw key, so one string can never mean two keys.
    if (bytes.length === 32 && bytes.toString('base64url') === secret) return bytes;
  }
  if (Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
    throw new KeyringError(`session key "${kid}" is shorter than ${MIN_SECRET_BYTES} bytes`);
  }
  if (new Set(secret).size < MIN_DISTINCT_CHARS) {
    throw new KeyringError(`session key "${kid}" looks like a placeholder (fewer than ${MIN_DISTINCT_CHARS} distinct characters)`);
  }
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
}

function sessionKey(kid: string, bytes: Buffer): SessionKey {
  const header = JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid });
  const key = createSecretKey(bytes);
  const mac = Buffer.from(hkdfSync('sha256', bytes, HANDOFF_SALT, handoffInfo(kid), 32));
  const handoffKey = createSecretKey(mac);
  mac.fill(0);
  bytes.fill(0);
  return Object.freeze({ kid, key, protectedHeader: Buffer.from(header, 'utf8').toString('base64url'), handoffKey });
}
