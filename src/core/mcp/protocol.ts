// MCP protocol revisions: the one list toolgate knows, and the parse of an `MCP-Protocol-Version` header against it.

/** Every revision toolgate speaks, oldest first. A revision is a name, not a number: never compare them as strings. */
export const KNOWN_PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'] as const;

export type ProtocolVersion = (typeof KNOWN_PROTOCOL_VERSIONS)[number];

/** The revisions without sessions or initialize: each request carries `Mcp-Method`/`Mcp-Name` headers instead. */
export const STATELESS_VERSIONS: ReadonlySet<ProtocolVersion> = new Set<ProtocolVersion>(['2026-07-28']);

export type ParsedProtocol =
  /** No header: the spec's default (2025-03-26) for requests that do not say. */
  | { readonly kind: 'absent' }
  | { readonly kind: 'known'; readonly version: ProtocolVersion; readonly stateless: boolean }
  | { readonly kind: 'unknown'; readonly given: string };

const KNOWN: ReadonlySet<string> = new Set(KNOWN_PROTOCOL_VERSIONS);

/** `header` as Envoy hands it over (several values joined by commas): exactly one known revision, or unknown. */
export function parseProtocolVersion(header: string | undefined): ParsedProtocol {
  if (header === undefined) return { kind: 'absent' };
  const value = header.trim();
  if (!KNOWN.has(value)) return { kind: 'unknown', given: header };
  const version = value as ProtocolVersion;
  return { kind: 'known', version, stateless: STATELESS_VERSIONS.has(version) };
}

/** True when a backend's declared revisions include a stateless one; nothing declared is false. */
export function declaresStateless(declared: readonly string[] | undefined): boolean {
  return declared?.some((v) => STATELESS_VERSIONS.has(v as ProtocolVersion)) ?? false;
}

/** The sentence an unknown revision is refused with; it names what the client may send instead. */
export function unsupportedVersionMessage(given: string): string {
  const shown = given.length > 64 ? `${given.slice(0, 64)}…` : given;
  return `Unsupported MCP-Protocol-Version "${shown}". This endpoint supports ${KNOWN_PROTOCOL_VERSIONS.join(', ')}; `
    + 'send one of them (the one initialize negotiated, or 2026-07-28 without a session).';
}

/** The 2026-07-28 per-request `_meta` keys: the revision, the client's capabilities (both required) and its info. */
export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';
export const CLIENT_CAPABILITIES_META_KEY = 'io.modelcontextprotocol/clientCapabilities';
export const CLIENT_INFO_META_KEY = 'io.modelcontextprotocol/clientInfo';
/** Where a 2026-07-28 result names the server (there is no initialize result to carry `serverInfo`). */
export const SERVER_INFO_META_KEY = 'io.modelcontextprotocol/serverInfo';
const ENVELOPE_KEYS = [PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY] as const;

export type RequestEnvelope = Readonly<Record<string, unknown>>;

/**
 * The envelope of a 2026-07-28 request toolgate sends a backend itself (fan-out): the client's own keys when its
 * request carried them — the backend then sees the capabilities the client declared — and the revision with no
 * capabilities otherwise. A 2.x server refuses a 2026 request without both required keys.
 */
export function requestEnvelope(version: string, clientMeta: unknown): RequestEnvelope {
  const envelope: Record<string, unknown> = { [PROTOCOL_VERSION_META_KEY]: version, [CLIENT_CAPABILITIES_META_KEY]: {} };
  if (typeof clientMeta !== 'object' || clientMeta === null || Array.isArray(clientMeta)) return envelope;
  for (const key of ENVELOPE_KEYS) {
    const value = (clientMeta as Record<string, unknown>)[key];
    if (value !== undefined && key !== PROTOCOL_VERSION_META_KEY) envelope[key] = value;
  }
  return envelope;
}

/** The `=?base64?…?=` form a 2026 client gives an `Mcp-Name` (or `Mcp-Param-*`) value that is not plain visible ASCII. */
const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The value a 2026 header stands for: as is, unless it wears the sentinel, whose payload is standard Base64 of the
 * UTF-8 bytes (a name with non-ASCII letters, edge white space, or one that itself looks like the sentinel). The
 * spec makes intermediaries decode before comparing. Undefined when the payload is not canonical Base64 of valid
 * UTF-8: such a header names nothing, and never matches a body.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX)) || value.length < SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length) return value;
  const payload = value.slice(SENTINEL_PREFIX.length, value.length - SENTINEL_SUFFIX.length);
  if (!CANONICAL_BASE64.test(payload)) return undefined;
  const bytes = Buffer.from(payload, 'base64');
  // Canonical: re-encoding gives the same text (no stray bits in the padding).
  if (bytes.toString('base64') !== payload) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
