// Seals a client session into one encrypted Mcp-Session-Id and opens it again; expected failures are values.
import { isObject as isRecord } from '../mcp/message.js';
import { randomBytes } from 'node:crypto';
import { jweOpen, jweSeal, MAX_TOKEN_LENGTH } from './jwe.js';
import type { Keyring } from './keys.js';
import type {
  BackendEntry,
  BackendSessionId,
  CapabilitySet,
  ClientCapabilitySet,
  ClientSessionToken,
  OpenResult,
  Session,
  SessionPayload,
  TokenId,
} from './types.js';

export interface SealOptions {
  /** Lifetime from `now`; the token is refused from `now + ttlSeconds` on. */
  readonly ttlSeconds: number;
  readonly now?: Date;
  /** Token id to use instead of a fresh one (see `newTokenId`); ignored by `resealSession`. */
  readonly tokenId?: TokenId;
}

export interface OpenOptions {
  /** The `sub` of the identity ext_authz verified for this request. */
  readonly expectedSubject: string;
  readonly now?: Date;
}

/** A fresh random token id; the gateway draws it before fan-out so backends see the session's affinity key early. */
export function newTokenId(): TokenId {
  return randomBytes(TOKEN_ID_BYTES).toString('base64url') as TokenId;
}

/** Mints a new session: fresh token id, issued now. */
export async function sealSession(keyring: Keyring, payload: SessionPayload, options: SealOptions): Promise<ClientSessionToken> {
  // An empty subject would let any identity-less request open the session.
  if (payload.subject === '') throw new TypeError('a session must be bound to a non-empty subject');
  const issuedAt = epochSeconds(options.now);
  const tokenId = options.tokenId ?? newTokenId();
  return seal(keyring, { ...payload, tokenId, issuedAt, expiresAt: expiry(issuedAt, options.ttlSeconds) });
}

/**
 * Re-seals an existing session (after `withBackend`, or to extend it): same token id and issue
 * time, so a revocation of the old token covers the new one; new expiry; always the current key,
 * which also moves sessions off a key that is being retired.
 */
export async function resealSession(keyring: Keyring, session: Session, options: SealOptions): Promise<ClientSessionToken> {
  return seal(keyring, { ...session, expiresAt: expiry(epochSeconds(options.now), options.ttlSeconds) });
}

export async function openSession(keyring: Keyring, token: ClientSessionToken, options: OpenOptions): Promise<OpenResult> {
  const opened = jweOpen(keyring, token);
  if (!opened.ok) return opened;
  const session = decodeSession(opened.plaintext);
  if (session === undefined) return { ok: false, reason: 'malformed' };
  // Subject before expiry: a token replayed by another identity is the signal worth logging, expired or not.
  if (session.subject !== options.expectedSubject) return { ok: false, reason: 'wrong-subject' };
  if (epochSeconds(options.now) >= session.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, session };
}

/**
 * Opens a token WITHOUT the subject and expiry checks, for the operator's admin revoke endpoint only; a
 * client request must always go through `openSession`.
 */
export function inspectSession(keyring: Keyring, token: ClientSessionToken): OpenResult {
  const opened = jweOpen(keyring, token);
  if (!opened.ok) return opened;
  const session = decodeSession(opened.plaintext);
  return session === undefined ? { ok: false, reason: 'malformed' } : { ok: true, session };
}

export function getBackend(session: Session, backend: string): BackendEntry | undefined {
  return session.backends.get(backend);
}

/** A copy of the session with one backend's entry set, e.g. after that backend re-initialized. */
export function withBackend(session: Session, backend: string, entry: BackendEntry): Session {
  return { ...session, backends: new Map(session.backends).set(backend, entry) };
}

/** A copy of the session without one backend, e.g. after it answered 404 for its own session. */
export function withoutBackend(session: Session, backend: string): Session {
  const backends = new Map(session.backends);
  backends.delete(backend);
  return { ...session, backends };
}

// 96 random bits: collision-free for revocation purposes, 16 characters in the payload.
const TOKEN_ID_BYTES = 12;

function seal(keyring: Keyring, session: Session): ClientSessionToken {
  const token = jweSeal(keyring.current, Buffer.from(JSON.stringify(encodeSession(session)), 'utf8'));
  // A token we would refuse to open would send the client into an endless re-initialize loop.
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new Error(`session token of ${token.length} bytes exceeds ${MAX_TOKEN_LENGTH}: too many backends or oversized backend session ids`);
  }
  return token as ClientSessionToken;
}

function epochSeconds(now: Date | undefined): number {
  return Math.floor((now?.getTime() ?? Date.now()) / 1000);
}

function expiry(fromSeconds: number, ttlSeconds: number): number {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }
  return fromSeconds + ttlSeconds;
}

/*
 * Wire format v1 (JSON inside the JWE), short keys, defaults omitted:
 *   {s: subject, i: issuedAt, e: expiresAt, j: tokenId, v: most common protocol version, b: {<backend>: entry},
 *    k: client capability bits (CLIENT_CAPABILITY_FLAGS), omitted if 0}
 *   entry: {u: dashed lowercase UUID as 16 bytes base64url | h: lowercase hex as bytes base64url
 *           | d: any other id verbatim | (none: stateless),
 *           v: protocol version, omitted if equal to the top-level v, c: capability bits, omitted if 0}
 *   Versions of the form 20YY-MM-DD travel as the number YYMMDD, any other as the string.
 * Unknown keys are ignored, so a later version may add optional fields; a change of meaning
 * must add `f: 2`, which this version refuses as malformed.
 */
interface WireEntry {
  u?: string;
  h?: string;
  d?: string;
  v?: number | string;
  c?: number;
}

interface WireSession {
  f?: number;
  s: string;
  i: number;
  e: number;
  j: string;
  v?: number | string;
  b: Record<string, WireEntry>;
  k?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX = /^(?:[0-9a-f]{2})+$/;
// Years 2010-2099 only: a leading zero would be lost in the number and break the round trip.
const DATE_VERSION = /^20([1-9]\d)-(\d\d)-(\d\d)$/;
const PACKED_VERSION = /^([1-9]\d)(\d\d)(\d\d)$/;

function encodeSession(session: Session): WireSession {
  const common = mostCommonVersion(session.backends);
  const b: Record<string, WireEntry> = Object.create(null) as Record<string, WireEntry>;
  for (const [name, entry] of session.backends) b[name] = encodeEntry(entry, common);
  const wire: WireSession = { s: session.subject, i: session.issuedAt, e: session.expiresAt, j: session.tokenId, b };
  if (common !== undefined) wire.v = encodeVersion(common);
  if (session.clientCapabilities) wire.k = session.clientCapabilities;
  return wire;
}

// Behind one gateway most backends run the same SDK release; naming its version once saves ~10 bytes per backend.
function mostCommonVersion(backends: ReadonlyMap<string, BackendEntry>): string | undefined {
  const counts = new Map<string, number>();
  let best: string | undefined;
  let bestCount = 0;
  for (const { protocolVersion } of backends.values()) {
    const count = (counts.get(protocolVersion) ?? 0) + 1;
    counts.set(protocolVersion, count);
    if (count > bestCount) [best, bestCount] = [protocolVersion, count];
  }
  return best;
}

function encodeEntry(entry: BackendEntry, commonVersion: string | undefined): WireEntry {
  const wire: WireEntry = {};
  if (entry.protocolVersion !== commonVersion) wire.v = encodeVersion(entry.protocolVersion);
  const id = entry.sessionId;
  // TypeScript SDK servers use dashed UUIDs, Python SDK servers undashed hex: both shrink by a third as bytes.
  if (id === undefined) {
    // stateless backend: nothing to carry
  } else if (UUID.test(id)) {
    wire.u = Buffer.from(id.replaceAll('-', ''), 'hex').toString('base64url');
  } else if (HEX.test(id)) {
    wire.h = Buffer.from(id, 'hex').toString('base64url');
  } else {
    wire.d = id;
  }
  if (entry.capabilities !== 0) wire.c = entry.capabilities;
  return wire;
}

function encodeVersion(version: string): number | string {
  const m = DATE_VERSION.exec(version);
  return m ? Number(`${m[1]}${m[2]}${m[3]}`) : version;
}

/** Undefined when the plaintext is not a v1 session; it was authenticated, so that means a format mismatch. */
function decodeSession(plaintext: Buffer): Session | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(plaintext.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || raw['f'] !== undefined) return undefined;
  const { s, i, e, j, v, b, k = 0 } = raw;
  if (typeof s !== 'string' || typeof j !== 'string' || !Number.isSafeInteger(i) || !Number.isSafeInteger(e) || !isRecord(b) || !Number.isSafeInteger(k)) {
    return undefined;
  }
  const backends = new Map<string, BackendEntry>();
  for (const [name, wire] of Object.entries(b)) {
    const entry = decodeEntry(wire, v);
    if (entry === undefined) return undefined;
    backends.set(name, entry);
  }
  const session: Session = { subject: s, backends, tokenId: j as TokenId, issuedAt: i as number, expiresAt: e as number };
  return k === 0 ? session : { ...session, clientCapabilities: k as ClientCapabilitySet };
}

function decodeEntry(wire: unknown, commonVersion: unknown): BackendEntry | undefined {
  if (!isRecord(wire)) return undefined;
  const { u, h, d, v = commonVersion, c = 0 } = wire;
  const protocolVersion = decodeVersion(v);
  const sessionId = decodeSessionId(u, h, d);
  if (protocolVersion === undefined || sessionId === null || !Number.isSafeInteger(c)) return undefined;
  return { sessionId, protocolVersion, capabilities: c as CapabilitySet };
}

/** The id, undefined for a stateless backend, or null when the fields make no sense. */
function decodeSessionId(u: unknown, h: unknown, d: unknown): BackendSessionId | undefined | null {
  const given = [u, h, d].filter((x) => x !== undefined);
  if (given.length === 0) return undefined;
  if (given.length > 1) return null;
  if (typeof u === 'string') {
    const hex = Buffer.from(u, 'base64url').toString('hex');
    if (hex.length !== 32) return null;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as BackendSessionId;
  }
  if (typeof h === 'string') return Buffer.from(h, 'base64url').toString('hex') as BackendSessionId;
  if (typeof d === 'string') return d as BackendSessionId;
  return null;
}

function decodeVersion(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const m = typeof v === 'number' ? PACKED_VERSION.exec(String(v)) : null;
  return m ? `20${m[1]}-${m[2]}-${m[3]}` : undefined;
}

