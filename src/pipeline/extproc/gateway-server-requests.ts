// Gateway mode, server-to-client requests on a routed call's own SSE stream: ids that name their backend on the
// way to the client, and the client's reply routed back to that backend with that backend's session.
import { BACKEND_HEADER } from '../fanout/egress.js';
import { encodeCursor } from '../fanout/event-cursor.js';
import { MAX_HELD_EVENT_BYTES } from '../fanout/sse-frames.js';
import { createSseRewriter, type MessageRewrite, type SseRewriter } from '../fanout/sse-rewrite.js';
import { FORWARDED_CONTENT_TYPE } from '../../core/mcp/body.js';
import { MCP_SESSION_HEADER, type McpReply } from '../../core/mcp/message.js';
import type { Session } from '../../core/session/types.js';
import type { HeaderChanges, ModeOverride, Step } from './exchange.js';
import { AFFINITY_HEADER, type GatewayContext } from './gateway-context.js';
import { openReplyId, replyIdFor, toClientMessage } from './reply-ids.js';
import { errorReply } from './replies.js';
import { taskIdFor } from './task-ids.js';

/** Streams the SSE answer of a routed call through toolgate, chunk by chunk, never buffered whole. */
export const STREAM_RESPONSE: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'STREAMED' };

/**
 * A rewriter of server request ids for one backend of one client session. Event ids (backends with an event
 * store send them) name their backend too, so a client resuming the call's stream with a GET and Last-Event-ID
 * reaches that backend's stream through the gateway's event-stream server. `rewriteResponse`: the call's own response
 * is rewritten too (see createSseRewriter).
 */
export function serverRequestRewriter(ctx: GatewayContext, session: Session, backend: string, rewriteResponse?: MessageRewrite): SseRewriter {
  const keyring = ctx.runtime.sessions.keyring;
  return createSseRewriter(
    (message) => toClientMessage(message, (id) => replyIdFor(keyring, session.tokenId, backend, id), (id) => taskIdFor(keyring, session.tokenId, backend, id)),
    MAX_HELD_EVENT_BYTES,
    (id) => encodeCursor({ kind: 'request', ids: new Map([[backend, id]]) }),
    rewriteResponse,
  );
}

export interface ResponseWatch extends HeaderChanges {
  readonly mode: ModeOverride;
  readonly rewriter: SseRewriter;
}

/**
 * The response headers of a call routed to `backend`: an event stream may carry sampling, elicitation or roots
 * requests, so its body is streamed through the id rewriter. JSON answers carry only the call's own result.
 */
export function watchRoutedResponse(ctx: GatewayContext, session: Session | undefined, backend: string | undefined, headers: Readonly<Record<string, string>>): ResponseWatch | undefined {
  if (!session || backend === undefined || headers[':status'] !== '200') return undefined;
  if (!(headers['content-type'] ?? '').toLowerCase().startsWith('text/event-stream')) return undefined;
  // A rewritten event changes length; a fixed content-length would then be wrong.
  const remove = headers['content-length'] === undefined ? [] : ['content-length'];
  return { mode: STREAM_RESPONSE, remove, rewriter: serverRequestRewriter(ctx, session, backend) };
}

/** One streamed response chunk through the rewriter; the last one also releases whatever was held. */
export function rewriteChunk(rewriter: SseRewriter, chunk: Buffer, endOfStream: boolean): Buffer {
  const out = rewriter.push(chunk);
  if (!endOfStream) return out;
  const rest = rewriter.end();
  return rest.length === 0 ? out : Buffer.concat([out, rest]);
}

/**
 * The answer to one chunk of a call's event stream, and when toolgate's stream with Envoy ends. A long call must
 * not end it on an answer Envoy half-closes on (docs/envoy.md, fact 19: Envoy can crash when the stream outlived
 * its cached gRPC client): after the call's response has passed, the stream ends right after that answer, while
 * Envoy waits for nothing; a last chunk that needs no change is not answered at all, the stream just ends.
 */
export function streamedChunk(rewriter: SseRewriter, chunk: Buffer, endOfStream: boolean): Step {
  const out = rewriteChunk(rewriter, chunk, endOfStream);
  if (endOfStream) return out.equals(chunk) ? { kind: 'continue', endStream: 'instead' } : { kind: 'continue', chunk: out };
  if (rewriter.responseSeen() && !rewriter.holding()) return { kind: 'continue', chunk: out, endStream: 'after' };
  return { kind: 'continue', chunk: out };
}

const NOT_ISSUED =
  'The reply\'s id was not issued to this session by the gateway, so it answers no request a backend of this session sent; ' +
  'it was not forwarded. Reply with the id exactly as the request carried it, on the session that received it.';

/**
 * A POSTed JSON-RPC response (or error) from the client: forwarded only to the backend its id names, only when
 * the id's tag proves the gateway issued it to this very session, with that backend's own session id.
 */
export function routeReply(ctx: GatewayContext, session: Session | undefined, reply: McpReply): Step {
  if (!session) {
    return errorReply(null, 'session-id-missing', 'A reply to a server request needs the Mcp-Session-Id of the session that received the request.');
  }
  const opened = openReplyId(ctx.runtime.sessions.keyring, session.tokenId, reply.id);
  const entry = opened === undefined ? undefined : session.backends.get(opened.backend);
  if (!opened || !entry || !reply.json) return errorReply(null, 'reply-not-issued', NOT_ISSUED);
  // The canonical Content-Type, as on every forwarded body: the backend must read the bytes as toolgate did.
  const set: Record<string, string> = { [BACKEND_HEADER]: opened.backend, [AFFINITY_HEADER]: session.tokenId, 'content-type': FORWARDED_CONTENT_TYPE };
  const remove: string[] = [];
  if (entry.sessionId) set[MCP_SESSION_HEADER] = entry.sessionId;
  else remove.push(MCP_SESSION_HEADER);
  if (entry.protocolVersion) set['mcp-protocol-version'] = entry.protocolVersion;
  // toolgate's one reading of the body, serialised with the backend's own id; nothing else changes.
  return { kind: 'continue', set, remove, clearRouteCache: true, body: JSON.stringify({ ...reply.json, id: opened.id }) };
}
