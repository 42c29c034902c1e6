// The client-facing session token a request presents, as ext_proc answers it: opened (../session/presented.ts), or refused as a Step.
import type { Logger } from 'pino';
import type { Runtime } from '../../core/runtime.js';
import type { Session } from '../../core/session/types.js';
import type { Deps } from '../../ports/deps.js';
import { openPresented, type SessionNote } from '../session/presented.js';
import type { AuthzContext, HeaderChanges, Step } from './exchange.js';
import { errorReply } from './replies.js';
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
  const presented = await openPresented(runtime, deps, headers[SESSION_HEADER], authz.subject, authz.decisionId);
  switch (presented.kind) {
    case 'none':
      return presented;
    case 'open':
      if (presented.note) write(log, presented.note);
      return { kind: 'open', session: presented.session, token: presented.token };
    case 'refused': {
      const { refusal } = presented;
      write(log, refusal.note);
      return { kind: 'refused', step: errorReply(null, refusal.reason, refusal.message) };
    }
  }
}

export function write(log: Logger, note: SessionNote): void {
  log[note.level](note.fields, note.message);
}

/**
 * MCP SDK servers send their session id on every response, not only on initialize, and clients adopt whatever
 * id a response carries: the client gets its own token back, or no header at all.
 */
export function maskSessionHeader(headers: Readonly<Record<string, string>>, clientToken: string | undefined): HeaderChanges | undefined {
  if (headers[SESSION_HEADER] === undefined) return undefined;
  return clientToken === undefined ? { remove: [SESSION_HEADER] } : { set: { [SESSION_HEADER]: clientToken } };
}
