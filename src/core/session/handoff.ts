// The ext_authz → ext_proc handoff: toolgate's Check signs what it proved for one request; ext_proc verifies it.
//
// Anyone who reaches toolgate's gRPC port can open a Process stream and write any `metadata_context` they like, so
// ext_proc must not take the forwarded ext_authz metadata on trust. Check therefore MACs (HMAC-SHA256) a canonical
// serialisation of the WHOLE metadata object it hands over — every field, including ones added later — together
// with Envoy's request id, an issue time and the sha256 of the body it judged. The key is derived from the session
// keyring (`keys.ts`): shared by every replica, rotated with the session keys. Pure: no gRPC, no I/O.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { Keyring } from './keys.js';

/**
 * The mark Check leaves in the ext_authz namespace, instead of a handoff, for a sidecar call it finished itself (it did
 * the session swap; nothing is left for ext_proc). Envoy's matcher skips ext_proc on it; an ext_proc reached anyway (an
 * Envoy config without the matcher) passes the exchange through. Unsigned on purpose: only ext_authz writes this
 * namespace (a client's headers can never set dynamic metadata), and a pass-through grants nothing to anyone who
 * forges the mark on a stream of their own.
 */
export const EXCHANGE_FINISHED = Object.freeze({ key: 'exchange', value: 'done' } as const);

/** The fields the handoff adds to the metadata object. */
export const HANDOFF_FIELD = Object.freeze({
  requestId: 'request_id',
  issuedAt: 'issued_at',
  bodyDigest: 'body_sha256',
  kid: 'handoff_kid',
  mac: 'handoff_mac',
});

const RESERVED: ReadonlySet<string> = new Set(Object.values(HANDOFF_FIELD));

/**
 * Fields Envoy itself writes into the ext_authz namespace after Check answered, which no MAC can cover. Envoy 1.40
 * adds `ext_authz_duration` (milliseconds) to any non-empty dynamic metadata (seen with the pinned binary). toolgate
 * never reads them; any other field that was not signed makes the handoff fail.
 */
export const ENVOY_OWNED_FIELDS: ReadonlySet<string> = new Set(['ext_authz_duration']);

/** How long after Check a handoff is accepted. ext_proc's request headers follow Check within milliseconds. */
export const HANDOFF_MAX_AGE_MS = 10_000;
/** How far in the future an issue time may lie: Check and Process may run on two replicas whose clocks differ. */
export const HANDOFF_CLOCK_SKEW_MS = 5_000;

/** Values a dynamic-metadata Struct can carry. */
export type HandoffValue = string | number | boolean | null | readonly HandoffValue[] | { readonly [key: string]: HandoffValue | undefined };

export interface HandoffFacts {
  /** Envoy's `x-request-id` as Check saw it. */
  readonly requestId: string | undefined;
  /** The request body bytes Check judged; undefined or empty when it saw none. */
  readonly body: Uint8Array | undefined;
  /** Milliseconds since the epoch; the clock by default. */
  readonly now?: number;
}

export type HandoffFailure =
  /** No signature at all: not from toolgate's Check, or Envoy does not forward the namespace. */
  | 'missing'
  /** Signature fields of the wrong type. */
  | 'malformed'
  /** Signed with a key id this replica does not hold (rotation not rolled out everywhere, or forged). */
  | 'unknown-key'
  /** The MAC does not match the fields: forged or altered. */
  | 'bad-mac'
  | 'expired'
  | 'issued-in-future'
  /** Signed for another request (or the stream names no request id). */
  | 'request-id-mismatch'
  /** The body ext_proc was sent is not the one Check judged. */
  | 'body-mismatch';

export const HANDOFF_FAILURES: readonly HandoffFailure[] = ['missing', 'malformed', 'unknown-key', 'bad-mac', 'expired', 'issued-in-future', 'request-id-mismatch', 'body-mismatch'];

export interface VerifiedHandoff {
  readonly ok: true;
  /** The signed fields as Check sent them (signature fields and Envoy's own left out). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** base64url sha256 of the body Check judged; undefined when it judged none. */
  readonly bodyDigest: string | undefined;
}

export type HandoffCheck = VerifiedHandoff | { readonly ok: false; readonly reason: HandoffFailure; readonly detail: string };

// Domain separation: these bytes are MACed only as a handoff, never as anything else keyed the same way.
const MAC_CONTEXT = 'toolgate ext_authz handoff v1\n';

/** Adds request id, issue time, body digest, kid and MAC to `fields`; the result is what Check hands to Envoy. */
export function signHandoff(keyring: Keyring, fields: Readonly<Record<string, HandoffValue | undefined>>, facts: HandoffFacts): Record<string, HandoffValue> {
  const key = keyring.current;
  const signed: Record<string, HandoffValue> = {};
  for (const [name, value] of Object.entries(fields)) {
    // undefined fields never reach the wire (Struct has no undefined), so they are not signed either. The handoff's
    // own names are the signer's alone: a field of that name could otherwise stand in for a missing request id.
    if (value !== undefined && !RESERVED.has(name)) signed[name] = value;
  }
  if (facts.requestId !== undefined) signed[HANDOFF_FIELD.requestId] = facts.requestId;
  signed[HANDOFF_FIELD.issuedAt] = facts.now ?? Date.now();
  if (facts.body !== undefined && facts.body.length > 0) signed[HANDOFF_FIELD.bodyDigest] = bodyDigest(facts.body);
  signed[HANDOFF_FIELD.kid] = key.kid;
  signed[HANDOFF_FIELD.mac] = mac(key.handoffKey, signed);
  return signed;
}

/**
 * Checks a handoff as ext_proc received it: MAC under the named key, age, and the request id of this stream.
 * `meta` is the forwarded namespace read back into plain values. The body is checked separately (`bodyMatches`),
 * when and if ext_proc is sent one.
 */
export function verifyHandoff(keyring: Keyring, meta: Readonly<Record<string, unknown>>, requestId: string | undefined, now = Date.now()): HandoffCheck {
  const presented = meta[HANDOFF_FIELD.mac];
  const kid = meta[HANDOFF_FIELD.kid];
  if (presented === undefined) return fail('missing', 'the ext_authz metadata carries no handoff signature');
  if (typeof presented !== 'string' || typeof kid !== 'string') return fail('malformed', 'handoff_mac and handoff_kid must be strings');
  const key = keyring.find(kid);
  if (!key) return fail('unknown-key', `handoff signed with key id "${kid.slice(0, 64)}", which this replica does not hold`);
  // Own fields only, into an object without a prototype: nothing unsigned can be read through it.
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of Object.entries(meta)) {
    if (name !== HANDOFF_FIELD.mac && !ENVOY_OWNED_FIELDS.has(name)) fields[name] = value;
  }
  const expected = Buffer.from(mac(key.handoffKey, fields), 'base64url');
  const given = Buffer.from(presented, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return fail('bad-mac', 'the handoff signature does not match its fields');

  // Authentic from here on: what remains is whether it is for this request, now.
  const issuedAt = fields[HANDOFF_FIELD.issuedAt];
  const signedRequestId = fields[HANDOFF_FIELD.requestId];
  const digest = fields[HANDOFF_FIELD.bodyDigest];
  if (typeof issuedAt !== 'number' || !Number.isFinite(issuedAt)) return fail('malformed', 'issued_at must be a number of milliseconds');
  if (digest !== undefined && typeof digest !== 'string') return fail('malformed', 'body_sha256 must be a string');
  if (now - issuedAt > HANDOFF_MAX_AGE_MS) return fail('expired', `handoff issued ${Math.round(now - issuedAt)} ms ago (limit ${HANDOFF_MAX_AGE_MS} ms)`);
  if (issuedAt - now > HANDOFF_CLOCK_SKEW_MS) return fail('issued-in-future', `handoff issued ${Math.round(issuedAt - now)} ms in the future (limit ${HANDOFF_CLOCK_SKEW_MS} ms)`);
  // Envoy always sets x-request-id; a stream without one cannot be tied to any Check.
  if (requestId === undefined || requestId === '') return fail('request-id-mismatch', 'the stream carries no x-request-id');
  if (signedRequestId !== requestId) return fail('request-id-mismatch', 'the handoff was signed for another request id');
  return { ok: true, fields, bodyDigest: digest };
}

const WHY: Readonly<Record<HandoffFailure, string>> = {
  missing: 'no signed handoff from its authorization check arrived',
  malformed: 'the handoff from its authorization check is malformed',
  'unknown-key': 'the handoff is signed with a key this gateway replica does not hold',
  'bad-mac': 'the handoff signature does not match',
  expired: 'the handoff from its authorization check has expired',
  'issued-in-future': 'the handoff from its authorization check is dated in the future',
  'request-id-mismatch': 'the handoff belongs to another request',
  'body-mismatch': 'this body is not the one the check approved',
};

/** The sentence a client reads when ext_proc refuses a stream: what happened, and that nothing was forwarded. */
export function handoffRefusalMessage(reason: HandoffFailure): string {
  return `The gateway could not confirm that its own authorization check approved this request (${WHY[reason]}); it was not forwarded. This is a gateway problem, not a policy decision.`;
}

/** True when `body` is exactly what Check judged (an empty body matches a handoff that saw none). */
export function bodyMatches(handoff: VerifiedHandoff, body: Uint8Array): boolean {
  if (handoff.bodyDigest === undefined) return body.length === 0;
  return bodyDigest(body) === handoff.bodyDigest;
}

function bodyDigest(body: Uint8Array): string {
  return hash('sha256', body, 'base64url');
}

function mac(key: Parameters<typeof createHmac>[1], fields: Readonly<Record<string, unknown>>): string {
  return createHmac('sha256', key).update(MAC_CONTEXT).update(canonical(fields)).digest('base64url');
}

/**
 * One text per value, whichever side builds it: object keys sorted, undefined members dropped, as a
 * google.protobuf.Struct round trip leaves them (numbers are doubles on the wire; JSON prints a double one way).
 * Sorting into a fresh object and letting JSON.stringify print it costs about half of printing key by key.
 */
export function canonical(value: unknown): string {
  return JSON.stringify(sorted(value));
}

function sorted(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      // NaN and ±Infinity print as null, on both sides alike.
      return value;
    case 'object': {
      if (value === null) return null;
      // The Struct encoder writes an undefined list element as the string "undefined"; sign what will arrive.
      if (Array.isArray(value)) return value.map((v: unknown) => (v === undefined ? 'undefined' : sorted(v)));
      const record = value as Record<string, unknown>;
      // No prototype: a key named __proto__ stays a key.
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const key of Object.keys(record).sort()) {
        const v = record[key];
        if (v !== undefined) out[key] = sorted(v);
      }
      return out;
    }
    default:
      // The Struct encoder writes anything else as its string form.
      return String(value);
  }
}

function fail(reason: HandoffFailure, detail: string): HandoffCheck {
  return { ok: false, reason, detail };
}
