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
