// Routes one gateway call to its backend: resolve the exposed name, rewrite the body, set the routing headers.
import { BACKEND_HEADER } from '../fanout/egress.js';
import { resolveExposed, type NameRef } from '../../core/mcp/names.js';
import { readTarget, targetOf } from '../../core/mcp/canonical.js';
import type { McpCall } from '../../core/mcp/message.js';
import type { Session } from '../../core/session/types.js';
import type { Step } from './exchange.js';
import { AFFINITY_HEADER, type GatewayContext } from './gateway-context.js';
import { resolveResource, type Resolution } from './gateway-resources.js';

export type { Resolution } from './gateway-resources.js';
import { readingMessage } from '../../core/policy/reading.js';
import { REASONS } from '../../core/mcp/reply-table.js';
import { errorReply } from './replies.js';
import { MCP_SESSION_HEADER as SESSION_HEADER } from '../../core/mcp/message.js';
import { FORWARDED_CONTENT_TYPE } from '../../core/mcp/body.js';



/**
 * Which backend serves a call, and under which name; resources keep their URI (`resolveResource`: listed URIs, then
 * templates). The target is read exactly as the policy read it (mcp/canonical.ts): a completion reference by its
 * type, and only in canonical form, so the URI or name routed is the one that was judged. ext_authz has already refused a non-canonical target; one that
 * gets here anyway is refused again rather than routed.
 */
export function resolveCall(ctx: GatewayContext, call: McpCall): Resolution | undefined {
  const target = targetOf(call);
  if (target === undefined) return undefined;
  const reading = readTarget(target);
  if (!reading.ok) {
    const reason = target.kind === 'tool' || target.kind === 'prompt' ? 'name-not-canonical' : reading.invalid ? 'uri-invalid' : 'uri-not-canonical';
    // As ext_authz answers: a JSON-RPC error at 200 when there is an id to answer, the reason's status otherwise.
    const status = call.id === undefined ? REASONS[reason].http : 200;
    return { ok: false, step: errorReply(call.id, reason, readingMessage(target, reading), status) };
  }
  let ref: NameRef | undefined;
  if (target.kind === 'tool') ref = resolveExposed(target.text, ctx.naming, ctx.index.tools);
  else if (target.kind === 'prompt') ref = resolveExposed(target.text, ctx.naming, ctx.index.prompts);
  else {
    const resource = resolveResource(ctx, call, target.text);
    if (resource) return resource;
  }
  if (ref) return { ok: true, ref };
  const what = target.kind === 'tool' ? 'tool' : target.kind === 'prompt' ? 'prompt' : 'resource';
  const prefixes = [...ctx.naming.byPrefix.keys()].map((p) => `"${p}."`).join(', ');
  return {
    ok: false,
    step: errorReply(
      call.id,
      'target-unknown',
      `Unknown ${what} "${target.text}". This gateway serves the backends ${ctx.backends.join(', ')}` +
        (prefixes ? `; names start with one of ${prefixes}` : '') +
        '. Call the matching list method to see what is available.',
    ),
  };
}

/**
 * The rewritten request for one backend: original name in the body and in 2026's Mcp-Name header, and the
 * canonical Content-Type (the body was read as UTF-8 JSON; the backend must not pick another decoder).
 */
export function routeTo(ctx: GatewayContext, call: McpCall, ref: NameRef, session: Session | undefined, stateless: boolean): Step {
  const set: Record<string, string> = { [BACKEND_HEADER]: ref.backend, 'content-type': FORWARDED_CONTENT_TYPE };
  const remove: string[] = [];
  if (session) {
    const entry = session.backends.get(ref.backend);
    if (!entry) {
      return errorReply(call.id, 'backend-not-in-session', `Backend "${ref.backend}" is not part of this session (it failed to initialize). Start a new session with initialize.`);
    }
    if (entry.sessionId) set[SESSION_HEADER] = entry.sessionId;
    else remove.push(SESSION_HEADER);
    if (entry.protocolVersion) set['mcp-protocol-version'] = entry.protocolVersion;
    set[AFFINITY_HEADER] = session.tokenId;
  }
  const renamed = call.target !== undefined && call.target !== ref.name && call.method !== 'resources/read';
  if (stateless && renamed) set['mcp-name'] = ref.name;
  if (!renamed || call.json === undefined) return { kind: 'continue', set, remove, clearRouteCache: true };
  return { kind: 'continue', set, remove, clearRouteCache: true, body: renameInBody(call.json, call, ref.name) };
}

/** Serialises toolgate's one reading with the backend's name; the reading itself is left as it was. */
function renameInBody(message: Readonly<Record<string, unknown>>, call: McpCall, name: string): string {
  const params = call.params;
  const renamed = isPromptCompletion(call) ? { ...params, ref: { ...(params.ref as Record<string, unknown>), name } } : { ...params, name };
  return JSON.stringify({ ...message, params: renamed });
}

function isPromptCompletion(call: McpCall): boolean {
  return call.method === 'completion/complete' && (call.params.ref as { type?: string } | undefined)?.type === 'ref/prompt';
}
