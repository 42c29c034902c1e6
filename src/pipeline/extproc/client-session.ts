// Opens the client-facing session token a request presents: sealed, bound to the caller, and not revoked.
import type { Logger } from 'pino';
import type { Runtime } from '../../core/runtime.js';
import { openSession } from '../../core/session/token.js';
import { asClientSessionToken, type Session } from '../../core/session/types.js';
import type { Deps } from '../../ports/deps.js';
import type { AuthzContext, HeaderChanges, Step } from './exchange.js';
import { sessionNotFound } from './replies.js';
import { refuseRevoked } from './revocation.js';
import { MCP_SESSION_HEADER as SESSION_HEADER } from '../../core/mcp/message.js';


export type Presented =
  | { readonly kind: 'none' }
  | { readonly kind: 'open'; readonly session: Session; readonly token: string }
  | { readonly kind: 'refused'; readonly step: Step };

/** Every failure is the spec's 404 (re-initialize), or the store's 503 when revocation cannot be checked. */
export async function presentedSession(
  runtime: Runtime,
  deps: Deps,
  headers: Readonly<Record<string, string>>,
  authz: AuthzContext & { readonly subject: string },
  log: Logger,
): Promise<Presented> {
  const presented = headers[SESSION_HEADER];
  if (presented === undefined) return { kind: 'none' };
  const opened = await openSession(runtime.sessions.keyring, asClientSessionToken(presented), { expectedSubject: authz.subject });
  if (!opened.ok) {
    deps.metrics.countSessionRejection(opened.reason);
    log.info({ event: 'session.rejected', reason: opened.reason, subject: authz.subject, decisionId: authz.decisionId }, 'session token refused');
    return { kind: 'refused', step: sessionNotFound() };
  }
  const refused = await refuseRevoked(deps, runtime.policy, opened.session, log, authz.decisionId);
  if (refused) return { kind: 'refused', step: refused };
  return { kind: 'open', session: opened.session, token: presented };
}

/**
 * MCP SDK servers send their session id on every response, not only on initialize, and clients adopt whatever
 * id a response carries: the client gets its own token back, or no header at all.
 */
export function maskSessionHeader(headers: Readonly<Record<string, string>>, clientToken: string | undefined): HeaderChanges | undefined {
  if (headers[SESSION_HEADER] === undefined) return undefined;
  return clientToken === undefined ? { remove: [SESSION_HEADER] } : { set: { [SESSION_HEADER]: clientToken } };
}
