// Gateway GET: the client's one event stream is served by toolgate's event-stream server, which Envoy routes to.
import type { Runtime } from '../../core/runtime.js';
import { isStatelessProtocol, MCP_PROTOCOL_HEADER } from '../../core/mcp/message.js';
import type { Session } from '../../core/session/types.js';
import type { ModeOverride, Step } from './exchange.js';
import { EVENTS_GRANT_HEADER, mintEventsGrant } from './events-grant.js';
import { errorReply } from './replies.js';

/** Nothing more for ext_proc to do: the stream's bytes come from toolgate itself and need no reading. */
const PASS_THROUGH: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SKIP', responseBody: 'NONE' };

function noStream(message: string): Step {
  return errorReply(null, 'http-method-not-allowed', message, 405, { allow: 'POST, DELETE' });
}

/**
 * The session token was opened (subject, expiry, revocation) by the caller. The grant lets the event-stream
 * server trust that without seeing ext_authz's verdict: it covers this token and subject, for a few seconds.
 */
export function eventStreamStep(runtime: Runtime, session: Session | undefined, token: string | undefined, subject: string, headers: Readonly<Record<string, string>>, remove: readonly string[]): Step {
  if (runtime.config.server.eventsPort === undefined) {
    return noStream('This gateway offers no GET event stream (server.eventsPort is not set); server messages arrive on POST responses.');
  }
  if (isStatelessProtocol(headers[MCP_PROTOCOL_HEADER])) return noStream('The stateless protocol has no GET event stream; server messages arrive on POST responses.');
  if (!session || token === undefined) return errorReply(null, 'session-id-missing', 'A GET event stream needs the Mcp-Session-Id that initialize returned.');
  return {
    kind: 'continue',
    set: { [EVENTS_GRANT_HEADER]: mintEventsGrant(runtime.sessions.keyring, token, subject) },
    remove: remove.filter((h) => h !== EVENTS_GRANT_HEADER),
    clearRouteCache: true,
    mode: PASS_THROUGH,
  };
}
