// Which backend serves a resource URI in gateway mode, and which lists refresh the index when toolgate does not know.
import type { ListMethod } from '../fanout/pages.js';
import type { McpCall } from '../../core/mcp/message.js';
import type { GatewayContext } from './gateway-context.js';
import type { NameRef } from '../../core/mcp/names.js';
import type { Step } from './exchange.js';
import { errorReply } from './replies.js';

/** Where a call goes (a backend and the name it knows the target by), or the answer that refuses it. */
export type Resolution = { readonly ok: true; readonly ref: NameRef } | { readonly ok: false; readonly step: Step };

/**
 * An exact URI from the last `resources/list` wins; a completion's ref may name a template by its own text; then
 * the templates the URI expands. Matches in ONE backend route there. Matches in several backends are refused with
 * the candidates named: which backend serves the URI is a guess toolgate does not make (a read could reach a server
 * the agent never meant). Undefined: nothing matched (the caller refuses it as unknown).
 */
export function resolveResource(ctx: Pick<GatewayContext, 'index' | 'backends'>, call: McpCall, uri: string): Resolution | undefined {
  const to = (backend: string): Resolution => ({ ok: true, ref: { backend, name: uri } });
  const exact = ctx.index.resources.get(uri) ?? (call.method === 'completion/complete' ? ctx.index.templates.ownerOf(uri) : undefined);
  if (exact !== undefined) return to(exact);
  const matches = ctx.index.templates.matching(uri);
  const backends = [...new Set(matches.map((m) => m.backend))];
  if (backends.length === 1) return to(backends[0] as string);
  // With one backend there is nothing to tell apart: it serves whatever it serves.
  if (backends.length === 0) return ctx.backends.length === 1 ? to(ctx.backends[0] as string) : undefined;
  const candidates = matches.map((m) => `${m.backend}: "${m.template}"`).join('; ');
  return {
    ok: false,
    step: errorReply(
      call.id,
      'target-ambiguous',
      `The resource URI "${uri}" matches resource templates of several backends (${candidates}), so the gateway cannot tell ` +
        'which one serves it and sent it to none. Use a URI that only one backend\'s template or resource list names.',
    ),
  };
}

/** The lists whose merge feeds the index entry a call needs: a miss refreshes them once before refusing. */
export function listsFor(call: McpCall): ListMethod[] {
  if (call.method === 'tools/call') return ['tools/list'];
  if (call.method === 'prompts/get') return ['prompts/list'];
  if (call.method === 'completion/complete' && (call.params.ref as { type?: unknown } | undefined)?.type === 'ref/prompt') return ['prompts/list'];
  return ['resources/list', 'resources/templates/list'];
}
