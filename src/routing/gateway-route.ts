// Routes one gateway call to its backend: resolve the exposed name, rewrite the body, set the routing headers.
import { BACKEND_HEADER } from '../fanout/egress.js';
import { resolveExposed, type NameRef } from '../fanout/names.js';
import { JsonRpcCode, type McpCall } from '../mcp/message.js';
import type { Session } from '../session/types.js';
import type { Step } from './exchange.js';
import { AFFINITY_HEADER, type GatewayContext } from './gateway-context.js';
import { resolveResource } from './gateway-resources.js';
import { errorReply } from './replies.js';
import { MCP_SESSION_HEADER as SESSION_HEADER } from '../mcp/message.js';


export type Resolution = { readonly ok: true; readonly ref: NameRef } | { readonly ok: false; readonly step: Step };

/** Which backend serves a call, and under which name; resources keep their URI (see `resolveResource`). */
export function resolveCall(ctx: GatewayContext, call: McpCall): Resolution | undefined {
  const target = call.target ?? completionTarget(call);
  if (target === undefined) return undefined;
  let ref: NameRef | undefined;
  if (call.method === 'tools/call') ref = resolveExposed(target, ctx.naming, ctx.index.tools);
  else if (call.method === 'prompts/get' || isPromptCompletion(call)) ref = resolveExposed(target, ctx.naming, ctx.index.prompts);
  else {
    const resource = resolveResource(ctx, call, target);
    if (resource) return resource;
  }
  if (ref) return { ok: true, ref };
  const what = call.method === 'tools/call' ? 'tool' : call.method === 'prompts/get' ? 'prompt' : 'resource';
  const prefixes = [...ctx.naming.byPrefix.keys()].map((p) => `"${p}."`).join(', ');
  return {
    ok: false,
    step: errorReply(
      call.id,
      JsonRpcCode.invalidParams,
      `Unknown ${what} "${target}". This gateway serves the backends ${ctx.backends.join(', ')}` +
        (prefixes ? `; names start with one of ${prefixes}` : '') +
        '. Call the matching list method to see what is available.',
    ),
  };
}

/** The rewritten request for one backend: original name in the body and in 2026's Mcp-Name header. */
export function routeTo(ctx: GatewayContext, call: McpCall, ref: NameRef, session: Session | undefined, stateless: boolean, rawBody: string | undefined): Step {
  const set: Record<string, string> = { [BACKEND_HEADER]: ref.backend };
  const remove: string[] = [];
  if (session) {
    const entry = session.backends.get(ref.backend);
    if (!entry) {
      return errorReply(call.id, -32001, `Backend "${ref.backend}" is not part of this session (it failed to initialize). Start a new session with initialize.`, 404);
    }
    if (entry.sessionId) set[SESSION_HEADER] = entry.sessionId;
    else remove.push(SESSION_HEADER);
    if (entry.protocolVersion) set['mcp-protocol-version'] = entry.protocolVersion;
    set[AFFINITY_HEADER] = session.tokenId;
  }
  const renamed = call.target !== undefined && call.target !== ref.name && call.method !== 'resources/read';
  if (stateless && renamed) set['mcp-name'] = ref.name;
  if (!renamed || rawBody === undefined) return { kind: 'continue', set, remove, clearRouteCache: true };
  return { kind: 'continue', set, remove, clearRouteCache: true, body: renameInBody(rawBody, call, ref.name) };
}

function renameInBody(raw: string, call: McpCall, name: string): string {
  const message = JSON.parse(raw) as { params: Record<string, unknown> };
  if (isPromptCompletion(call)) {
    message.params = { ...message.params, ref: { ...(message.params.ref as Record<string, unknown>), name } };
  } else {
    message.params = { ...message.params, name };
  }
  return JSON.stringify(message);
}

function completionTarget(call: McpCall): string | undefined {
  if (call.method !== 'completion/complete') return undefined;
  const ref = call.params.ref as { type?: string; name?: string; uri?: string } | undefined;
  return ref?.type === 'ref/prompt' ? ref.name : ref?.uri;
}

function isPromptCompletion(call: McpCall): boolean {
  return call.method === 'completion/complete' && (call.params.ref as { type?: string } | undefined)?.type === 'ref/prompt';
}
