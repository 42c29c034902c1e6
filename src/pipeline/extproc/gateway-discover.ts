// `server/discover` (2026-07-28) in gateway mode: every backend is asked through Envoy's egress, the answers merged.
import type { Logger } from 'pino';
import { fanOut } from '../fanout/egress.js';
import { mergeDiscover } from '../fanout/merge.js';
import { STATELESS_PROTOCOL, type McpCall } from '../../core/mcp/message.js';
import { SERVER_INFO_META_KEY, STATELESS_VERSIONS } from '../../core/mcp/protocol.js';
import { withCacheHints } from '../../core/mcp/replies.js';
import type { Step } from './exchange.js';
import type { GatewayContext } from './gateway-context.js';
import { callOptions, GATEWAY_INFO } from './gateway-fanout.js';
import { errorReply, resultReply } from './replies.js';

/**
 * What the gateway offers a 2026 client: the stateless revisions all answering backends speak, the capabilities it
 * can route (see `mergeDiscover`), its own name in `_meta`. A backend that does not answer (or speaks only 2025) is
 * left out and logged; when none offers a revision the gateway can route, the client is told so and may fall back
 * to initialize.
 */
export async function discover(ctx: GatewayContext, call: McpCall, log: Logger): Promise<Step> {
  const results = await fanOut(ctx.backends, (b) =>
    ctx.egress.request(b, { method: 'server/discover', params: call.params, id: 'toolgate-discover' }, callOptions(ctx, b, undefined, STATELESS_PROTOCOL, call.params._meta)),
  );
  const answers = new Map<string, Record<string, unknown>>();
  for (const [b, res] of results.ok) {
    if ('error' in res.message) log.warn({ event: 'discover.backend-error', backend: b, error: res.message.error.message }, 'backend refused server/discover; left out');
    else answers.set(b, res.message.result);
  }
  for (const [b, f] of results.failed) log.warn({ event: 'discover.backend-failed', backend: b, error: f.error, detail: f.detail }, 'backend failed server/discover; left out');
  const merged = mergeDiscover(answers, GATEWAY_INFO, [...STATELESS_VERSIONS]);
  if (answers.size === 0 || merged.supportedVersions.length === 0) {
    return errorReply(
      call.id,
      'capability-not-offered',
      `No backend behind this gateway answered server/discover with a revision it can route (${ctx.backends.join(', ')}); use initialize (2025-11-25) instead.`,
    );
  }
  return resultReply(call.id, withCacheHints({ ...merged, _meta: { [SERVER_INFO_META_KEY]: { ...GATEWAY_INFO } } }, true));
}
