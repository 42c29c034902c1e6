// Domain types of the client-facing session token: what one client session knows about each backend.

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/**
 * The encrypted `Mcp-Session-Id` toolgate hands to the client. Its own brand so it can never be
 * forwarded to a backend, or stored where a backend id belongs, by accident.
 */
export type ClientSessionToken = Brand<string, 'ClientSessionToken'>;

/** A backend MCP server's own `Mcp-Session-Id`, exactly as that backend sent it. */
export type BackendSessionId = Brand<string, 'BackendSessionId'>;

/** Random id of one client session; the key a revocation (DELETE) is stored under. */
export type TokenId = Brand<string, 'TokenId'>;

/**
 * Tags a raw client header value. No validation here on purpose: `openSession` is the validator
 * and reports a bad value as `malformed`, which the caller answers with 404.
 */
export function asClientSessionToken(headerValue: string): ClientSessionToken {
  return headerValue as ClientSessionToken;
}

// The MCP spec allows only visible ASCII (0x21-0x7E) in a session id.
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** A backend's `Mcp-Session-Id` header value, or undefined when it breaks the spec's character rule. */
export function toBackendSessionId(headerValue: string): BackendSessionId | undefined {
  return VISIBLE_ASCII.test(headerValue) ? (headerValue as BackendSessionId) : undefined;
}

/**
 * Server capabilities a backend announced in its `initialize` result, as a bitmask.
 * The bit positions are part of the token format: append new flags, never reorder or reuse.
 */
export const CAPABILITY_FLAGS = [
  'logging',
  'completions',
  'prompts',
  'prompts.listChanged',
  'resources',
  'resources.subscribe',
  'resources.listChanged',
  'tools',
  'tools.listChanged',
  'tasks',
  'tasks.list',
  'tasks.cancel',
  'tasks.requests.tools.call',
  'experimental',
] as const;

export type Capability = (typeof CAPABILITY_FLAGS)[number];

/** Bitmask over `CAPABILITY_FLAGS`; bits this build does not know are kept, so newer replicas lose nothing. */
export type CapabilitySet = Brand<number, 'CapabilitySet'>;

export const NO_CAPABILITIES = 0 as CapabilitySet;

export function capabilitySetOf(...capabilities: readonly Capability[]): CapabilitySet {
  let bits = 0;
  for (const cap of capabilities) bits |= 1 << CAPABILITY_FLAGS.indexOf(cap);
  return bits as CapabilitySet;
}

export function hasCapability(set: CapabilitySet, capability: Capability): boolean {
  return (set & (1 << CAPABILITY_FLAGS.indexOf(capability))) !== 0;
}

/**
 * Reads the `capabilities` object of an `initialize` result. A flag is set when the path exists
 * and is not `false`/`null`: `{tools: {}}` means "tools supported", `listChanged: true` the sub-flag.
 */
export function capabilitiesFromServer(capabilities: unknown): CapabilitySet {
  const found = CAPABILITY_FLAGS.filter((flag) => isPresent(capabilities, flag.split('.')));
  return capabilitySetOf(...found);
}

function isPresent(value: unknown, path: readonly string[]): boolean {
  let node = value;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== false && node !== null && node !== undefined;
}

/**
 * Client capabilities that let a server send the client requests, as bits (part of the token format: append only).
 * The gateway reads a routed call's event stream only for clients that have one (it may carry such requests).
 */
export const CLIENT_CAPABILITY_FLAGS = ['sampling', 'elicitation', 'roots'] as const;

export type ClientCapabilitySet = Brand<number, 'ClientCapabilitySet'>;

/** Reads the `capabilities` object of the client's `initialize` params, by the same presence rule as the server's. */
export function clientCapabilitiesOf(capabilities: unknown): ClientCapabilitySet {
  let bits = 0;
  CLIENT_CAPABILITY_FLAGS.forEach((flag, i) => {
    if (isPresent(capabilities, [flag])) bits |= 1 << i;
  });
  return bits as ClientCapabilitySet;
}

/** What the gateway remembers about one backend for one client session. */
export interface BackendEntry {
  /** Absent when the backend is stateless (it sent no `Mcp-Session-Id`). */
  readonly sessionId?: BackendSessionId | undefined;
  /** The protocol version the backend negotiated, e.g. `2025-06-18`. */
  readonly protocolVersion: string;
  readonly capabilities: CapabilitySet;
}

/** What the caller supplies to mint a new session. */
export interface SessionPayload {
  /** The `sub` of the identity the session is bound to; every open must present the same one. */
  readonly subject: string;
  /** Keyed by backend name from the config. A Map, so no name can collide with `Object.prototype`. */
  readonly backends: ReadonlyMap<string, BackendEntry>;
  /** What the client declared it accepts from servers (gateway mode); absent means none. */
  readonly clientCapabilities?: ClientCapabilitySet;
}

/** A session as carried inside a token. Times are epoch seconds, like JWT `iat`/`exp`. */
export interface Session extends SessionPayload {
  readonly tokenId: TokenId;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/**
 * Why a token was refused. Every one of them is answered with HTTP 404, which the MCP spec
 * defines as "session unknown, re-initialize"; the reason is only for logs and metrics.
 */
export type OpenFailureReason = 'malformed' | 'unknown-key' | 'tampered' | 'expired' | 'wrong-subject';

export type OpenResult =
  | { readonly ok: true; readonly session: Session }
  | { readonly ok: false; readonly reason: OpenFailureReason };

/** The HTTP status for every `OpenFailureReason` (see above). */
export const SESSION_FAILURE_HTTP_STATUS = 404;
