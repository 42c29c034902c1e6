// Session revocation at the router: every opened session is checked against the shared store; DELETE revokes.
import type { Logger } from 'pino';
import type { CompiledPolicy } from '../../core/policy/compile.js';
import type { Session } from '../../core/session/types.js';
import { attempt, type Store } from '../../ports/store/port.js';
import type { Deps } from '../../ports/deps.js';
import type { Step } from './exchange.js';
import { errorReply, sessionNotFound } from './replies.js';

export const STORE_UNREACHABLE_MESSAGE =
  'The session store is unreachable, so this session could not be checked and the request was not forwarded. Retry in a few seconds; if it keeps failing, the gateway operator must restore the store.';

/**
 * Undefined when the session may be used; otherwise the answer: 404 for a revoked session (the client
 * re-initializes), 503 when the store cannot answer and `policy.onStoreError.revocation` is `deny`.
 */
export async function refuseRevoked({ store, metrics }: Deps, policy: CompiledPolicy, session: Session, log: Logger, decisionId: string | undefined): Promise<Step | undefined> {
  const checked = await attempt(store.isRevoked(session.tokenId));
  if (checked.ok) {
    if (!checked.value) return undefined;
    log.info({ event: 'session.revoked-used', tokenId: session.tokenId, subject: session.subject, decisionId }, 'revoked session token refused');
    return sessionNotFound();
  }
  const onError = policy.onStoreError.revocation;
  metrics.countStoreError('revocation');
  log.warn({ event: 'session.revocation-unchecked', tokenId: session.tokenId, error: checked.detail, onStoreError: onError, decisionId }, 'cannot check session revocation');
  return onError === 'allow' ? undefined : errorReply(null, 'store-unavailable', STORE_UNREACHABLE_MESSAGE);
}

/** Revokes the session until it would have expired anyway; a store failure is logged, never thrown. */
export async function revokeSession(store: Store, session: Session, log: Logger): Promise<void> {
  const done = await attempt(store.revoke(session.tokenId, session.expiresAt));
  if (done.ok) log.info({ event: 'session.revoked', tokenId: session.tokenId, subject: session.subject, until: session.expiresAt }, 'session revoked');
  else log.error({ event: 'session.revoke-failed', tokenId: session.tokenId, error: done.detail }, 'session could not be revoked; the token stays usable until it expires');
}
