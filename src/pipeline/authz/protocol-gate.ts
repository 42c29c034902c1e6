// ext_authz's protocol gate, on every route: a known MCP-Protocol-Version, and no session on a revision without one.
import { MCP_PROTOCOL_HEADER, MCP_SESSION_HEADER, type McpMessage } from '../../core/mcp/message.js';
import { parseProtocolVersion, unsupportedVersionMessage } from '../../core/mcp/protocol.js';
import type { ReasonCode } from '../../core/mcp/reply-table.js';
import { refusalReply } from './http-reply.js';
import type { HttpReply } from './outcome.js';

export interface ProtocolRefusal {
  readonly reason: Extract<ReasonCode, 'unsupported-protocol-version' | 'session-on-stateless'>;
  readonly message: string;
  readonly reply: HttpReply;
}

/**
 * Runs before any policy. A 2026-07-28 request presenting a session is refused rather than opened: that revision has
 * no sessions, and on its header-only routes no ext_proc runs that could open one (so it would reach the backend raw).
 */
export function protocolRefusal(headers: Readonly<Record<string, string>>, message: McpMessage): ProtocolRefusal | undefined {
  const parsed = parseProtocolVersion(headers[MCP_PROTOCOL_HEADER]);
  if (parsed.kind === 'unknown') return refusal('unsupported-protocol-version', unsupportedVersionMessage(parsed.given), message);
  if (parsed.kind === 'known' && parsed.stateless && headers[MCP_SESSION_HEADER] !== undefined) {
    return refusal(
      'session-on-stateless',
      `MCP-Protocol-Version ${parsed.version} has no sessions: send the request without Mcp-Session-Id, `
        + 'or with the protocol version the session was initialized with.',
      message,
    );
  }
  return undefined;
}

function refusal(reason: ProtocolRefusal['reason'], text: string, message: McpMessage): ProtocolRefusal {
  const id = message.type === 'call' || message.type === 'invalid' ? message.id : undefined;
  return { reason, message: text, reply: refusalReply(id, reason, text) };
}
